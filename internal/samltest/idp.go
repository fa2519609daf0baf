// Package samltest runs a real SAML identity provider — crewjam/saml's
// samlidp — on a loopback port in the test process, and a small browser
// that goes through its login form the way a person's browser would, for
// tests of SAML single sign-on against the embedded auth server or a whole
// tenant:
//
//	idp := samltest.StartIdP(t)
//	idp.AddUser(t, samltest.User{Name: "ada", Password: "pw", Email: "ada@acme.test"})
//	providerID := samltest.Register(t, stack.URL, stack.ServiceKey, idp, "acme.test")
//	final, err := samltest.NewBrowser(siteURL).SignIn(ctx, ssoURL, "ada", "pw")
//
// The IdP's administrative endpoints (users, services, shortcuts) are used
// over HTTP, as an operator would use them.
package samltest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
)

// IdP is a running samlidp server.
type IdP struct {
	// Server is the samlidp server; tests may change Server.IDP (its key,
	// certificate, clock) to make it misbehave.
	Server *samlidp.Server
	// URL is its base URL (metadata at URL/metadata, SSO at URL/sso).
	URL  string
	http *httptest.Server
}

// User is a user of the IdP.
type User struct {
	Name      string
	Password  string
	Email     string
	GivenName string
	Surname   string
	Groups    []string
}

// StartIdP starts an IdP with a fresh RSA key on a loopback port; it stops
// when the test ends.
func StartIdP(t testing.TB) *IdP {
	t.Helper()
	key, cert := NewKeyPair(t, "samltest IdP")
	hs := httptest.NewUnstartedServer(nil)
	base, err := url.Parse("http://" + hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := samlidp.New(samlidp.Options{
		URL:         *base,
		Key:         key,
		Certificate: cert,
		Store:       &samlidp.MemoryStore{},
		// samlidp logs every login to stdout otherwise.
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("start samlidp: %v", err)
	}
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	return &IdP{Server: srv, URL: base.String(), http: hs}
}

// NewKeyPair makes an RSA key and a self-signed certificate for it.
func NewKeyPair(t testing.TB, name string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-24 * time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// EntityID is the IdP's entity ID (its metadata URL).
func (i *IdP) EntityID() string { return i.URL + "/metadata" }

// AddUser adds or replaces a user.
func (i *IdP) AddUser(t testing.TB, u User) {
	t.Helper()
	body := map[string]any{"email": u.Email, "password": u.Password, "given_name": u.GivenName,
		"surname": u.Surname, "groups": u.Groups, "common_name": strings.TrimSpace(u.GivenName + " " + u.Surname)}
	i.admin(t, http.MethodPut, "/users/"+url.PathEscape(u.Name), "application/json", mustJSON(t, body))
}

// MetadataXML is the IdP's metadata, as an SP is set up with.
func (i *IdP) MetadataXML(t testing.TB) string {
	t.Helper()
	return string(i.admin(t, http.MethodGet, "/metadata", "", nil))
}

// TrustSP registers a service provider from its metadata under name.
func (i *IdP) TrustSP(t testing.TB, name string, metadata []byte) {
	t.Helper()
	i.admin(t, http.MethodPut, "/services/"+url.PathEscape(name), "application/xml", metadata)
}

// AddShortcut makes /login/<name> start an IdP-initiated sign-in at the SP
// whose entity ID is spEntityID.
func (i *IdP) AddShortcut(t testing.TB, name, spEntityID string) {
	t.Helper()
	i.admin(t, http.MethodPut, "/shortcuts/"+url.PathEscape(name), "application/json",
		mustJSON(t, map[string]any{"name": name, "service_provider": spEntityID}))
}

// ReplaceSigningKey gives the IdP a new key and certificate that the SPs it
// was registered with do not know: its responses then carry a signature
// that does not verify against the registered metadata.
func (i *IdP) ReplaceSigningKey(t testing.TB) {
	t.Helper()
	key, cert := NewKeyPair(t, "samltest impostor")
	i.Server.IDP.Key, i.Server.IDP.Certificate = key, cert
}

// EndSessionsAt makes the IdP say in its assertions that the sign-in's
// session ends at t (SessionNotOnOrAfter), as IdPs with a session lifetime
// do.
func (i *IdP) EndSessionsAt(t time.Time) {
	i.Server.IDP.AssertionMaker = sessionEnd{at: t}
}

// sessionEnd is the default assertion with SessionNotOnOrAfter set.
type sessionEnd struct{ at time.Time }

func (e sessionEnd) MakeAssertion(req *saml.IdpAuthnRequest, session *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	for i := range req.Assertion.AuthnStatements {
		at := e.at
		req.Assertion.AuthnStatements[i].SessionNotOnOrAfter = &at
	}
	return nil
}

// SetClock makes the IdP date its assertions at the given time.
func (i *IdP) SetClock(at time.Time) { i.Server.IDP.Clock = dsig.NewFakeClockAt(at) }

func (i *IdP) admin(t testing.TB, method, path, contentType string, body []byte) []byte {
	t.Helper()
	req, err := http.NewRequest(method, i.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s at the IdP: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s at the IdP: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
