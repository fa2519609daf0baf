package idptest

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
)

// GitLabUser is who the GitLab stand-in signs in.
type GitLabUser struct {
	ID          int
	Name        string
	Email       string // the primary address
	ConfirmedAt string // "" when the primary address is not confirmed
	// Emails are the secondary addresses (GET /api/v4/user/emails).
	Emails []string
}

// GitLab serves GitLab's OAuth 2 provider and user API as GitLab documents
// them: GET /oauth/authorize, POST /oauth/token, GET /api/v4/user and
// GET /api/v4/user/emails.
type GitLab struct {
	// URL is what GOTRUE_EXTERNAL_GITLAB_URL is set to for it.
	URL    string
	Server *httptest.Server

	app oauthApp[GitLabUser]
}

// NewGitLab starts the stand-in for one OAuth application.
func NewGitLab(t testing.TB, clientID, secret string, u GitLabUser) *GitLab {
	t.Helper()
	g := &GitLab{}
	g.app.init(clientID, secret, u)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", g.authorize)
	mux.HandleFunc("POST /oauth/token", g.token)
	mux.HandleFunc("GET /api/v4/user", g.getUser)
	mux.HandleFunc("GET /api/v4/user/emails", g.getEmails)
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Server.Close)
	g.URL = g.Server.URL
	return g
}

func (g *GitLab) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != g.app.clientID || q.Get("response_type") != "code" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	g.app.issueCode(w, r)
}

// token answers RFC 6749 JSON, errors with status 400/401.
func (g *GitLab) token(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if !g.app.knownClient(r) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Client authentication failed."}`))
		return
	}
	redirect, ok := g.app.redeemCode(r.Form.Get("code"))
	if !ok || r.Form.Get("grant_type") != "authorization_code" || r.Form.Get("redirect_uri") != redirect {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"The provided authorization grant is invalid."}`))
		return
	}
	writeJSON(w, map[string]any{"access_token": g.app.issueToken("glpat-"), "token_type": "Bearer", "expires_in": 7200,
		"refresh_token": "glrt-" + rand.Text(), "scope": "read_user"})
}

const gitlabDenied = `{"message":"401 Unauthorized"}`

func (g *GitLab) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := g.app.bearerUser(w, r, gitlabDenied)
	if !ok {
		return
	}
	body := map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "avatar_url": "https://gitlab.example/avatar.png"}
	if u.ConfirmedAt != "" {
		body["confirmed_at"] = u.ConfirmedAt
	}
	writeJSON(w, body)
}

func (g *GitLab) getEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.app.bearerUser(w, r, gitlabDenied)
	if !ok {
		return
	}
	list := []map[string]any{}
	for i, e := range u.Emails {
		list = append(list, map[string]any{"id": i + 1, "email": e})
	}
	writeJSON(w, list)
}
