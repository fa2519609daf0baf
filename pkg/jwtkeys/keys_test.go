package jwtkeys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

func mustGenerate(t *testing.T, sign bool) Key {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k.Sign = sign
	return k
}

// JWT_KEYS round-trips, carries the members Supabase's generator writes,
// and lists the legacy secret as a kid-less oct key only when asked.
func TestPrivateKeysRoundTrip(t *testing.T) {
	current, standby := mustGenerate(t, true), mustGenerate(t, false)
	secret := []byte(strings.Repeat("s", 40))
	raw, err := MarshalPrivate([]Key{current, standby}, secret)
	if err != nil {
		t.Fatal(err)
	}
	var jwks []map[string]any
	if err := json.Unmarshal(raw, &jwks); err != nil {
		t.Fatalf("JWT_KEYS is not a JSON array: %v\n%s", err, raw)
	}
	if len(jwks) != 3 {
		t.Fatalf("JWT_KEYS has %d keys, want 3: %s", len(jwks), raw)
	}
	for i, want := range []struct {
		kid string
		ops string
	}{{current.ID, `["sign","verify"]`}, {standby.ID, `["verify"]`}} {
		k := jwks[i]
		ops, _ := json.Marshal(k["key_ops"])
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != want.kid ||
			k["ext"] != true || k["d"] == nil || string(ops) != want.ops {
			t.Errorf("key %d = %v, want an EC P-256 ES256 private key %s with key_ops %s", i, k, want.kid, want.ops)
		}
	}
	oct := jwks[2]
	if oct["kty"] != "oct" || oct["alg"] != "HS256" || oct["kid"] != nil || oct["key_ops"] != nil ||
		oct["k"] != base64.RawURLEncoding.EncodeToString(secret) {
		t.Errorf("legacy key = %v, want a kid-less oct HS256 key of the secret", oct)
	}

	keys, gotSecret, err := ParsePrivate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(gotSecret) != string(secret) || len(keys) != 2 {
		t.Fatalf("parsed %d keys and secret %q", len(keys), gotSecret)
	}
	if keys[0].ID != current.ID || !keys[0].Sign || !keys[0].Private.Equal(current.Private) ||
		keys[1].ID != standby.ID || keys[1].Sign || !keys[1].Private.Equal(standby.Private) {
		t.Errorf("parsed keys differ from the written ones")
	}

	noLegacy, err := MarshalPrivate([]Key{current}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(noLegacy), `"oct"`) {
		t.Errorf("JWT_KEYS without a secret lists an oct key: %s", noLegacy)
	}
}

// The public JWKS has no private member, every key only verifies, and a
// standard JWK reader takes it.
func TestPublicJWKS(t *testing.T) {
	current, previous := mustGenerate(t, true), mustGenerate(t, false)
	raw, err := MarshalPublic([]Key{current, previous}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v\n%s", err, raw)
	}
	if len(set.Keys) != 2 || set.Keys[0].KeyID != current.ID || set.Keys[1].KeyID != previous.ID {
		t.Fatalf("JWKS keys = %+v", set.Keys)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("key %s in the JWKS is private", k.KeyID)
		}
	}
	for _, member := range []string{`"d"`, `"sign"`, `"oct"`} {
		if strings.Contains(string(raw), member) {
			t.Errorf("the public JWKS contains %s: %s", member, raw)
		}
	}
	withLegacy, _ := MarshalPublic([]Key{current}, []byte(strings.Repeat("x", 32)))
	var obj struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(withLegacy, &obj); err != nil || len(obj.Keys) != 2 || obj.Keys[1]["kty"] != "oct" {
		t.Errorf("the verifiers' JWKS with the legacy secret = %s (%v)", withLegacy, err)
	}
}

// A file as Supabase's add-new-auth-keys.sh writes it is read.
func TestParseUpstreamFormat(t *testing.T) {
	k := mustGenerate(t, true)
	priv, _ := MarshalPrivate([]Key{k}, []byte("super-secret-jwt-token-with-at-least-32-characters-long"))
	// The generator's JWKS object form is accepted too.
	keys, secret, err := ParsePrivate([]byte(`{"keys":` + string(priv) + `}`))
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || secret == nil {
		t.Fatalf("ParsePrivate(JWKS object) = %v, %q, %v", keys, secret, err)
	}
}

func TestParsePrivateRefuses(t *testing.T) {
	a, b := mustGenerate(t, true), mustGenerate(t, true)
	two, _ := MarshalPrivate([]Key{a, b}, nil)
	noKid := strings.Replace(string(mustMarshal(t, a)), `"kid":"`+a.ID+`",`, "", 1)
	dup, _ := MarshalPrivate([]Key{a, {ID: a.ID, Private: b.Private, Public: b.Public}}, nil)
	for name, in := range map[string]string{
		"not json":        `nope`,
		"two signers":     string(two),
		"no kid":          noKid,
		"duplicate kid":   string(dup),
		"rsa":             `[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]`,
		"bad point":       `[{"kty":"EC","kid":"x","crv":"P-256","x":"AQ","y":"AQ"}]`,
		"two secrets":     `[{"kty":"oct","k":"YWJj"},{"kty":"oct","k":"ZGVm"}]`,
		"public signer":   strings.Replace(string(mustPublic(t, a)), `["verify"]`, `["sign","verify"]`, 1),
		"P-384 key (alg)": strings.Replace(string(mustMarshal(t, mustGenerate(t, false))), `"ES256"`, `"ES384"`, 1),
	} {
		if _, _, err := ParsePrivate([]byte(in)); err == nil {
			t.Errorf("%s: accepted %s", name, in)
		}
	}
}

