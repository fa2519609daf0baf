package authserver

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/samltest"
)

var samlSignaturePattern = regexp.MustCompile(`(?s)<ds:Signature\b.*?</ds:Signature>`)

// Responses the ACS must refuse. Each is answered as GoTrue answers it (a
// redirect to the site URL with error, error_code and error_description),
// creates no user and no session, and is logged.
func TestSAMLRefusals(t *testing.T) {
	spStarted := map[string]any{"domain": "acme.test"}
	cases := []struct {
		name      string
		configure func(*Config)
		// response makes what the browser posts to the ACS.
		response   func(t *testing.T, s *samlSetup) *samltest.Form
		oauthError string
		code       string
		// cause is in the logged refusal: the check that failed.
		cause string
	}{
		{
			name: "tampered response (email changed after signing)",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				return editResponse(t, s.idpResponse(spStarted), func(x string) string {
					return strings.ReplaceAll(x, adaEmail, "eve@acme.test")
				})
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "Signature could not be verified",
		},
		{
			name: "unsigned response (signatures removed)",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				return editResponse(t, s.idpResponse(spStarted), func(x string) string {
					return samlSignaturePattern.ReplaceAllString(x, "")
				})
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "signature element not present",
		},
		{
			name: "signed with a key the metadata does not have",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				s.idp.ReplaceSigningKey(t)
				return s.idpResponse(spStarted)
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "Could not verify certificate against trusted certs",
		},
		{
			name:      "expired assertion",
			configure: func(c *Config) { c.SAML.RelayStateValidity = time.Hour },
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				f := s.idpResponse(spStarted)
				s.clock.Advance(10 * time.Minute) // the IdP made it valid for 90 seconds
				return f
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "expired",
		},
		{
			name: "relay state expired",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				f := s.idpResponse(spStarted)
				s.clock.Advance(DefaultSAMLRelayStateValidity)
				return f
			},
			oauthError: "server_error", code: CodeSAMLRelayStateExpired, cause: "SAML RelayState has expired",
		},
		{
			name: "relay state unknown",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				f := s.idpResponse(spStarted)
				f.Values.Set("RelayState", newUUID())
				return f
			},
			oauthError: "server_error", code: CodeSAMLRelayStateNotFound, cause: "SAML RelayState does not exist",
		},
		{
			name: "relay state neither a UUID nor a URL",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				f := s.idpResponse(spStarted)
				f.Values.Set("RelayState", "not a url")
				return f
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "not a valid UUID or URL",
		},
		{
			name: "wrong audience (IdP-initiated for another service provider)",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				other := "https://other.example/sso/saml/metadata"
				md := s.req("GET", "/sso/saml/metadata", nil).body
				s.idp.TrustSP(t, "other", []byte(strings.Replace(string(md), s.base+"/sso/saml/metadata", other, 1)))
				s.idp.AddShortcut(t, "other", other)
				return samlIdPInitiated(t, s, "other")
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "AudienceRestriction does not contain",
		},
		{
			name: "IdP not registered",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				stranger := samltest.StartIdP(t)
				stranger.AddUser(t, samltest.User{Name: "ada", Password: adaPassword, Email: adaEmail})
				stranger.TrustSP(t, "sp", s.req("GET", "/sso/saml/metadata", nil).body)
				stranger.AddShortcut(t, "sp", s.base+"/sso/saml/metadata")
				return s.loginAtIdP(t, stranger.URL+"/login/sp", "ada")
			},
			oauthError: "server_error", code: CodeSAMLIdPNotFound, cause: "A SAML connection has not been established",
		},
		{
			name: "no persistent subject (an IdP user without an email gets a transient NameID)",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				s.idp.AddUser(t, samltest.User{Name: "nomail", Password: adaPassword})
				return s.loginAtIdP(t, s.startSSO(spStarted), "nomail")
			},
			oauthError: "invalid_request", code: CodeSAMLAssertionNoUserID, cause: "did not contain a persistent Subject Identifier",
		},
		{
			name: "response missing",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				return &samltest.Form{Action: s.base + "/sso/saml/acs", Values: url.Values{"RelayState": {""}}}
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "SAMLResponse is missing",
		},
		{
			name: "response not base64",
			response: func(t *testing.T, s *samlSetup) *samltest.Form {
				return &samltest.Form{Action: s.base + "/sso/saml/acs", Values: url.Values{"SAMLResponse": {"%%%"}}}
			},
			oauthError: "invalid_request", code: CodeValidationFailed, cause: "not a valid Base64 string",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var configure []func(*Config)
			if c.configure != nil {
				configure = append(configure, c.configure)
			}
			s := newSAMLSetup(t, configure...)
			f := c.response(t, s)
			wantACSError(t, s.post(f), c.oauthError, c.code)
			if logs := s.logs.String(); !strings.Contains(logs, "saml sign-in refused") || !strings.Contains(logs, c.cause) {
				t.Errorf("the refusal was not logged with %q:\n%s", c.cause, logs)
			}
			if n := s.ssoUsers(); n != 0 {
				t.Errorf("a refused response created %d users", n)
			}
			if n := s.scalar(`select count(*) from auth.sessions`).(int64); n != 0 {
				t.Errorf("a refused response created %d sessions", n)
			}
		})
	}
}

