package authserver

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sfp-dev/sfp/internal/idptest"
)

// Test OAuth apps: the ids and secrets the providers know the auth server by.
const (
	testClientID     = "sfp-auth"
	testClientSecret = "s3cret-of-the-app"
	otherClientID    = "another-app"
	directRedirect   = "http://127.0.0.1:1/direct" // never served: the test stops at it
)

// providers are the identity providers of one test.
type providers struct {
	github   *idptest.GitHub
	keycloak *idptest.OIDC
	azure    *idptest.OIDC
	google   *idptest.OIDC
}

var ada = idptest.User{ID: "ada-sub-1", Username: "ada", FirstName: "Ada", LastName: "Lovelace", Email: "Ada@Example.com", EmailVerified: true}

var adaGitHub = idptest.GitHubUser{ID: 4242, Login: "ada", Name: "Ada Lovelace", AvatarURL: "https://avatars.example/ada",
	Emails: []idptest.GitHubEmail{{Email: "ada.alt@example.com", Verified: true}, {Email: "Ada@Example.com", Primary: true, Verified: true}}}

// newOAuthEnv starts an auth server with the five providers enabled, each
// a real provider in this process.
func newOAuthEnv(t *testing.T, configure ...func(*Config)) (*env, *providers) {
	t.Helper()
	e := newEnv(t, configure...)
	callback := e.base + "/callback"
	clients := []idptest.Client{
		{ID: testClientID, Secret: testClientSecret, RedirectURI: callback},
		{ID: otherClientID, Secret: testClientSecret, RedirectURI: directRedirect},
	}
	p := &providers{
		github:   idptest.NewGitHub(t, testClientID, testClientSecret, adaGitHub),
		keycloak: idptest.NewOIDC(t, idptest.Keycloak, ada, append(clients, idptest.Client{ID: "direct", Secret: testClientSecret, RedirectURI: directRedirect})...),
		azure:    idptest.NewOIDC(t, idptest.Azure, ada, append(clients, idptest.Client{ID: "direct", Secret: testClientSecret, RedirectURI: directRedirect})...),
		google:   idptest.NewOIDC(t, idptest.Google, ada, append(clients, idptest.Client{ID: "direct", Secret: testClientSecret, RedirectURI: directRedirect})...),
	}
	prov := func(url, issuer string) ExternalProvider {
		return ExternalProvider{Enabled: true, ClientID: []string{testClientID, "direct"}, Secret: testClientSecret,
			RedirectURI: callback, URL: url, Issuer: issuer}
	}
	ext := e.srv.external.Load().ExternalConfig
	ext.Providers = map[string]ExternalProvider{
		"github":   prov(p.github.URL, ""),
		"keycloak": prov(p.keycloak.URL, ""),
		"azure":    prov(p.azure.URL, ""),
		"google":   prov("", p.google.Issuer),
	}
	if err := e.srv.SetExternal(ext); err != nil {
		t.Fatalf("set providers: %v", err)
	}
	return e, p
}

// browser follows redirects as a browser would, with cookies, and stops
// at the first URL that starts with stop (the app), which it returns with
// every URL it visited.
func browser(t *testing.T, start, stop string) (*url.URL, []string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := start
	var visited []string
	for range 20 {
		if strings.HasPrefix(next, stop) {
			u, err := url.Parse(next)
			if err != nil {
				t.Fatal(err)
			}
			return u, visited
		}
		visited = append(visited, next)
		resp, err := c.Get(next)
		if err != nil {
			t.Fatalf("GET %s: %v", next, err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: %d without a redirect (visited %v)", next, resp.StatusCode, visited)
		}
		next = loc.String()
	}
	t.Fatalf("too many redirects from %s: %v", start, visited)
	return nil, nil
}

// pkcePair makes a code verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// fragment parses a URL's fragment as a query.
func fragment(t *testing.T, u *url.URL) url.Values {
	t.Helper()
	v, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatalf("fragment of %s: %v", u, err)
	}
	return v
}

// idToken signs the active user in at an OpenID provider as clientID and
// returns the ID token it issues (nonce: see idptest.OIDC.IDToken).
func idToken(t *testing.T, o *idptest.OIDC, clientID, nonce string) string {
	t.Helper()
	return o.IDToken(t, clientID, testClientSecret, directRedirect, nonce)
}

// count runs a count(*) query.
func (e *env) count(sql string, args ...any) int64 {
	e.t.Helper()
	return e.scalar(sql, args...).(int64)
}

// idptestUnverified is Ada on GitHub with an address GitHub has not verified.
func idptestUnverified() idptest.GitHubUser {
	u := adaGitHub
	u.Emails = []idptest.GitHubEmail{{Email: "ada@example.com", Primary: true, Verified: false}}
	return u
}
