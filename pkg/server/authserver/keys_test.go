package authserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/supabase-community/gotrue-go/types"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// keyEnv is an auth server whose tenant has ES256 signing keys.
type keyEnv struct {
	*env
	ring    *jwtkeys.Ring
	current jwtkeys.Key
}

// newKeyEnv starts a server signing with a fresh ES256 key, accepting the
// legacy secret while legacy is true.
func newKeyEnv(t testing.TB, legacy bool) *keyEnv {
	t.Helper()
	cur := jwttest.GenerateKey(t, true)
	var secret []byte
	if legacy {
		secret = testSecret
	}
	ring := jwtkeys.NewRing(jwttest.KeySet(t, secret, cur))
	e := newEnv(t, func(c *Config) { c.Keys = ring })
	return &keyEnv{env: e, ring: ring, current: cur}
}

// roleToken is a role token signed by set (the gateway's pre-signed
// ANON_KEY_ASYMMETRIC / SERVICE_ROLE_KEY_ASYMMETRIC).
func roleToken(t testing.TB, set *jwtkeys.Set, role string, now time.Time) string {
	t.Helper()
	return jwttest.SignES256(t, set, keyClaims(role, now), 24*time.Hour)
}

func tokenHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Access tokens are ES256 with the signing key's kid; the JWKS publishes
// the public key (and never the legacy secret) with GoTrue's cache header.
func TestAccessTokensAreES256(t *testing.T) {
	e := newKeyEnv(t, true)
	sess := e.signUp("es@example.com", "correct horse")
	tok := sess["access_token"].(string)
	if h := tokenHeader(t, tok); h["alg"] != "ES256" || h["kid"] != e.current.ID || h["typ"] != "JWT" {
		t.Fatalf("access token header %v, want ES256 with kid %s", h, e.current.ID)
	}
	e.req("GET", "/user", nil, "Authorization", "Bearer "+tok).mustStatus(t, 200, "get user with an ES256 token")

	r := e.req("GET", "/.well-known/jwks.json", nil).mustStatus(t, 200, "jwks")
	if got := r.header.Get("Cache-Control"); got != "public, max-age=600" {
		t.Errorf("Cache-Control %q", got)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &jwks); err != nil {
		t.Fatalf("JWKS: %v: %s", err, r.body)
	}
	if len(jwks.Keys) != 1 || jwks.Keys[0].KeyID != e.current.ID || !jwks.Keys[0].IsPublic() || jwks.Keys[0].Algorithm != "ES256" || jwks.Keys[0].Use != "sig" {
		t.Fatalf("JWKS keys: %s", r.body)
	}
	for _, forbidden := range []string{`"d"`, `"oct"`, `"k"`, `"sign"`} {
		if strings.Contains(string(r.body), forbidden) {
			t.Errorf("JWKS contains %s: %s", forbidden, r.body)
		}
	}
	if !strings.Contains(string(r.body), `"key_ops":["verify"]`) {
		t.Errorf("JWKS keys lack key_ops verify (auth-js imports them with it): %s", r.body)
	}

	// The legacy service key still opens the admin API while legacy keys are on,
	// and so does the gateway's ES256 role token.
	e.req("GET", "/admin/users", nil, "Authorization", "Bearer "+e.serviceKey).mustStatus(t, 200, "admin with the legacy key")
	e.req("GET", "/admin/users", nil, "Authorization", "Bearer "+roleToken(t, e.ring.Load(), "service_role", e.clock.Now())).
		mustStatus(t, 200, "admin with the ES256 service_role token")
}

