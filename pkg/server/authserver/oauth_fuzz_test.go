package authserver

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzProviderClaims: whatever claims a provider sends, turning them into
// identity data neither panics nor loses the subject, and the email is
// stored in lower case.
func FuzzProviderClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"https://sso.acme.test/realms/a","sub":"1","aud":["x","y"],"iat":1.7e9,"email":"A@B.test","email_verified":true,"updated_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"sub":"2","aud":"x","updated_at":1700000000,"custom_claims":{"hd":"acme.test"}}`))
	f.Add([]byte(`{"sub":"","updated_at":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c providerClaims
		if json.Unmarshal(raw, &c) != nil {
			return
		}
		m, err := c.identityData()
		if err != nil {
			return // e.g. a timestamp JSON cannot encode
		}
		if c.Subject != "" && m["sub"] != c.Subject {
			t.Fatalf("sub %v, want %q", m["sub"], c.Subject)
		}
		if e, ok := m["email"].(string); ok && e != lower(e) {
			t.Fatalf("email %q not lower case", e)
		}
	})
}

// FuzzRedirectAllowed: the redirect_to check never panics, and never
// allows a target on another host unless an allow-list pattern matches.
func FuzzRedirectAllowed(f *testing.F) {
	for _, s := range []string{"http://localhost:3000/x", "http://127.0.0.1:5/cb", "https://evil.example/", "//evil.example",
		"http://2130706433/", "javascript:alert(1)", "http://localhost:3000@evil.example/", "http://[::1]:8/"} {
		f.Add(s)
	}
	s := &Server{cfg: Config{SiteURL: "http://localhost:3000"}}
	st, err := newExternalState(ExternalConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !s.redirectAllowed(st, target) {
			return
		}
		u, err := parseURL(target)
		if err != nil || !isLocalhost(u.Hostname()) {
			t.Fatalf("allowed %q (host %q) with an empty allow list", target, u.Hostname())
		}
	})
}

func lower(s string) string { return strings.ToLower(s) }

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }
