package tenant

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// UpdateSecrets changes .env without losing another writer's change (the
// keys commands, a starting tenant adding its keys): under an exclusive
// lock it reads .env afresh, lets fn change the secrets, and writes them
// back atomically (mode 0600) when fn reports a change. Afterwards
// t.Secrets is what .env holds.
func (t *Tenant) UpdateSecrets(fn func(s *Secrets) (changed bool, err error)) error {
	if err := os.MkdirAll(t.RunDir(), 0o700); err != nil {
		return fmt.Errorf("update secrets: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(t.RunDir(), "secrets.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("update secrets: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("update secrets: lock: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	s, err := loadSecrets(t.EnvFile())
	if err != nil {
		return err
	}
	changed, err := fn(s)
	if err != nil {
		return err
	}
	prev := t.Secrets
	t.Secrets = s
	if !changed {
		return nil
	}
	if err := t.SaveSecrets(); err != nil {
		t.Secrets = prev
		return err
	}
	return nil
}

// KongEnv are the variables kong.yml refers to, as the tenant's gateway
// gets them. A key the tenant does not accept is empty — the legacy
// anon and service_role keys while auth.legacy_keys is off, the secret key
// once revoked — so its credential is dropped, as the official Kong
// entrypoint drops empty key lines.
func (t *Tenant) KongEnv() map[string]string {
	s := t.Secrets
	env := map[string]string{
		"SUPABASE_ANON_KEY":           s.AnonKey,
		"SUPABASE_SERVICE_KEY":        s.ServiceRoleKey,
		"SUPABASE_PUBLISHABLE_KEY":    s.PublishableKey,
		"SUPABASE_SECRET_KEY":         s.SecretKey,
		"ANON_KEY_ASYMMETRIC":         s.AnonKeyAsymmetric,
		"SERVICE_ROLE_KEY_ASYMMETRIC": s.ServiceRoleKeyAsymmetric,
		"DASHBOARD_USERNAME":          s.DashboardUsername,
		"DASHBOARD_PASSWORD":          s.DashboardPassword,
	}
	if !t.Config.Auth.LegacyKeysEnabled() {
		env["SUPABASE_ANON_KEY"], env["SUPABASE_SERVICE_KEY"] = "", ""
	}
	return env
}

// KeysVersion identifies the key configuration the tenant's servers run
// with (the keys the gateway accepts, the signing keys and their states,
// whether legacy tokens count): a running tenant reports the version it
// loaded, so a command that changed the keys can tell when they apply. It
// is a hash; it reveals nothing of the keys.
func (t *Tenant) KeysVersion() string {
	h := sha256.New()
	env := t.KongEnv()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "%s=%s\n", k, env[k])
	}
	for _, k := range orderedKeys(t.Secrets.SigningKeys) {
		fmt.Fprintf(h, "key=%s %s %d\n", k.ID, k.Status, k.RetireAfter.Unix())
	}
	fmt.Fprintf(h, "legacy=%s\n", strconv.FormatBool(t.Config.Auth.LegacyKeysEnabled()))
	// The OAuth providers are reloaded with the keys (external.go).
	fmt.Fprintf(h, "external=%s\n", t.externalFingerprint())
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Reload reads the tenant's tenant.yaml and .env again, into a new Tenant
// (a running tenant picks up changed keys with it; t is left as it was).
func (t *Tenant) Reload() (*Tenant, error) {
	return Load(filepath.Dir(filepath.Dir(t.Dir)), t.Config.Name)
}

// ClientKey is the API key a client of the tenant uses (the CLI logging in,
// a browser): the publishable key, else — for a tenant that has not started
// since it got the new keys — the legacy anon key while legacy keys are on.
func (t *Tenant) ClientKey() string {
	return t.keyOrLegacy(t.Secrets.PublishableKey, t.Secrets.AnonKey)
}

// WorkerKey is the API key a worker uses (service_role): the secret key,
// else the legacy service_role key while legacy keys are on; "" when the
// tenant has neither (its secret key revoked, legacy keys off).
func (t *Tenant) WorkerKey() string {
	return t.keyOrLegacy(t.Secrets.SecretKey, t.Secrets.ServiceRoleKey)
}

// keyOrLegacy is key, else the legacy key of the same role while legacy
// keys are on, else "".
func (t *Tenant) keyOrLegacy(key, legacy string) string {
	switch {
	case key != "":
		return key
	case t.Config.Auth.LegacyKeysEnabled():
		return legacy
	}
	return ""
}
