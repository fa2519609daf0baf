package authserver

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sfp-dev/sfp/internal/logtest"
	"github.com/sfp-dev/sfp/internal/samltest"
)

// testSiteURL is where sign-ins return to; the browser stops there.
const testSiteURL = "http://localhost:3000"

var (
	samlKeyOnce sync.Once
	samlKey     *rsa.PrivateKey
)

// testSAMLKey is one SP key for the package (RSA generation is slow under
// -race).
func testSAMLKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	samlKeyOnce.Do(func() {
		b64, err := GenerateSAMLPrivateKey()
		if err != nil {
			panic(err)
		}
		if samlKey, err = ParseSAMLPrivateKey(b64); err != nil {
			panic(err)
		}
	})
	return samlKey
}

// newSAMLEnv is newEnv with SAML enabled: the server's external URL is its
// own /auth/v1 (so the ACS is reachable at base/sso/saml/acs), the rate
// limits are off (tests sign in many times from one address).
func newSAMLEnv(t testing.TB, configure ...func(*Config)) *env {
	t.Helper()
	return startEnv(t, func(cfg *Config, base string) {
		off := RateLimit{Disabled: true}
		cfg.RateLimitTokenPerIP, cfg.RateLimitSignupPerIP = off, off
		cfg.SAML = SAMLConfig{Enabled: true, PrivateKey: testSAMLKey(t), ExternalURL: base,
			RateLimitSSOPerIP: off, RateLimitAssertionPerIP: off}
	}, configure)
}

// samlSetup is an env with an IdP registered for acme.test and one IdP
// user, ada.
type samlSetup struct {
	*env
	idp        *samltest.IdP
	providerID string
	browser    *samltest.Browser
	logs       *logtest.Buffer
}

const (
	adaEmail    = "ada@acme.test"
	adaPassword = "correct horse"
)

func newSAMLSetup(t *testing.T, configure ...func(*Config)) *samlSetup {
	t.Helper()
	logs := &logtest.Buffer{}
	var w io.Writer = logs
	if os.Getenv("SFP_TEST_LOG") == "1" {
		w = io.MultiWriter(logs, os.Stderr)
	}
	withLog := func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(w, nil)) }
	e := newSAMLEnv(t, append([]func(*Config){withLog}, configure...)...)
	idp := samltest.StartIdP(t)
	idp.AddUser(t, samltest.User{Name: "ada", Password: adaPassword, Email: adaEmail,
		GivenName: "Ada", Surname: "Lovelace", Groups: []string{"staff", "admins"}})
	id := samltest.Register(t, idp, samltest.Provider{
		AuthURL: e.base, SPMetadataURL: e.base + "/sso/saml/metadata", ServiceKey: e.serviceKey,
		Domains: []string{"acme.test"},
		AttributeMapping: map[string]any{"keys": map[string]any{
			"name":       map[string]any{"name": "cn"},
			"groups":     map[string]any{"name": "eduPersonAffiliation", "array": true},
			"department": map[string]any{"name": "departmentNumber", "default": "engineering"},
		}},
	})
	return &samlSetup{env: e, idp: idp, providerID: id, browser: samltest.NewBrowser(testSiteURL), logs: logs}
}

// startSSO asks POST /sso for the IdP URL of a sign-in.
func (s *samlSetup) startSSO(body map[string]any) string {
	s.t.Helper()
	body["skip_http_redirect"] = true
	m := s.req("POST", "/sso", body, "apikey", s.anonKey).mustStatus(s.t, 200, "POST /sso").json(s.t)
	u, _ := m["url"].(string)
	if !strings.HasPrefix(u, s.idp.URL+"/sso?") {
		s.t.Fatalf("POST /sso url %q is not the IdP's SSO endpoint", u)
	}
	return u
}

// idpResponse signs ada in at the IdP for a sign-in started with body and
// returns the IdP's form for the ACS, not yet posted.
func (s *samlSetup) idpResponse(body map[string]any) *samltest.Form {
	s.t.Helper()
	f := s.loginAtIdP(s.t, s.startSSO(body), "ada")
	if !strings.HasSuffix(f.Action, "/auth/v1/sso/saml/acs") {
		s.t.Fatalf("the IdP posts to %s, not the ACS", f.Action)
	}
	return f
}

// loginAtIdP signs user (password adaPassword) in at the IdP page start and
// returns the IdP's form for the ACS, not yet posted.
func (s *samlSetup) loginAtIdP(t testing.TB, start, user string) *samltest.Form {
	t.Helper()
	f, err := s.browser.LoginAtIdP(context.Background(), start, user, adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// post submits a form to the ACS and returns where the server redirected.
func (s *samlSetup) post(f *samltest.Form) *url.URL {
	s.t.Helper()
	p, err := s.browser.Submit(context.Background(), f)
	if err != nil {
		s.t.Fatal(err)
	}
	if p.Redirect == nil {
		s.t.Fatalf("ACS answered %d without a redirect: %s", p.Status, p.Body)
	}
	return p.Redirect
}

// fragment is the URL fragment's values (the implicit flow's tokens).
func samlFragment(t testing.TB, u *url.URL) url.Values {
	t.Helper()
	v, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatalf("fragment of %s: %v", u, err)
	}
	return v
}

// wantACSError checks that the ACS sent the browser to the site URL with
// the error in the query, as GoTrue does.
func wantACSError(t testing.TB, u *url.URL, oauthError, code string) {
	t.Helper()
	q := u.Query()
	if !strings.HasPrefix(u.String(), testSiteURL) || q.Get("error") != oauthError || q.Get("error_code") != code || q.Get("error_description") == "" {
		t.Fatalf("ACS redirect %s, want %s with error=%s error_code=%s", u, testSiteURL, oauthError, code)
	}
	if u.Fragment != "" {
		t.Fatalf("refused sign-in carries a fragment: %s", u)
	}
}

// editResponse changes the XML of the SAMLResponse of a form.
func editResponse(t testing.TB, f *samltest.Form, edit func(string) string) *samltest.Form {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(f.Values.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(raw))
	if changed == string(raw) {
		t.Fatal("the edit did not change the response")
	}
	out := &samltest.Form{Action: f.Action, Values: url.Values{}}
	for k, v := range f.Values {
		out.Values[k] = append([]string(nil), v...)
	}
	out.Values.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(changed)))
	return out
}

// ssoUsers counts SSO users.
func (e *env) ssoUsers() int64 {
	e.t.Helper()
	return e.scalar(`select count(*) from auth.users where is_sso_user`).(int64)
}
