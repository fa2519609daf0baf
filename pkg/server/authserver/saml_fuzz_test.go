package authserver

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlsp"
)

// fuzzIdPMetadata is IdP metadata whose key no fuzzed input can sign with.
const fuzzIdPMetadata = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.fuzz/metadata">
<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.fuzz/sso"/>
</IDPSSODescriptor></EntityDescriptor>`

// FuzzSAMLResponse posts arbitrary SAMLResponse documents to the ACS's
// parsing: reading the issuer must not panic, and nothing may be accepted
// as an assertion (no input can carry a valid signature of the IdP).
func FuzzSAMLResponse(f *testing.F) {
	cfg, err := SAMLConfig{Enabled: true, PrivateKey: testSAMLKey(f), ExternalURL: "https://sp.fuzz"}.withDefaults()
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: Config{SAML: cfg}, samlReplay: newSAMLReplayCache(func() time.Time { return fuzzNow })}
	idp, err := samlsp.ParseMetadata([]byte(fuzzIdPMetadata))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0" IssueInstant="2030-03-17T17:46:40Z" Destination="https://sp.fuzz/sso/saml/acs"><saml:Issuer>https://idp.fuzz/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="a1" Version="2.0" IssueInstant="2030-03-17T17:46:40Z"><saml:Issuer>https://idp.fuzz/metadata</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">eve@acme.test</saml:NameID></saml:Subject><saml:Conditions><saml:AudienceRestriction><saml:Audience>https://sp.fuzz/sso/saml/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions></saml:Assertion></samlp:Response>`)
	f.Add(`<Response><Issuer/></Response>`)
	f.Add(`<!DOCTYPE x [<!ENTITY a "aaaa">]><Response>&a;</Response>`)
	f.Add("")
	f.Fuzz(func(t *testing.T, doc string) {
		b64 := base64.StdEncoding.EncodeToString([]byte(doc))
		_, _ = peekIssuer(b64)
		form := url.Values{"SAMLResponse": {b64}}
		req, err := http.NewRequest(http.MethodPost, "https://sp.fuzz/sso/saml/acs", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := req.ParseForm(); err != nil {
			t.Fatal(err)
		}
		if a, err := s.serviceProvider(idp, true, fuzzNow).ParseResponse(req, nil); err == nil {
			t.Fatalf("accepted an unsigned response as assertion %+v", a)
		}
	})
}
