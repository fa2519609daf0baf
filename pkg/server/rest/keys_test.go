package rest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// keyedTenant is a generated tenant whose legacy secret is the tests'
// (so the HS256 helpers keep working beside its ES256 keys).
func keyedTenant(t *testing.T) jwttest.Tenant {
	t.Helper()
	tn := jwttest.NewTenant(t)
	tn.Secrets.JWTSecret = testSecret
	tn.Secrets.AnonKey, tn.Secrets.ServiceRoleKey = keyJWT("anon"), keyJWT("service_role")
	return tn
}

// The new key model end to end through the repository kong.yml: a
// publishable key with a user's ES256 token, the secret key as
// service_role, RLS deciding, postgrest-go unchanged.
func TestOpaqueKeysAndES256ThroughGateway(t *testing.T) {
	tn := keyedTenant(t)
	ring := jwtkeys.NewRing(tn.Keys(t))
	e := startEnv(t, newTenantDB(t), func(c *Config) { c.Keys = ring })
	base := withGatewayEnv(t, e, tn.KongEnv())
	pub, sec := tn.Secrets.PublishableKey, tn.Secrets.SecretKey
	owner, stranger := tn.UserES256(t, uidOwner, time.Hour), tn.UserES256(t, uidStranger, time.Hour)

	r := e.gw(base, "POST", "/rest/v1/rpc/create_account", pub, owner, `{"name":"Keys","slug":"keys"}`)
	if r.status != 200 {
		t.Fatalf("create_account with a publishable key and an ES256 token: %d %s", r.status, r.body)
	}
	account := strings.Trim(string(r.body), `"`)
	e.gw(base, "POST", "/rest/v1/projects", pub, owner, `{"account_id":"`+account+`","identifier":"keys/api"}`).expect(t, "owner writes", 201, "")
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", pub, owner, "").expect(t, "owner reads", 200, `[{"identifier":"keys/api"}]`)
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", pub, stranger, "").expect(t, "stranger reads nothing", 200, `[]`)
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", pub, "", "").expectErr(t, "the publishable key alone is anon", 401, "42501")
	// supabase-js signed out: Authorization carries the key itself.
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", pub, pub, "").expectErr(t, "Bearer sb_publishable_ is anon", 401, "42501")
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", sec, "", "").expect(t, "the secret key is service_role", 200, `[{"identifier":"keys/api"}]`)

	c := postgrest.NewClient(base+"/rest/v1", "public", map[string]string{"apikey": pub})
	c.SetAuthToken(owner)
	var projects []map[string]any
	if _, err := c.From("projects").Select("identifier", "", false).ExecuteTo(&projects); err != nil || len(projects) != 1 {
		t.Errorf("postgrest-go with a publishable key: %v %v", projects, err)
	}

	// A token no key of the tenant signed: PostgREST's answer for a kid
	// it does not have.
	other := jwttest.NewTenant(t).UserES256(t, uidOwner, time.Hour)
	e.gw(base, "GET", "/rest/v1/projects", pub, other, "").expectErr(t, "unknown kid", 401, "PGRST301")
	r = e.gw(base, "GET", "/rest/v1/projects", pub, other, "")
	if !strings.Contains(string(r.body), "No suitable key was found to decode the JWT") {
		t.Errorf("unknown kid: %s", r.body)
	}
	forged := owner[:len(owner)-6] + "AAAAAA"
	r = e.gw(base, "GET", "/rest/v1/projects", pub, forged, "")
	r.expectErr(t, "forged ES256 signature", 401, "PGRST301")
	if !strings.Contains(string(r.body), "None of the keys was able to decode the JWT") {
		t.Errorf("forged: %s", r.body)
	}
}

// A signing-key rotation: a token of the previous key keeps working while
// the key is in the set (the verified-token cache included) and stops once
// it is retired.
func TestSigningKeyRotationAndCache(t *testing.T) {
	tn := keyedTenant(t)
	ring := jwtkeys.NewRing(tn.Keys(t))
	e := startEnv(t, newTenantDB(t), func(c *Config) { c.Keys = ring })
	old := tn.UserES256(t, uidOwner, time.Hour)
	e.do("GET", "/accounts?select=id", old, "").expect(t, "token of the current key", 200, `[]`)

	// Promote a new key; the old one only verifies.
	cur, _ := tn.Keys(t).Signer()
	next, err := jwtkeys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	next.Sign, cur.Sign = true, false
	set, err := jwtkeys.NewSet([]jwtkeys.Key{next, cur}, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	ring.Store(set)
	e.do("GET", "/accounts?select=id", old, "").expect(t, "token signed before the rotation", 200, `[]`)

	// Retire: the cached verification must not outlive the key.
	retired, _ := jwtkeys.NewSet([]jwtkeys.Key{next}, []byte(testSecret))
	ring.Store(retired)
	e.do("GET", "/accounts?select=id", old, "").expectErr(t, "token of a retired key", 401, "PGRST301")
}

// With legacy tokens off, HS256 tokens and unsigned ones are refused with
// PostgREST's errors; ES256 ones still work.
func TestLegacyTokensRefusedWhenOff(t *testing.T) {
	tn := keyedTenant(t)
	tn.SetLegacy(false)
	e := startEnv(t, newTenantDB(t), func(c *Config) { c.Keys = jwtkeys.NewRing(tn.Keys(t)) })
	r := e.do("GET", "/accounts?select=id", userJWT(uidOwner), "")
	r.expectErr(t, "HS256 user token", 401, "PGRST301")
	if !strings.Contains(string(r.body), "No suitable key or wrong key type") {
		t.Errorf("HS256: %s", r.body)
	}
	e.do("GET", "/accounts?select=id", keyJWT("service_role"), "").expectErr(t, "legacy service key", 401, "PGRST301")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"role": "service_role"})
	r = e.do("GET", "/accounts?select=id", hdr+"."+base64.RawURLEncoding.EncodeToString(claims)+".", "")
	r.expectErr(t, "alg none", 401, "PGRST301")
	if !strings.Contains(string(r.body), "Wrong or unsupported encoding algorithm") {
		t.Errorf("alg none: %s", r.body)
	}
	e.do("GET", "/accounts?select=id", tn.UserES256(t, uidOwner, time.Hour), "").expect(t, "ES256 token", 200, `[]`)
	e.do("GET", "/accounts?select=id", "sb_secret_abc", "").expectErr(t, "an sb_ key as bearer (no gateway)", 401, "PGRST301")
}