// idpInitiated signs ada in at the IdP's shortcut and returns its form.
func samlIdPInitiated(t *testing.T, s *samlSetup, shortcut string) *samltest.Form {
	t.Helper()
	return s.loginAtIdP(t, s.idp.URL+"/login/"+shortcut, "ada")
}

// The same response posted twice signs in once. SP-initiated, its relay
// state is gone the second time (GoTrue's answer); IdP-initiated, the
// assertion's ID is remembered (GoTrue has no such check).
func TestSAMLReplay(t *testing.T) {
	t.Run("SP-initiated", func(t *testing.T) {
		s := newSAMLSetup(t)
		f := s.idpResponse(map[string]any{"domain": "acme.test"})
		if first := s.post(f); samlFragment(t, first).Get("access_token") == "" {
			t.Fatalf("first post: %s", first)
		}
		wantACSError(t, s.post(f), "server_error", CodeSAMLRelayStateNotFound)
		if n := s.scalar(`select count(*) from auth.sessions`).(int64); n != 1 {
			t.Errorf("%d sessions after a replay", n)
		}
	})
	t.Run("IdP-initiated", func(t *testing.T) {
		s := newSAMLSetup(t)
		s.idp.AddShortcut(t, "sp", s.base+"/sso/saml/metadata")
		f := samlIdPInitiated(t, s, "sp")
		first := s.post(f)
		if !strings.HasPrefix(first.String(), testSiteURL+"#") || samlFragment(t, first).Get("access_token") == "" {
			t.Fatalf("IdP-initiated sign-in ended at %s", first)
		}
		wantACSError(t, s.post(f), "invalid_request", CodeValidationFailed)
		if !strings.Contains(s.logs.String(), "assertion has already been used") {
			t.Errorf("the replay was not refused as one:\n%s", s.logs.String())
		}
		if n := s.scalar(`select count(*) from auth.sessions`).(int64); n != 1 {
			t.Errorf("%d sessions after a replay", n)
		}
	})
}

// A banned SSO user is refused at the ACS with access_denied.
func TestSAMLBannedUser(t *testing.T) {
	s := newSAMLSetup(t)
	first := s.post(s.idpResponse(map[string]any{"domain": "acme.test"}))
	uid := parseClaims(t, samlFragment(t, first).Get("access_token"))["sub"].(string)
	s.req("PUT", "/admin/users/"+uid, map[string]any{"ban_duration": "24h"}, "Authorization", "Bearer "+s.serviceKey).
		mustStatus(t, 200, "ban")
	wantACSError(t, s.post(s.idpResponse(map[string]any{"domain": "acme.test"})), "access_denied", CodeUserBanned)
}
