package tenant

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

var opaqueKeyRE = map[string]*regexp.Regexp{
	PublishableKeyPrefix: regexp.MustCompile(`^sb_publishable_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$`),
	SecretKeyPrefix:      regexp.MustCompile(`^sb_secret_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$`),
}

func readEnv(t *testing.T, tn *Tenant) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(tn.EnvFile())
	if err != nil {
		t.Fatal(err)
	}
	env, err := parseEnv(raw, tn.EnvFile())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// verifyWith checks that tok verifies against the public JWKS jwks and
// returns its header and claims.
func verifyWith(t *testing.T, jwks, tok string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	keys, _, err := jwtkeys.ParsePrivate([]byte(jwks))
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	set, err := jwtkeys.NewSet(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"})).ParseWithClaims(tok, claims, set.Keyfunc)
	if err != nil {
		t.Fatalf("token does not verify against JWT_JWKS: %v", err)
	}
	return parsed.Header, claims
}

// A new tenant has the whole key model in .env under the upstream names:
// publishable and secret keys in the upstream format, an ES256 signing key
// in JWT_KEYS (private) and JWT_JWKS (public, with the legacy secret while
// legacy keys are on), and the gateway's role tokens signed with it.
func TestNewTenantKeys(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "acme"})
	env := readEnv(t, tn)
	for name, prefix := range map[string]string{"SUPABASE_PUBLISHABLE_KEY": PublishableKeyPrefix, "SUPABASE_SECRET_KEY": SecretKeyPrefix} {
		key := env[name]
		if !opaqueKeyRE[prefix].MatchString(key) {
			t.Errorf("%s = %q, not in the upstream format", name, key)
		}
		if err := CheckOpaqueKey(key, prefix); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if env["SUPABASE_PUBLISHABLE_KEY"] == env["SUPABASE_SECRET_KEY"] {
		t.Error("publishable and secret key are the same")
	}
	if !tn.Config.Auth.LegacyKeysEnabled() {
		t.Error("legacy keys are off in a new tenant")
	}
	if yml, _ := os.ReadFile(tn.ConfigFile()); !strings.Contains(string(yml), "legacy_keys: true") {
		t.Errorf("tenant.yaml does not show auth.legacy_keys:\n%s", yml)
	}

	var priv []map[string]any
	if err := json.Unmarshal([]byte(env["JWT_KEYS"]), &priv); err != nil || len(priv) != 2 {
		t.Fatalf("JWT_KEYS = %s (%v), want the signing key and the legacy secret", env["JWT_KEYS"], err)
	}
	ops, _ := json.Marshal(priv[0]["key_ops"])
	if priv[0]["kty"] != "EC" || priv[0]["d"] == nil || string(ops) != `["sign","verify"]` || priv[1]["kty"] != "oct" {
		t.Errorf("JWT_KEYS = %s", env["JWT_KEYS"])
	}
	if strings.Contains(env["JWT_JWKS"], `"d"`) || !strings.HasPrefix(env["JWT_JWKS"], `{"keys":[`) || !strings.Contains(env["JWT_JWKS"], `"oct"`) {
		t.Errorf("JWT_JWKS = %s, want the public key and the legacy secret", env["JWT_JWKS"])
	}
	cur, ok := tn.Secrets.SigningKeyByStatus(SigningCurrent)
	if !ok || priv[0]["kid"] != cur.ID {
		t.Fatalf("current key %v %v", cur.ID, ok)
	}
	for tok, role := range map[string]string{env["ANON_KEY_ASYMMETRIC"]: "anon", env["SERVICE_ROLE_KEY_ASYMMETRIC"]: "service_role"} {
		hdr, claims := verifyWith(t, env["JWT_JWKS"], tok)
		if hdr["kid"] != cur.ID || claims["role"] != role || claims["iss"] != "supabase" {
			t.Errorf("%s role token: header %v claims %v", role, hdr, claims)
		}
	}

	got, err := Load(base, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets.PublishableKey != tn.Secrets.PublishableKey || got.Secrets.SecretKey != tn.Secrets.SecretKey ||
		len(got.Secrets.SigningKeys) != 1 || !got.Secrets.SigningKeys[0].Private.Equal(cur.Private) {
		t.Error("keys not round-tripped through .env")
	}
	if changed, err := got.Secrets.EnsureKeys(time.Now()); err != nil || changed {
		t.Errorf("EnsureKeys on a complete tenant: changed %v, %v", changed, err)
	}
}

// With auth.legacy_keys off, the legacy secret leaves JWT_KEYS and
// JWT_JWKS (GoTrue and PostgREST then refuse HS256) and the gateway gets no
// legacy keys.
func TestLegacyKeysOff(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "acme"})
	off := false
	tn.Config.Auth.LegacyKeys = &off
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	env := readEnv(t, tn)
	if strings.Contains(env["JWT_KEYS"], "oct") || strings.Contains(env["JWT_JWKS"], "oct") {
		t.Errorf("legacy secret listed with legacy keys off:\n%s\n%s", env["JWT_KEYS"], env["JWT_JWKS"])
	}
	if env["ANON_KEY"] == "" || env["JWT_SECRET"] == "" {
		t.Error("the legacy keys were dropped from .env (switching back on must restore them)")
	}
	got, err := Load(base, "acme")
	if err != nil {
		t.Fatal(err)
	}
	kong := got.KongEnv()
	if kong["SUPABASE_ANON_KEY"] != "" || kong["SUPABASE_SERVICE_KEY"] != "" || kong["SUPABASE_PUBLISHABLE_KEY"] == "" {
		t.Errorf("gateway env with legacy keys off: %v", kong)
	}
	set, err := got.Secrets.KeySet(got.Config.Auth.LegacyKeysEnabled())
	if err != nil || set.Secret() != nil {
		t.Errorf("key set with legacy keys off keeps the secret (%v)", err)
	}
	on, legacy := *got, true
	on.Config.Auth.LegacyKeys = &legacy
	if got.KeysVersion() == on.KeysVersion() {
		t.Error("keys version ignores the legacy switch")
	}
}

