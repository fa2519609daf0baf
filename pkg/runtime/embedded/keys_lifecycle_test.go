package embedded_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/internal/stacktest"
)

// keysOut is `sfp server keys --json` as the tests read it.
type keysOut struct {
	URL            string `json:"url"`
	PublishableKey string `json:"publishable_key"`
	SecretKey      string `json:"secret_key"`
	AnonKey        string `json:"anon_key"`
	ServiceRoleKey string `json:"service_role_key"`
	LegacyKeys     bool   `json:"legacy_keys"`
	JWKSURL        string `json:"jwks_url"`
	SigningKeys    []struct {
		KID    string `json:"kid"`
		Status string `json:"status"`
	} `json:"signing_keys"`
}

func readKeys(t *testing.T, base, name string) keysOut {
	t.Helper()
	var k keysOut
	r := sfptest.MustRun(t, base, nil, "server", "keys", "-t", name, "--secret", "--service-role", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &k); err != nil {
		t.Fatalf("keys --json: %v\n%s", err, r.Stdout)
	}
	return k
}

// startDetached creates the tenant name in base, starts it in the
// background until the test ends, and returns its keys.
func startDetached(t *testing.T, base, name string) keysOut {
	t.Helper()
	sfptest.MustRun(t, base, nil, "server", "init", "-t", name)
	stopAtEnd(t, base, name)
	sfptest.MustRun(t, base, nil, "server", "start", "-t", name, "--detach")
	return readKeys(t, base, name)
}

// gatewayAnswer is a request's status, the gateway's error message (or
// "code X" for PostgREST's errors) and WWW-Authenticate.
func gatewayAnswer(t *testing.T, url, apikey, bearer string) (int, string, string) {
	t.Helper()
	resp, raw := stacktest.SendTo(t, http.MethodGet, url, apikey, bearer, nil)
	var body struct {
		Message   string  `json:"message"`
		RequestID string  `json:"request_id"`
		Code      *string `json:"code"` // PostgREST's errors have one
	}
	_ = json.Unmarshal(raw, &body)
	if body.Code != nil {
		return resp.StatusCode, "code " + *body.Code, resp.Header.Get("WWW-Authenticate")
	}
	if body.Message != "" && body.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("gateway error without the request's id: %+v", body)
	}
	return resp.StatusCode, body.Message, resp.Header.Get("WWW-Authenticate")
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	var h struct {
		KID string `json:"kid"`
	}
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("token header %q", seg)
	}
	return h.KID
}

