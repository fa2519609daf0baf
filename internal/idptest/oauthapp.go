package idptest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// oauthApp is what the GitHub and GitLab stand-ins keep for the one OAuth
// 2.0 application they serve: its client credentials, the user it signs
// in, the codes issued and not yet redeemed, and the access tokens issued.
// The providers differ only in paths, token formats and error bodies.
type oauthApp[U any] struct {
	clientID, secret string
	mu               sync.Mutex
	user             U
	codes            map[string]string // code -> redirect_uri
	tokens           map[string]bool
}

func (a *oauthApp[U]) init(clientID, secret string, u U) {
	a.clientID, a.secret, a.user = clientID, secret, u
	a.codes, a.tokens = map[string]string{}, map[string]bool{}
}

// setUser makes u the user signed in from now on.
func (a *oauthApp[U]) setUser(u U) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.user = u
}

// knownClient tells whether a token request carries the application's
// credentials. Call after ParseForm.
func (a *oauthApp[U]) knownClient(r *http.Request) bool {
	id, secret := clientCredentials(r)
	return id == a.clientID && secret == a.secret
}

// issueCode records a random authorization code (crypto/rand.Text) for the
// request's redirect_uri and sends the browser back there with it and the
// client's state, as OAuth 2.0 providers do (RFC 6749 §4.1.2). A
// redirect_uri that is not an absolute URL is answered 400.
func (a *oauthApp[U]) issueCode(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || target.Scheme == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	a.mu.Lock()
	a.codes[code] = q.Get("redirect_uri")
	a.mu.Unlock()
	back := target.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	target.RawQuery = back.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// redeemCode takes a code back, once: it returns the redirect_uri the code
// was issued for.
func (a *oauthApp[U]) redeemCode(code string) (redirectURI string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	redirectURI, ok = a.codes[code]
	delete(a.codes, code)
	return redirectURI, ok
}

// issueToken records and returns a new access token: prefix and a random
// text (crypto/rand.Text, 128 bits).
func (a *oauthApp[U]) issueToken(prefix string) string {
	token := prefix + rand.Text()
	a.mu.Lock()
	a.tokens[token] = true
	a.mu.Unlock()
	return token
}

// bearerUser returns the user when the request carries an access token
// the application issued; otherwise it answers 401 with the provider's
// JSON body denied.
func (a *oauthApp[U]) bearerUser(w http.ResponseWriter, r *http.Request, denied string) (U, bool) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.tokens[token] {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(denied))
		var none U
		return none, false
	}
	return a.user, true
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// parseForm parses a token request's form; a malformed one is answered
// 400.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
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