// A tenant made before the key model gets its keys on the next start
// (EnsureKeys), and a revoked secret key is not made again.
func TestEnsureKeysUpgradesAnOldTenant(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "old"})
	raw, _ := os.ReadFile(tn.EnvFile())
	var kept []string
	for _, l := range strings.Split(string(raw), "\n") {
		name, _, _ := strings.Cut(l, "=")
		switch name {
		case "SUPABASE_PUBLISHABLE_KEY", "SUPABASE_SECRET_KEY", "JWT_KEYS", "JWT_JWKS", "SFP_JWT_KEY_STATES", "ANON_KEY_ASYMMETRIC", "SERVICE_ROLE_KEY_ASYMMETRIC":
			continue
		}
		kept = append(kept, l)
	}
	if err := os.WriteFile(tn.EnvFile(), []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := Load(base, "old")
	if err != nil {
		t.Fatalf("an old .env does not load: %v", err)
	}
	if old.Secrets.PublishableKey != "" || len(old.Secrets.SigningKeys) != 0 {
		t.Fatal("the stripped .env still has keys")
	}
	var changed bool
	if err := old.UpdateSecrets(func(s *Secrets) (bool, error) {
		var err error
		changed, err = s.EnsureKeys(time.Now())
		return changed, err
	}); err != nil || !changed {
		t.Fatalf("EnsureKeys: changed %v, %v", changed, err)
	}
	again, err := Load(base, "old")
	if err != nil {
		t.Fatal(err)
	}
	if again.Secrets.PublishableKey == "" || again.Secrets.SecretKey == "" || len(again.Secrets.SigningKeys) != 1 || again.Secrets.AnonKeyAsymmetric == "" {
		t.Fatalf("the upgraded .env lacks keys: %+v", again.Secrets)
	}
	if again.Secrets.AnonKey != tn.Secrets.AnonKey || again.Secrets.JWTSecret != tn.Secrets.JWTSecret {
		t.Error("the upgrade changed the legacy keys")
	}

	// Revoked stays revoked across starts.
	if err := again.UpdateSecrets(func(s *Secrets) (bool, error) { return true, s.RevokeSecretKey(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if env := readEnv(t, again); env["SUPABASE_SECRET_KEY"] != "" || env["SFP_SECRET_KEY_REVOKED_AT"] == "" {
		t.Errorf("revoked: SUPABASE_SECRET_KEY=%q SFP_SECRET_KEY_REVOKED_AT=%q", env["SUPABASE_SECRET_KEY"], env["SFP_SECRET_KEY_REVOKED_AT"])
	}
	revoked, _ := Load(base, "old")
	if changed, _ := revoked.Secrets.EnsureKeys(time.Now()); changed || revoked.Secrets.SecretKey != "" {
		t.Error("a revoked secret key was made again")
	}
	if revoked.KongEnv()["SUPABASE_SECRET_KEY"] != "" {
		t.Error("the gateway still gets the revoked key")
	}
	if err := revoked.Secrets.RevokeSecretKey(time.Now()); err == nil {
		t.Error("revoking twice succeeded")
	}
	newKey := revoked.Secrets.RotateSecretKey()
	if CheckOpaqueKey(newKey, SecretKeyPrefix) != nil || newKey == tn.Secrets.SecretKey || !revoked.Secrets.SecretKeyRevokedAt.IsZero() {
		t.Errorf("rotate after revoke: %q", newKey)
	}
}

// The signing-key rotation: a standby key is published but does not sign;
// promoting it makes it sign (and re-signs the gateway's role tokens) while
// the old key still verifies; the old key may be retired only once its
// tokens have expired.
func TestSigningKeyRotation(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "acme"})
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	first, _ := tn.Secrets.SigningKeyByStatus(SigningCurrent)
	if _, _, err := tn.Secrets.PromoteSigningKey(t0, time.Hour); !errors.Is(err, ErrSigningStage) {
		t.Errorf("promote without a standby key: %v", err)
	}
	if _, err := tn.Secrets.RetireSigningKeys(t0, false); !errors.Is(err, ErrSigningStage) {
		t.Errorf("retire without a previous key: %v", err)
	}

	var standby SigningKey
	if err := tn.UpdateSecrets(func(s *Secrets) (bool, error) {
		var err error
		standby, err = s.AddStandbySigningKey(t0)
		return true, err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Secrets.AddStandbySigningKey(t0); !errors.Is(err, ErrSigningStage) {
		t.Errorf("a second standby key: %v", err)
	}
	env := readEnv(t, tn)
	if !strings.Contains(env["JWT_JWKS"], standby.ID) {
		t.Error("the standby key is not published in JWT_JWKS")
	}
	if _, claims := verifyWith(t, env["JWT_JWKS"], env["ANON_KEY_ASYMMETRIC"]); claims["role"] != "anon" {
		t.Error("role token broken")
	}
	if hdr, _ := verifyWith(t, env["JWT_JWKS"], env["ANON_KEY_ASYMMETRIC"]); hdr["kid"] != first.ID {
		t.Error("a standby key signed the role tokens")
	}

	t1 := t0.Add(30 * time.Minute)
	if err := tn.UpdateSecrets(func(s *Secrets) (bool, error) {
		_, _, err := s.PromoteSigningKey(t1, time.Hour)
		return true, err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(base, "acme")
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := got.Secrets.SigningKeyByStatus(SigningCurrent)
	prev, _ := got.Secrets.SigningKeyByStatus(SigningPrevious)
	if cur.ID != standby.ID || prev.ID != first.ID || !prev.Since.Equal(t1) || !prev.RetireAfter.Equal(t1.Add(time.Hour+RetireMargin)) {
		t.Fatalf("after promote: current %s, previous %s since %s retire after %s", cur.ID, prev.ID, prev.Since, prev.RetireAfter)
	}
	env = readEnv(t, got)
	if hdr, _ := verifyWith(t, env["JWT_JWKS"], env["SERVICE_ROLE_KEY_ASYMMETRIC"]); hdr["kid"] != standby.ID {
		t.Errorf("role token kid %v after promotion, want %s", hdr["kid"], standby.ID)
	}
	set, err := got.Secrets.KeySet(true)
	if err != nil {
		t.Fatal(err)
	}
	if signer, _ := set.Signer(); signer.ID != standby.ID {
		t.Errorf("the set signs with %s", signer.ID)
	}
	if _, err := set.Lookup("ES256", first.ID, true); err != nil {
		t.Errorf("the previous key no longer verifies: %v", err)
	}

	early := t1.Add(time.Hour)
	if _, err := got.Secrets.RetireSigningKeys(early, false); !errors.Is(err, ErrSigningStage) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("retire before the tokens expired: %v", err)
	}
	var retired []SigningKey
	if err := got.UpdateSecrets(func(s *Secrets) (bool, error) {
		var err error
		retired, err = s.RetireSigningKeys(prev.RetireAfter, false)
		return true, err
	}); err != nil || len(retired) != 1 || retired[0].ID != first.ID {
		t.Fatalf("retire: %v %v", retired, err)
	}
	final, _ := Load(base, "acme")
	if len(final.Secrets.SigningKeys) != 1 || strings.Contains(readEnv(t, final)["JWT_JWKS"], first.ID) {
		t.Error("the retired key is still listed")
	}

	// --force retires at once.
	s := final.Secrets
	if _, err := s.AddStandbySigningKey(t1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PromoteSigningKey(t1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if r, err := s.RetireSigningKeys(t1, true); err != nil || len(r) != 1 {
		t.Errorf("forced retire: %v %v", r, err)
	}
}

func TestCheckOpaqueKey(t *testing.T) {
	good := NewOpaqueKey(PublishableKeyPrefix)
	if err := CheckOpaqueKey(good, PublishableKeyPrefix); err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{
		"other prefix": good,
		"truncated":    good[:len(good)-1],
		"bad checksum": good[:len(good)-1] + map[bool]string{true: "A", false: "B"}[good[len(good)-1] != 'A'],
		"no checksum":  "sb_secret_" + strings.Repeat("a", 22),
		"bad chars":    "sb_secret_" + strings.Repeat("a", 21) + "!_abcdefgh",
	} {
		prefix := SecretKeyPrefix
		if err := CheckOpaqueKey(key, prefix); err == nil {
			t.Errorf("%s: %q accepted", name, key)
		}
	}
}
