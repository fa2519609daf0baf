package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// keysJSON is `sfp server keys --json`.
type keysJSON struct {
	URL                string     `json:"url"`
	PublishableKey     string     `json:"publishable_key"`
	SecretKey          string     `json:"secret_key"`
	SecretKeyRevokedAt *time.Time `json:"secret_key_revoked_at"`
	LegacyKeys         bool       `json:"legacy_keys"`
	AnonKey            string     `json:"anon_key"`
	ServiceRoleKey     string     `json:"service_role_key"`
	JWKSURL            string     `json:"jwks_url"`
	SigningKeys        []struct {
		KID         string     `json:"kid"`
		Algorithm   string     `json:"algorithm"`
		Status      string     `json:"status"`
		Since       time.Time  `json:"since"`
		RetireAfter *time.Time `json:"retire_after"`
	} `json:"signing_keys"`
}

// The keys commands on a stopped tenant (the running tenant's reload is
// TestKeysLifecycle's, in pkg/runtime/embedded): what each prints, what it
// changes in .env, and the signing-key stages timed with a test clock.
func TestServerKeys(t *testing.T) {
	t.Parallel()
	u, base := newOperator(t)
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	u.now = func() time.Time { return clock }
	u.run("", "server", "init", "-t", "k").ok(t)
	keys := func(args ...string) keysJSON {
		t.Helper()
		var k keysJSON
		u.run("", append([]string{"server", "keys", "-t", "k", "--json"}, args...)...).ok(t).json(t, &k)
		return k
	}

	k := keys()
	if tenant.CheckOpaqueKey(k.PublishableKey, tenant.PublishableKeyPrefix) != nil || k.SecretKey != "" || k.ServiceRoleKey != "" ||
		k.AnonKey == "" || !k.LegacyKeys || k.JWKSURL != k.URL+"/auth/v1/.well-known/jwks.json" ||
		len(k.SigningKeys) != 1 || k.SigningKeys[0].Status != "current" || k.SigningKeys[0].Algorithm != "ES256" {
		t.Fatalf("keys of a new tenant: %+v", k)
	}
	secret := keys("--secret", "--service-role")
	if tenant.CheckOpaqueKey(secret.SecretKey, tenant.SecretKeyPrefix) != nil || secret.ServiceRoleKey == "" {
		t.Fatalf("keys --secret --service-role: %+v", secret)
	}
	human := u.run("", "server", "keys", "-t", "k", "--secret").ok(t)
	for _, want := range []string{"publishable key:", k.PublishableKey, "secret key:", secret.SecretKey, "JWKS:", "signing key:"} {
		if !strings.Contains(human.out, want) {
			t.Errorf("keys --secret lacks %q:\n%s", want, human.out)
		}
	}
	if !strings.Contains(human.errOut, "bypass row-level security") {
		t.Errorf("no warning with --secret: %s", human.errOut)
	}
	if strings.Contains(u.run("", "server", "keys", "-t", "k").ok(t).out, secret.SecretKey) {
		t.Error("the secret key is printed without --secret")
	}

	// rotate and revoke the secret key.
	r := u.run("", "server", "keys", "rotate", "-t", "k").ok(t)
	if !strings.Contains(r.errOut, "Made a new secret key") || !strings.Contains(r.errOut, "not running") || strings.Contains(r.out+r.errOut, "sb_secret_") {
		t.Errorf("rotate: %s", r)
	}
	rotated := keys("--secret")
	if rotated.SecretKey == secret.SecretKey || tenant.CheckOpaqueKey(rotated.SecretKey, tenant.SecretKeyPrefix) != nil || rotated.PublishableKey != k.PublishableKey {
		t.Errorf("after rotate: %+v", rotated)
	}
	u.run("", "server", "keys", "revoke", "-t", "k").ok(t)
	revoked := keys("--secret")
	if revoked.SecretKey != "" || revoked.SecretKeyRevokedAt == nil || !revoked.SecretKeyRevokedAt.Equal(clock) {
		t.Errorf("after revoke: %+v", revoked)
	}
	if out := u.run("", "server", "keys", "-t", "k", "--secret").ok(t).out; !strings.Contains(out, "(revoked 2026-12-01T09:00:00Z") {
		t.Errorf("keys after revoke: %s", out)
	}
	u.run("", "server", "keys", "revoke", "-t", "k").fails(t, cmdutil.ExitFailure, "there is none")
	env, _ := os.ReadFile(filepath.Join(base, "tenants", "k", ".env"))
	if strings.Contains(string(env), rotated.SecretKey) || strings.Contains(string(env), secret.SecretKey) {
		t.Error(".env still holds a replaced or revoked secret key")
	}
	if fi, _ := os.Stat(filepath.Join(base, "tenants", "k", ".env")); fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %04o after the key commands", fi.Mode().Perm())
	}

	// The signing-key stages, with the clock.
	first := k.SigningKeys[0].KID
	u.run("", "server", "keys", "rotate-signing", "promote", "-t", "k").fails(t, cmdutil.ExitUsage, "no standby key", "rotate-signing standby")
	u.run("", "server", "keys", "rotate-signing", "standby", "-t", "k").ok(t)
	u.run("", "server", "keys", "rotate-signing", "standby", "-t", "k").fails(t, cmdutil.ExitUsage, "already exists")
	st := u.run("", "server", "keys", "rotate-signing", "-t", "k").ok(t)
	if !strings.Contains(st.errOut, "Next: promote the standby key") || !strings.Contains(st.out, "standby since") {
		t.Errorf("rotate-signing status: %s", st)
	}
	clock = clock.Add(20 * time.Minute)
	u.run("", "server", "keys", "rotate-signing", "promote", "-t", "k").ok(t)
	promoted := keys()
	if len(promoted.SigningKeys) != 2 || promoted.SigningKeys[0].Status != "current" || promoted.SigningKeys[0].KID == first ||
		promoted.SigningKeys[1].KID != first || promoted.SigningKeys[1].Status != "previous" || promoted.SigningKeys[1].RetireAfter == nil ||
		!promoted.SigningKeys[1].RetireAfter.Equal(clock.Add(time.Hour+tenant.RetireMargin)) {
		t.Fatalf("after promote: %+v", promoted.SigningKeys)
	}
	clock = clock.Add(time.Hour)
	u.run("", "server", "keys", "rotate-signing", "retire", "-t", "k").fails(t, cmdutil.ExitUsage, "may still have signed unexpired tokens", "--force")
	clock = clock.Add(tenant.RetireMargin)
	u.run("", "server", "keys", "rotate-signing", "retire", "-t", "k").ok(t)
	if after := keys(); len(after.SigningKeys) != 1 || after.SigningKeys[0].KID != promoted.SigningKeys[0].KID {
		t.Errorf("after retire: %+v", after.SigningKeys)
	}
	u.run("", "server", "keys", "rotate-signing", "retire", "-t", "k").fails(t, cmdutil.ExitUsage, "no previous key")

	// Legacy keys off: no legacy keys printed, and tenant.yaml says so.
	u.run("", "server", "keys", "legacy", "maybe", "-t", "k").fails(t, cmdutil.ExitUsage, "on or off")
	u.run("", "server", "keys", "legacy", "off", "-t", "k").ok(t)
	if off := keys("--service-role"); off.LegacyKeys || off.AnonKey != "" || off.ServiceRoleKey != "" {
		t.Errorf("keys with legacy off: %+v", off)
	}
	if yml, _ := os.ReadFile(filepath.Join(base, "tenants", "k", "tenant.yaml")); !strings.Contains(string(yml), "legacy_keys: false") {
		t.Errorf("tenant.yaml after legacy off:\n%s", yml)
	}
	if r := u.run("", "server", "keys", "-t", "k", "--service-role").ok(t); !strings.Contains(r.errOut, "Legacy keys are off") {
		t.Errorf("--service-role with legacy off: %s", r)
	}
	// A worker command for the tenant now has no key to use.
	u.run("", "task", "report", "00000000-0000-4000-8000-000000000001", "-t", "k", "--progress", "1").fails(t, cmdutil.ExitAuth, "sfp server keys rotate -t k")
}