// A signing-key rotation signs nobody out: a token of the previous key works
// until it expires, new tokens carry the new kid, and once the previous key
// is retired its tokens are refused with GoTrue's error.
func TestSigningKeyRotationKeepsSessions(t *testing.T) {
	e := newKeyEnv(t, true)
	before := e.signUp("rot@example.com", "correct horse")
	oldTok := before["access_token"].(string)

	// Standby: published, not signing.
	standby := jwttest.GenerateKey(t, false)
	e.ring.Store(jwttest.KeySet(t, testSecret, e.current, standby))
	r := e.req("GET", "/.well-known/jwks.json", nil).mustStatus(t, 200, "jwks")
	if !strings.Contains(string(r.body), standby.ID) || !strings.Contains(string(r.body), e.current.ID) {
		t.Fatalf("JWKS after adding a standby key: %s", r.body)
	}
	if h := tokenHeader(t, e.signIn("rot@example.com", "correct horse")["access_token"].(string)); h["kid"] != e.current.ID {
		t.Errorf("a standby key signed: %v", h)
	}

	// Promote: the standby key signs, the old one only verifies.
	previous := e.current
	previous.Sign = false
	standby.Sign = true
	e.ring.Store(jwttest.KeySet(t, testSecret, standby, previous))
	e.req("GET", "/user", nil, "Authorization", "Bearer "+oldTok).mustStatus(t, 200, "a token signed before the rotation")
	fresh := e.signIn("rot@example.com", "correct horse")
	if h := tokenHeader(t, fresh["access_token"].(string)); h["kid"] != standby.ID {
		t.Errorf("new token kid %v, want %s", h["kid"], standby.ID)
	}
	refreshed := e.refresh(before["refresh_token"].(string)).mustStatus(t, 200, "refresh a pre-rotation session").json(t)
	if h := tokenHeader(t, refreshed["access_token"].(string)); h["kid"] != standby.ID {
		t.Errorf("refreshed token kid %v, want %s", h["kid"], standby.ID)
	}

	// Retire: the old key's tokens are refused.
	e.ring.Store(jwttest.KeySet(t, testSecret, standby))
	r = e.req("GET", "/user", nil, "Authorization", "Bearer "+oldTok)
	if r.status != http.StatusForbidden || r.header.Get("X-Sb-Error-Code") != "bad_jwt" ||
		!strings.Contains(string(r.body), "unrecognized JWT kid "+previous.ID+" for algorithm ES256") {
		t.Errorf("a retired key's token: %d %s", r.status, r.body)
	}
	e.req("GET", "/user", nil, "Authorization", "Bearer "+fresh["access_token"].(string)).mustStatus(t, 200, "the new token")
}

// With legacy keys off, HS256 tokens (the legacy keys included) and
// unsigned tokens are refused as GoTrue refuses algorithms outside
// GOTRUE_JWT_VALID_METHODS; a token of an unknown kid is refused too.
func TestLegacyTokensRefusedWhenOff(t *testing.T) {
	e := newKeyEnv(t, false)
	for name, tc := range map[string]struct{ tok, want string }{
		"legacy service key": {e.serviceKey, "signing method HS256 is invalid"},
		"alg none":           {unsignedToken(map[string]any{"role": "service_role", "exp": e.clock.Now().Add(time.Hour).Unix()}), "signing method none is invalid"},
		"unknown kid": {roleToken(t, jwttest.KeySet(t, nil, jwttest.GenerateKey(t, true)), "service_role", e.clock.Now()),
			"unrecognized JWT kid"},
		"not a JWT": {"sb_secret_abc", "token is malformed"},
	} {
		r := e.req("GET", "/admin/users", nil, "Authorization", "Bearer "+tc.tok, "X-Supabase-Api-Version", "2024-01-01")
		if r.status != http.StatusForbidden || r.header.Get("X-Sb-Error-Code") != "bad_jwt" || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s, want 403 bad_jwt with %q", name, r.status, r.body, tc.want)
		}
		if m := r.json(t); m["code"] != "bad_jwt" || !strings.HasPrefix(m["message"].(string), "invalid JWT: unable to parse or verify signature, ") {
			t.Errorf("%s: body %v", name, m)
		}
	}
	e.req("GET", "/admin/users", nil, "Authorization", "Bearer "+roleToken(t, e.ring.Load(), "service_role", e.clock.Now())).
		mustStatus(t, 200, "the ES256 service_role token")
}

func unsignedToken(claims map[string]any) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	return hdr + "." + base64.RawURLEncoding.EncodeToString(body) + "."
}

// gotrue-go works unchanged against ES256 tokens and legacy keys off: the
// gateway hands it the ES256 anon role token for a publishable key.
func TestGoTrueGoWithES256(t *testing.T) {
	e := newKeyEnv(t, false)
	anon := roleToken(t, e.ring.Load(), "anon", e.clock.Now())
	service := roleToken(t, e.ring.Load(), "service_role", e.clock.Now())
	e.anonKey = anon
	c := e.gotrueClient()
	signup, err := c.Signup(types.SignupRequest{Email: "go@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	if h := tokenHeader(t, signup.AccessToken); h["kid"] != e.current.ID {
		t.Errorf("signup token header %v", h)
	}
	session, err := c.SignInWithEmailPassword("go@example.com", "correct horse")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	user, err := c.WithToken(session.AccessToken).GetUser()
	if err != nil || user.Email != "go@example.com" {
		t.Fatalf("get user: %+v, %v", user, err)
	}
	refreshed, err := c.RefreshToken(session.RefreshToken)
	if err != nil || tokenHeader(t, refreshed.AccessToken)["alg"] != "ES256" {
		t.Fatalf("refresh: %v", err)
	}
	users, err := c.WithToken(service).AdminListUsers()
	if err != nil || len(users.Users) != 1 {
		t.Fatalf("admin list users: %+v, %v", users, err)
	}
	if _, err := c.WithToken(e.serviceKey).AdminListUsers(); err == nil {
		t.Error("the legacy service key opened the admin API with legacy keys off")
	}
}
