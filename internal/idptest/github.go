package idptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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

	clientID, secret string
	mu               sync.Mutex
	user             GitHubUser
	codes            map[string]string // code -> redirect_uri
	tokens           map[string]bool
	authorized       []url.Values
}

// Authorized returns the authorization requests received so far (their
// query parameters), oldest first.
func (g *GitHub) Authorized() []url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]url.Values(nil), g.authorized...)
}

// NewGitHub starts the stand-in for one OAuth app.
func NewGitHub(t testing.TB, clientID, secret string, u GitHubUser) *GitHub {
	t.Helper()
	g := &GitHub{clientID: clientID, secret: secret, user: u, codes: map[string]string{}, tokens: map[string]bool{}}
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
func (g *GitHub) SetUser(u GitHubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.user = u
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// authorize signs the user in at once and redirects back with a code and
// the state, as GitHub does after the user approves the app.
func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	g.authorized = append(g.authorized, q)
	g.mu.Unlock()
	if q.Get("client_id") != g.clientID {
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	}
	target, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || target.Scheme == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := randomHex(10)
	g.mu.Lock()
	g.codes[code] = q.Get("redirect_uri")
	g.mu.Unlock()
	redirectWithCode(w, r, target, code, q.Get("state"))
}

// accessToken exchanges a code once; errors are GitHub's: status 200 with
// an error field.
func (g *GitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret := clientCredentials(r)
	reply := func(v url.Values) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			m := map[string]string{}
			for k := range v {
				m[k] = v.Get(k)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(m)
			return
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(v.Encode()))
	}
	if id != g.clientID || secret != g.secret {
		reply(url.Values{"error": {"incorrect_client_credentials"}, "error_description": {"The client_id and/or client_secret passed are incorrect."}})
		return
	}
	code := r.Form.Get("code")
	g.mu.Lock()
	redirect, ok := g.codes[code]
	delete(g.codes, code)
	g.mu.Unlock()
	if !ok || (r.Form.Get("redirect_uri") != "" && r.Form.Get("redirect_uri") != redirect) {
		reply(url.Values{"error": {"bad_verification_code"}, "error_description": {"The code passed is incorrect or expired."}})
		return
	}
	token := "gho_" + randomHex(18)
	g.mu.Lock()
	g.tokens[token] = true
	g.mu.Unlock()
	reply(url.Values{"access_token": {token}, "scope": {"user:email"}, "token_type": {"bearer"}})
}

func (g *GitHub) bearerUser(w http.ResponseWriter, r *http.Request) (GitHubUser, bool) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.tokens[token] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return GitHubUser{}, false
	}
	return g.user, true
}

func (g *GitHub) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearerUser(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "avatar_url": u.AvatarURL, "email": nil})
}

func (g *GitHub) getEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearerUser(w, r)
	if !ok {
		return
	}
	emails := u.Emails
	if emails == nil {
		emails = []GitHubEmail{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(emails)
}

// redirectWithCode sends the browser back to the client's redirect_uri
// with the authorization code and the client's state, as OAuth 2.0
// providers do (RFC 6749 §4.1.2).
func redirectWithCode(w http.ResponseWriter, r *http.Request, target *url.URL, code, state string) {
	back := target.Query()
	back.Set("code", code)
	back.Set("state", state)
	target.RawQuery = back.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// clientCredentials are the client id and secret of a token request: HTTP
// Basic authentication, else the form (RFC 6749 §2.3.1). Call after
// ParseForm.
func clientCredentials(r *http.Request) (id, secret string) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	return id, secret
}
