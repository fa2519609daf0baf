package authserver

import (
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/idptest"
)

// wantOAuthError checks an RFC 6749 error body (the id_token grant's).
func wantOAuthError(t *testing.T, r response, errName, descPart string) {
	t.Helper()
	m := r.json(t)
	if r.status != 400 || m["error"] != errName || !strings.Contains(m["error_description"].(string), descPart) {
		t.Fatalf("want 400 %s %q, got %d %s", errName, descPart, r.status, r.body)
	}
}

// TestIDTokenGrant signs in with ID tokens issued by the Keycloak, Azure
// and Google layouts, and refuses tokens for another audience, with a
// wrong or missing nonce, from another issuer, or expired — creating no
// user for any of them.
func TestIDTokenGrant(t *testing.T) {
	e, p := newOAuthEnv(t)
	grant := func(body map[string]any) response {
		return e.req("POST", "/token?grant_type=id_token", body)
	}
	for i, o := range []*idptest.OIDC{p.keycloak, p.azure, p.google} {
		name := []string{"keycloak", "azure", "google"}[i]
		tok := idToken(t, o, "direct", "n0nce-"+name)
		wantOAuthError(t, grant(map[string]any{"provider": name, "id_token": tok, "nonce": "other"}), "invalid nonce", "Nonces mismatch")
		wantOAuthError(t, grant(map[string]any{"provider": name, "id_token": tok}), "invalid request",
			"Passed nonce and nonce in id_token should either both exist or not.")
		if n := e.count(`select count(*) from auth.users`); n != int64(min(i, 1)) {
			t.Fatalf("%s: refused tokens made users (%d)", name, n)
		}
		sess := grant(map[string]any{"provider": name, "id_token": tok, "nonce": "n0nce-" + name}).mustStatus(t, 200, name+" id_token").json(t)
		if sess["user"].(map[string]any)["email"] != "ada@example.com" {
			t.Fatalf("%s: %v", name, sess["user"])
		}
	}
	if n := e.count(`select count(*) from auth.users`); n != 1 {
		t.Fatalf("three providers, one verified address: %d users", n)
	}
	if n := e.count(`select count(*) from auth.identities where provider in ('keycloak', 'azure', 'google')`); n != 3 {
		t.Fatalf("identities: %d", n)
	}

	// Another client's token.
	wantOAuthError(t, grant(map[string]any{"provider": "keycloak", "id_token": idToken(t, p.keycloak, otherClientID, "")}),
		"invalid request", "Unacceptable audience in id_token: [another-app]")
	// Another issuer's token (a second realm) presented as Keycloak's.
	stranger := idptest.NewOIDC(t, idptest.Keycloak, ada, idptest.Client{ID: "direct", Secret: testClientSecret, RedirectURI: directRedirect})
	wantOAuthError(t, grant(map[string]any{"provider": "keycloak", "id_token": idToken(t, stranger, "direct", "")}), "invalid request", "Bad ID token")
	// A tampered token.
	tok := idToken(t, p.keycloak, "direct", "")
	parts := strings.Split(tok, ".")
	wantOAuthError(t, grant(map[string]any{"provider": "keycloak", "id_token": parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))}),
		"invalid request", "Bad ID token")
	// The same token once it has expired.
	e.clock.Advance(2 * time.Hour)
	wantOAuthError(t, grant(map[string]any{"provider": "keycloak", "id_token": tok}), "invalid request", "Bad ID token")
	// Providers that are not OIDC, or not enabled.
	wantError(t, grant(map[string]any{"provider": "github", "id_token": tok}), 400, CodeValidationFailed, `Custom OIDC provider "github" not allowed`)
	ext := e.srv.external.Load().ExternalConfig
	kc := ext.Providers["keycloak"]
	kc.Enabled = false
	ext.Providers["keycloak"] = kc
	if err := e.srv.SetExternal(ext); err != nil {
		t.Fatal(err)
	}
	wantError(t, grant(map[string]any{"provider": "keycloak", "id_token": tok}), 400, CodeProviderDisabled, "is not enabled")
	if n := e.count(`select count(*) from auth.users`); n != 1 {
		t.Fatalf("refused tokens made users: %d", n)
	}
}

// TestManualLinking links a GitHub identity to an email user through
// /user/identities/authorize, then unlinks it, behind the setting.
func TestManualLinking(t *testing.T) {
	e, _ := newOAuthEnv(t)
	sess := e.signUp("grace@example.com", "correct horse")
	bearer := "Bearer " + sess["access_token"].(string)
	wantError(t, e.req("GET", "/user/identities/authorize?provider=github", nil, "Authorization", bearer), 404, CodeManualLinkingDisabled, "Manual linking is disabled")
	wantError(t, e.req("GET", "/user/identities/authorize?provider=github", nil), 401, CodeNoAuthorization, "")

	ext := e.srv.external.Load().ExternalConfig
	ext.ManualLinkingEnabled = true
	if err := e.srv.SetExternal(ext); err != nil {
		t.Fatal(err)
	}
	link := e.req("GET", "/user/identities/authorize?provider=github&skip_http_redirect=true", nil, "Authorization", bearer).
		mustStatus(t, 200, "link").json(t)
	end := must(browser(t, link["url"].(string), "http://localhost:3000"))
	if f := fragment(t, end); f.Get("access_token") == "" {
		t.Fatalf("link redirect: %s", end)
	}
	u := e.req("GET", "/user", nil, "Authorization", bearer).mustStatus(t, 200, "user").json(t)
	ids := u["identities"].([]any)
	if len(ids) != 2 || u["email"] != "grace@example.com" {
		t.Fatalf("after linking: %v", u)
	}
	// GitHub's identity is Ada's: linking it again to anyone is refused.
	link = e.req("GET", "/user/identities/authorize?provider=github&skip_http_redirect=true", nil, "Authorization", bearer).json(t)
	end = must(browser(t, link["url"].(string), "http://localhost:3000"))
	if end.Query().Get("error_code") != CodeIdentityAlreadyExists {
		t.Fatalf("second link: %s", end)
	}
	var githubID string
	for _, i := range ids {
		if m := i.(map[string]any); m["provider"] == "github" {
			githubID = m["identity_id"].(string)
		}
	}
	wantError(t, e.req("DELETE", "/user/identities/"+newUUID(), nil, "Authorization", bearer), 422, CodeIdentityNotFound, "Identity doesn't exist")
	e.req("DELETE", "/user/identities/"+githubID, nil, "Authorization", bearer).mustStatus(t, 200, "unlink")
	u = e.req("GET", "/user", nil, "Authorization", bearer).mustStatus(t, 200, "user").json(t)
	if len(u["identities"].([]any)) != 1 || u["email"] != "grace@example.com" {
		t.Fatalf("after unlinking: %v", u)
	}
	emailID := u["identities"].([]any)[0].(map[string]any)["identity_id"].(string)
	wantError(t, e.req("DELETE", "/user/identities/"+emailID, nil, "Authorization", bearer), 422, CodeSingleIdentityNotDeletable, "at least 1 identity")
	if n := e.count(`select count(*) from auth.audit_log_entries where payload->>'action' in ('identity_linked', 'identity_unlinked')`); n != 2 {
		t.Fatalf("link/unlink audit entries: %d", n)
	}
}
