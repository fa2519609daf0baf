package authserver

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
)

// GOTRUE_SAML_PRIVATE_KEY is checked with GoTrue's rules and messages.
func TestParseSAMLPrivateKey(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(testSAMLKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"not base64!", "not in standard Base64 format"},
		{base64.StdEncoding.EncodeToString(pkcs8), "not in PKCS#1 format"},
		{base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(small)), "must be at least RSA 2048"},
	} {
		if _, err := ParseSAMLPrivateKey(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSAMLPrivateKey: %v, want %q", err, c.want)
		}
	}
	good := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(testSAMLKey(t)))
	if k, err := ParseSAMLPrivateKey(good); err != nil || !k.Equal(testSAMLKey(t)) {
		t.Fatalf("a good key: %v", err)
	}
}

// The SP certificate is GoTrue's: made from the key and the external
// URL's host alone, so the same key gives the same certificate (what the
// IdP was given) in either runtime and across restarts.
func TestSAMLCertificateIsStable(t *testing.T) {
	mk := func() SAMLConfig {
		c, err := SAMLConfig{Enabled: true, PrivateKey: testSAMLKey(t), ExternalURL: "https://api.acme.test:8443/"}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(), mk()
	if !bytes.Equal(a.certificate.Raw, b.certificate.Raw) {
		t.Error("two configurations of one key made different certificates")
	}
	c := a.certificate
	if c.SerialNumber.Sign() != 0 || c.Subject.CommonName != "SAML 2.0 Certificate for api.acme.test" ||
		len(c.DNSNames) != 1 || c.DNSNames[0] != "_samlsp.api.acme.test" || c.NotBefore.Unix() != 0 {
		t.Errorf("certificate %v %q %v %v", c.SerialNumber, c.Subject.CommonName, c.DNSNames, c.NotBefore)
	}
	if got := a.acsURL.String(); got != "https://api.acme.test:8443/sso/saml/acs" {
		t.Errorf("ACS URL %s", got)
	}
	if _, err := (SAMLConfig{Enabled: true, ExternalURL: "https://x"}).withDefaults(); err == nil || !strings.Contains(err.Error(), "SAML.PrivateKey is required") {
		t.Errorf("no key: %v", err)
	}
	if _, err := (SAMLConfig{Enabled: true, PrivateKey: testSAMLKey(t), ExternalURL: "/relative"}).withDefaults(); err == nil || !strings.Contains(err.Error(), "not an absolute URL") {
		t.Errorf("relative URL: %v", err)
	}
}