func mustMarshal(t *testing.T, k Key) []byte {
	t.Helper()
	b, err := MarshalPrivate([]Key{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPublic(t *testing.T, k Key) []byte {
	t.Helper()
	b, err := MarshalPublic([]Key{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.TrimSuffix(strings.TrimPrefix(string(b), `{"keys":`), `}`))
}

// Tokens signed by a set carry the signing key's kid and verify with
// golang-jwt against the set; the set's lookup follows GoTrue's rule.
func TestSetSignAndLookup(t *testing.T) {
	current, standby, other := mustGenerate(t, true), mustGenerate(t, false), mustGenerate(t, true)
	secret := []byte(strings.Repeat("k", 32))
	set, err := NewSet([]Key{current, standby}, secret)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"role": "anon", "exp": time.Now().Add(time.Hour).Unix()})
	tok, err := set.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.NewParser(jwt.WithValidMethods(set.Algorithms())).Parse(tok, set.Keyfunc)
	if err != nil {
		t.Fatalf("a token the set signed does not verify: %v", err)
	}
	if parsed.Header["kid"] != current.ID || parsed.Header["alg"] != "ES256" {
		t.Errorf("header = %v, want ES256 with kid %s", parsed.Header, current.ID)
	}

	// A standby key verifies (its tokens may come from a rotation elsewhere).
	standbySigned, _ := NewSet([]Key{{ID: standby.ID, Private: standby.Private, Public: standby.Public, Sign: true}}, nil)
	tok2, _ := standbySigned.Sign(payload)
	if _, err := jwt.NewParser(jwt.WithValidMethods(set.Algorithms())).Parse(tok2, set.Keyfunc); err != nil {
		t.Errorf("a token of the standby key does not verify: %v", err)
	}
	// An unknown kid is refused, naming it as GoTrue does.
	foreign, _ := NewSet([]Key{other}, nil)
	tok3, _ := foreign.Sign(payload)
	_, err = jwt.NewParser(jwt.WithValidMethods(set.Algorithms())).Parse(tok3, set.Keyfunc)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KID != other.ID || !strings.Contains(err.Error(), "unrecognized JWT kid "+other.ID+" for algorithm ES256") {
		t.Errorf("foreign kid: %v", err)
	}
	// HS256 without kid: the legacy secret, while the set has it.
	legacy := jwtSign(t, secret, nil)
	if _, err := jwt.NewParser(jwt.WithValidMethods(set.Algorithms())).Parse(legacy, set.Keyfunc); err != nil {
		t.Errorf("legacy HS256 token: %v", err)
	}
	// HS256 with an unknown kid falls back to the secret (GoTrue #2072).
	if _, err := jwt.NewParser(jwt.WithValidMethods(set.Algorithms())).Parse(jwtSign(t, secret, map[string]any{"kid": "nope"}), set.Keyfunc); err != nil {
		t.Errorf("HS256 with an unknown kid: %v", err)
	}
	// Without the secret, HS256 is refused.
	strict, _ := NewSet([]Key{current}, nil)
	if got := strict.Algorithms(); len(got) != 1 || got[0] != "ES256" {
		t.Errorf("algorithms without legacy = %v", got)
	}
	if _, err := strict.Lookup("HS256", "", false); !errors.As(err, &unknown) || err.Error() != "unrecognized JWT kid <nil> for algorithm HS256" {
		t.Errorf("HS256 lookup without the secret: %v", err)
	}
	if _, err := strict.Lookup("ES256", "", false); err == nil {
		t.Error("an ES256 token without kid found a key")
	}
}

func TestSetWithoutKeysSignsHS256(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	tok, err := LegacySet(secret).Sign([]byte(`{"role":"anon"}`))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || parsed.Header["kid"] != nil {
		t.Errorf("legacy-signed token: %v, header %v", err, parsed.Header)
	}
	if _, err := (&Set{}).Sign([]byte(`{}`)); err == nil {
		t.Error("a set with nothing to sign with signed")
	}
}

func TestNewSetRefuses(t *testing.T) {
	a, b := mustGenerate(t, true), mustGenerate(t, true)
	if _, err := NewSet([]Key{a, b}, nil); err == nil {
		t.Error("two signing keys accepted")
	}
	if _, err := NewSet([]Key{a, a}, nil); err == nil {
		t.Error("a duplicate kid accepted")
	}
	if _, err := NewSet([]Key{{ID: "x", Public: a.Public, Sign: true}}, nil); err == nil {
		t.Error("a signing key without its private part accepted")
	}
}

func jwtSign(t *testing.T, secret []byte, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon", "exp": time.Now().Add(time.Hour).Unix()})
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
