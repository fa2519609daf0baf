package idptest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// GitHubEmail is an address of the GitHub user (GET /user/emails).
type GitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// GitHubUser is who the GitHub stand-in signs in.
type GitHubUser struct {
	ID        int
	Login     string
	Name      string
	AvatarURL string
	Emails    []GitHubEmail
}

// GitHub serves the endpoints of a GitHub OAuth app as GitHub documents
// them ("Authorizing OAuth apps", "Users", "Emails"), at the root
// (github.com's layout) and under /api/v3 (GitHub Enterprise Server's,
// which GoTrue uses when a URL is configured):
// GET /login/oauth/authorize, POST /login/oauth/access_token,
// GET /user and GET /user/emails with the access token.
type GitHub struct {
	// URL is what GOTRUE_EXTERNAL_GITHUB_URL is set to for it.
	URL    string
	Server *httptest.Server

	app        oauthApp[GitHubUser]
	authorized []url.Values // guarded by app.mu
}

// Authorized returns the authorization requests received so far (their
// query parameters), oldest first.
func (g *GitHub) Authorized() []url.Values {
	g.app.mu.Lock()
	defer g.app.mu.Unlock()
	return append([]url.Values(nil), g.authorized...)
}

// NewGitHub starts the stand-in for one OAuth app.
func NewGitHub(t testing.TB, clientID, secret string, u GitHubUser) *GitHub {
	t.Helper()
	g := &GitHub{}
	g.app.init(clientID, secret, u)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	for _, api := range []string{"", "/api/v3"} {
		mux.HandleFunc("GET "+api+"/user", g.getUser)
		mux.HandleFunc("GET "+api+"/user/emails", g.getEmails)
	}
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Server.Close)
	g.URL = g.Server.URL
	return g
}

// SetUser makes u the user signed in from now on.
func (g *GitHub) SetUser(u GitHubUser) { g.app.setUser(u) }

// authorize signs the user in at once and redirects back with a code and
// the state, as GitHub does after the user approves the app.
func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.app.mu.Lock()
	g.authorized = append(g.authorized, q)
	g.app.mu.Unlock()
	if q.Get("client_id") != g.app.clientID {
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	}
	g.app.issueCode(w, r)
}

// accessToken exchanges a code once; errors are GitHub's: status 200 with
// an error field, in JSON when asked for, else form-encoded.
func (g *GitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	reply := func(v url.Values) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			m := map[string]string{}
			for k := range v {
				m[k] = v.Get(k)
			}
			writeJSON(w, m)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(v.Encode()))
	}
	if !g.app.knownClient(r) {
		reply(url.Values{"error": {"incorrect_client_credentials"}, "error_description": {"The client_id and/or client_secret passed are incorrect."}})
		return
	}
	redirect, ok := g.app.redeemCode(r.Form.Get("code"))
	if !ok || (r.Form.Get("redirect_uri") != "" && r.Form.Get("redirect_uri") != redirect) {
		reply(url.Values{"error": {"bad_verification_code"}, "error_description": {"The code passed is incorrect or expired."}})
		return
	}
	token := g.app.issueToken("gho_")
	reply(url.Values{"access_token": {token}, "scope": {"user:email"}, "token_type": {"bearer"}})
}

const githubDenied = `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`

func (g *GitHub) getUser(w http.ResponseWriter, r *http.Request) {
	if u, ok := g.app.bearerUser(w, r, githubDenied); ok {
		writeJSON(w, map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "avatar_url": u.AvatarURL, "email": nil})
	}
}

func (g *GitHub) getEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.app.bearerUser(w, r, githubDenied)
	if !ok {
		return
	}
	emails := u.Emails
	if emails == nil {
		emails = []GitHubEmail{}
	}
	writeJSON(w, emails)
}
