package idptest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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

	clientID, secret string
	mu               sync.Mutex
	user             GitLabUser
	codes            map[string]string
	tokens           map[string]bool
}

// NewGitLab starts the stand-in for one OAuth application.
func NewGitLab(t testing.TB, clientID, secret string, u GitLabUser) *GitLab {
	t.Helper()
	g := &GitLab{clientID: clientID, secret: secret, user: u, codes: map[string]string{}, tokens: map[string]bool{}}
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
	target, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != g.clientID || q.Get("response_type") != "code" || err != nil || target.Scheme == "" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	code := randomHex(16)
	g.mu.Lock()
	g.codes[code] = q.Get("redirect_uri")
	g.mu.Unlock()
	redirectWithCode(w, r, target, code, q.Get("state"))
}

// token answers RFC 6749 JSON, errors with status 400/401.
func (g *GitLab) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret := clientCredentials(r)
	w.Header().Set("Content-Type", "application/json")
	if id != g.clientID || secret != g.secret {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Client authentication failed."}`))
		return
	}
	code := r.Form.Get("code")
	g.mu.Lock()
	redirect, ok := g.codes[code]
	delete(g.codes, code)
	g.mu.Unlock()
	if !ok || r.Form.Get("grant_type") != "authorization_code" || r.Form.Get("redirect_uri") != redirect {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"The provided authorization grant is invalid."}`))
		return
	}
	token := "glpat-" + randomHex(16)
	g.mu.Lock()
	g.tokens[token] = true
	g.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 7200,
		"refresh_token": "glrt-" + randomHex(16), "scope": "read_user"})
}

func (g *GitLab) bearerUser(w http.ResponseWriter, r *http.Request) (GitLabUser, bool) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.tokens[token] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"401 Unauthorized"}`))
		return GitLabUser{}, false
	}
	return g.user, true
}

func (g *GitLab) getUser(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearerUser(w, r)
	if !ok {
		return
	}
	body := map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "avatar_url": "https://gitlab.example/avatar.png"}
	if u.ConfirmedAt != "" {
		body["confirmed_at"] = u.ConfirmedAt
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (g *GitLab) getEmails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.bearerUser(w, r)
	if !ok {
		return
	}
	list := []map[string]any{}
	for i, e := range u.Emails {
		list = append(list, map[string]any{"id": i + 1, "email": e})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
