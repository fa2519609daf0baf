// Package jwttest mints the tokens tests present to the servers — legacy
// HS256 API keys and users' access tokens, and ES256 ones signed with a
// generated tenant's keys — shaped as the tenant setup (pkg/tenant) and the
// auth server shape them. One helper for every package's tests, so a change
// of the token model is made once.
package jwttest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Sign signs claims with secret (HS256). It panics on error: tests pass
// claims that always encode.
func Sign(secret []byte, claims map[string]any) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(secret)
	if err != nil {
		panic("jwttest: " + err.Error())
	}
	return s
}

// Key is an API key of role (anon, service_role) valid for ttl, as sfp
// issues them.
func Key(secret []byte, role string, ttl time.Duration) string {
	now := time.Now()
	return Sign(secret, map[string]any{"role": role, "iss": "supabase", "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
}

// User is an access token of the user uid valid for ttl, with the claims
// the auth server puts in one (role authenticated, aud, email, session_id,
// aal).
func User(secret []byte, uid string, ttl time.Duration) string {
	now := time.Now()
	return Sign(secret, map[string]any{
		"sub": uid, "role": "authenticated", "aud": "authenticated", "aal": "aal1",
		"email": uid + "@example.test", "session_id": NewID(),
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	})
}

// NewID is a random UUID (version 4), for the ids tests make up.
func NewID() string { return uuid.NewString() }

// Tenant is the keys of a tenant as `sfp server init` makes them (legacy
// keys, publishable and secret keys, an ES256 signing key and the
// gateway's role tokens), for tests that run a server or the gateway
// without a whole tenant.
type Tenant struct {
	*tenant.Tenant
}

// NewTenant generates a tenant's keys, with legacy keys accepted.
func NewTenant(tb testing.TB) Tenant {
	tb.Helper()
	s, err := tenant.GenerateSecrets(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	s.DashboardPassword = "dashboard-password"
	t := &tenant.Tenant{Secrets: s}
	t.Config.Defaults()
	return Tenant{t}
}

// SetLegacy switches the legacy keys on or off (auth.legacy_keys).
func (t Tenant) SetLegacy(on bool) { t.Config.Auth.LegacyKeys = &on }

// Keys is the tenant's key set as its servers get it.
func (t Tenant) Keys(tb testing.TB) *jwtkeys.Set {
	tb.Helper()
	set, err := t.Secrets.KeySet(t.Config.Auth.LegacyKeysEnabled())
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// ES256 signs claims with the tenant's current signing key, adding iat
// and exp (now + ttl) unless given.
func (t Tenant) ES256(tb testing.TB, claims map[string]any, ttl time.Duration) string {
	tb.Helper()
	return SignES256(tb, t.Keys(tb), claims, ttl)
}

// SignES256 signs claims with set's signing key, adding iat and exp (now +
// ttl) unless given.
func SignES256(tb testing.TB, set *jwtkeys.Set, claims map[string]any, ttl time.Duration) string {
	tb.Helper()
	now := time.Now()
	c := map[string]any{"iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := set.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// GenerateKey is a new ES256 key; sign makes it the one that signs.
func GenerateKey(tb testing.TB, sign bool) jwtkeys.Key {
	tb.Helper()
	k, err := jwtkeys.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	k.Sign = sign
	return k
}

// KeySet is the key set of keys and, when not nil, the legacy HS256
// secret.
func KeySet(tb testing.TB, secret []byte, keys ...jwtkeys.Key) *jwtkeys.Set {
	tb.Helper()
	s, err := jwtkeys.NewSet(keys, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// UserES256 is an access token of the user uid signed with the tenant's
// current key, with the claims the auth server puts in one.
func (t Tenant) UserES256(tb testing.TB, uid string, ttl time.Duration) string {
	return t.ES256(tb, map[string]any{
		"sub": uid, "role": "authenticated", "aud": "authenticated", "aal": "aal1",
		"email": uid + "@example.test", "session_id": NewID(),
	}, ttl)
}