// The key commands against a running tenant, with the real binary: each
// change applies to the running process at once (no restart), the gateway
// answers Kong 3.9's 401 for a revoked or refused key, and a signing-key
// rotation signs nobody out.
func TestKeysLifecycle(t *testing.T) {
	base := sfptest.BaseDir(t)
	k := startDetached(t, base, "keys")
	if !strings.HasPrefix(k.PublishableKey, "sb_publishable_") || !strings.HasPrefix(k.SecretKey, "sb_secret_") || !k.LegacyKeys ||
		len(k.SigningKeys) != 1 || k.SigningKeys[0].Status != "current" {
		t.Fatalf("keys of a new tenant: %+v", k)
	}
	rest := k.URL + "/rest/v1/accounts?select=id"

	// A user signs in with the publishable key and gets an ES256 token.
	createUser(t, base, "keys", k.URL, "ada@keys.test", "ada-password-1")
	tokenBefore := signIn(t, k.URL, k.PublishableKey, "ada@keys.test", "ada-password-1")
	if kidOf(t, tokenBefore) != k.SigningKeys[0].KID {
		t.Fatalf("the access token's kid %q is not the current key %q", kidOf(t, tokenBefore), k.SigningKeys[0].KID)
	}
	if code, _, _ := gatewayAnswer(t, rest, k.PublishableKey, tokenBefore); code != 200 {
		t.Fatalf("REST with the publishable key and the user's token: %d", code)
	}
	if code, _, _ := gatewayAnswer(t, rest, k.SecretKey, ""); code != 200 {
		t.Fatalf("REST with the secret key: %d", code)
	}

	// rotate: the old secret key is refused at once, the new one works.
	r := sfptest.MustRun(t, base, nil, "server", "keys", "rotate", "-t", "keys")
	if !strings.Contains(r.Stderr, "The running tenant uses the new keys") {
		t.Errorf("rotate: %s", r.Stderr)
	}
	rotated := readKeys(t, base, "keys")
	if code, msg, www := gatewayAnswer(t, rest, k.SecretKey, ""); code != 401 || msg != "Unauthorized" || www != "Key" {
		t.Errorf("the replaced secret key: %d %q %q, want Kong's 401 Unauthorized", code, msg, www)
	}
	if code, _, _ := gatewayAnswer(t, rest, rotated.SecretKey, ""); code != 200 || rotated.SecretKey == k.SecretKey {
		t.Errorf("the new secret key: %d", code)
	}

	// revoke: no secret key at all.
	sfptest.MustRun(t, base, nil, "server", "keys", "revoke", "-t", "keys")
	if code, msg, _ := gatewayAnswer(t, rest, rotated.SecretKey, ""); code != 401 || msg != "Unauthorized" {
		t.Errorf("the revoked secret key: %d %q", code, msg)
	}
	if revoked := readKeys(t, base, "keys"); revoked.SecretKey != "" {
		t.Errorf("keys --secret after revoke shows %q", revoked.SecretKey)
	}
	if r := sfptest.Run(t, base, nil, "server", "keys", "revoke", "-t", "keys"); r.Code == 0 {
		t.Error("revoking twice succeeded")
	}
	env, _ := os.ReadFile(base + "/tenants/keys/.env")
	if strings.Contains(string(env), rotated.SecretKey) {
		t.Error(".env still holds the revoked key")
	}

	// Signing-key rotation: standby, promote; the old token still works.
	sfptest.MustRun(t, base, nil, "server", "keys", "rotate-signing", "standby", "-t", "keys")
	standby := readKeys(t, base, "keys")
	var standbyKID string
	for _, sk := range standby.SigningKeys {
		if sk.Status == "standby" {
			standbyKID = sk.KID
		}
	}
	jwks := getBody(t, k.JWKSURL)
	if standbyKID == "" || !strings.Contains(jwks, standbyKID) || !strings.Contains(jwks, k.SigningKeys[0].KID) {
		t.Fatalf("JWKS after standby: %s", jwks)
	}
	if tok := signIn(t, k.URL, k.PublishableKey, "ada@keys.test", "ada-password-1"); kidOf(t, tok) != k.SigningKeys[0].KID {
		t.Error("the standby key signs")
	}
	sfptest.MustRun(t, base, nil, "server", "keys", "rotate-signing", "promote", "-t", "keys")
	tokenAfter := signIn(t, k.URL, k.PublishableKey, "ada@keys.test", "ada-password-1")
	if kidOf(t, tokenAfter) != standbyKID {
		t.Errorf("new tokens carry kid %q, want the promoted %q", kidOf(t, tokenAfter), standbyKID)
	}
	for name, tok := range map[string]string{"before the rotation": tokenBefore, "after": tokenAfter} {
		if code, _, _ := gatewayAnswer(t, rest, k.PublishableKey, tok); code != 200 {
			t.Errorf("token signed %s: %d", name, code)
		}
	}
	// The publishable key's role token was signed again with the new key.
	if code, msg, _ := gatewayAnswer(t, rest, k.PublishableKey, ""); code != 401 || msg != "code 42501" {
		// anon has no grant on accounts: PostgREST ran the request as anon
		// (a role token it could not verify would be PGRST301).
		t.Errorf("publishable key alone after promote: %d %s", code, msg)
	}
	if r := sfptest.Run(t, base, nil, "server", "keys", "rotate-signing", "retire", "-t", "keys"); r.Code != 2 || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("retire before the tokens expired: exit %d, %s", r.Code, r.Stderr)
	}
	sfptest.MustRun(t, base, nil, "server", "keys", "rotate-signing", "retire", "--force", "-t", "keys")
	if code, msg, _ := gatewayAnswer(t, rest, k.PublishableKey, tokenBefore); code != 401 || msg != "code PGRST301" {
		t.Errorf("a token of the retired key: %d %s, want 401 PGRST301", code, msg)
	}
	if code, _, _ := gatewayAnswer(t, rest, k.PublishableKey, tokenAfter); code != 200 {
		t.Errorf("a token of the current key after retire: %d", code)
	}

	// Legacy keys off: the anon key is refused at the gateway.
	sfptest.MustRun(t, base, nil, "server", "keys", "legacy", "off", "-t", "keys")
	if code, msg, _ := gatewayAnswer(t, rest, k.AnonKey, ""); code != 401 || msg != "Unauthorized" {
		t.Errorf("legacy anon key with legacy keys off: %d %q", code, msg)
	}
	off := readKeys(t, base, "keys")
	if off.LegacyKeys || off.AnonKey != "" {
		t.Errorf("keys with legacy off: %+v", off)
	}
	if code, _, _ := gatewayAnswer(t, rest, k.PublishableKey, tokenAfter); code != 200 {
		t.Errorf("ES256 token with legacy keys off: %d", code)
	}
	sfptest.MustRun(t, base, nil, "server", "keys", "legacy", "on", "-t", "keys")
	if code, _, _ := gatewayAnswer(t, k.URL+"/auth/v1/settings", k.AnonKey, ""); code != 200 {
		t.Errorf("legacy anon key after legacy on: %d", code)
	}

	// The changes survive a restart.
	sfptest.MustRun(t, base, nil, "server", "stop", "-t", "keys")
	sfptest.MustRun(t, base, nil, "server", "start", "-t", "keys", "--detach")
	if code, _, _ := gatewayAnswer(t, rest, k.PublishableKey, tokenAfter); code != 200 {
		t.Errorf("after a restart: %d", code)
	}
	if code, _, _ := gatewayAnswer(t, rest, rotated.SecretKey, ""); code != 401 {
		t.Errorf("the revoked key after a restart: %d", code)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=600" {
		t.Errorf("GET %s: %d, Cache-Control %q", url, resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	return string(b)
}
