package docker

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

func serviceEnv(t *testing.T, p *types.Project, service, name string) string {
	t.Helper()
	s, ok := p.Services[service]
	if !ok {
		t.Fatalf("no service %s", service)
	}
	return deref(s.Environment[name])
}

// keysOf parses a JWT_KEYS or JWKS value.
func keysOf(t *testing.T, what, v string) ([]jwtkeys.Key, []byte) {
	t.Helper()
	keys, secret, err := jwtkeys.ParsePrivate([]byte(v))
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", what, err, v)
	}
	return keys, secret
}

// substitutedKong is the repository kong.yml as the kong container's
// entrypoint renders it for p, and the gateway's reading of it.
func substitutedKong(t *testing.T, p *types.Project) (string, *gateway.Config) {
	t.Helper()
	out := kongEntrypoint(t, p)(t, sfp.KongConfig())
	cfg, err := gateway.Parse(out, "kong.yml", nil)
	if err != nil {
		t.Fatalf("the substituted kong.yml does not load: %v", err)
	}
	return string(out), cfg
}

// The docker runtime hands the tenant's keys to the official images under
// their own settings, from the same .env the embedded runtime reads:
// GoTrue's GOTRUE_JWT_KEYS, PostgREST's jwt-secret as the JWKS, Realtime's
// API_JWT_JWKS, Kong's credentials and the role tokens it substitutes.
func TestComposeKeys(t *testing.T) {
	root := repoRoot(t)
	tn := dockerTenant(t, Options{})
	env := envOf(t, tn)
	p := loadProject(t, root, tn)
	s := tn.Secrets
	cur, _ := s.SigningKeyByStatus(tenant.SigningCurrent)

	gotrueKeys := serviceEnv(t, p, "auth", "GOTRUE_JWT_KEYS")
	if gotrueKeys != env["JWT_KEYS"] || !strings.HasPrefix(gotrueKeys, "[") {
		t.Fatalf("GOTRUE_JWT_KEYS = %q, want JWT_KEYS (a JSON array)", gotrueKeys)
	}
	keys, secret := keysOf(t, "GOTRUE_JWT_KEYS", gotrueKeys)
	if len(keys) != 1 || !keys[0].Sign || keys[0].ID != cur.ID || keys[0].Private == nil || string(secret) != s.JWTSecret {
		t.Errorf("GOTRUE_JWT_KEYS: the signing key and the legacy secret expected, got %+v", keys)
	}
	if got := serviceEnv(t, p, "auth-migrations", "GOTRUE_JWT_KEYS"); got != gotrueKeys {
		t.Error("auth's migration step has other keys than auth")
	}
	for service, name := range map[string]string{"rest": "PGRST_JWT_SECRET", "realtime": "API_JWT_JWKS"} {
		jwks := serviceEnv(t, p, service, name)
		if jwks != env["JWT_JWKS"] || !strings.HasPrefix(jwks, `{"keys":[`) || strings.Contains(jwks, `"d"`) {
			t.Errorf("%s %s = %s, want the public JWT_JWKS", service, name, jwks)
		}
		if _, secret := keysOf(t, name, jwks); string(secret) != s.JWTSecret {
			t.Errorf("%s %s lacks the legacy secret while legacy keys are on", service, name)
		}
	}
	if got := serviceEnv(t, p, "rest", "PGRST_APP_SETTINGS_JWT_SECRET"); got != "" {
		t.Error("PostgREST still hands the JWT secret to SQL (app.settings.jwt_secret)")
	}
	if got := serviceEnv(t, p, "realtime", "API_JWT_SECRET"); got != s.JWTSecret {
		t.Error("Realtime's API_JWT_SECRET is not the legacy secret while legacy keys are on")
	}
	health := strings.Join(p.Services["realtime"].HealthCheck.Test, " ")
	if !strings.Contains(health, s.AnonKeyAsymmetric) {
		t.Errorf("realtime's healthcheck does not use the ES256 anon token: %s", health)
	}
	for name, want := range map[string]string{
		"SUPABASE_ANON_KEY": s.AnonKey, "SUPABASE_SERVICE_KEY": s.ServiceRoleKey,
		"SUPABASE_PUBLISHABLE_KEY": s.PublishableKey, "SUPABASE_SECRET_KEY": s.SecretKey,
		"ANON_KEY_ASYMMETRIC": s.AnonKeyAsymmetric, "SERVICE_ROLE_KEY_ASYMMETRIC": s.ServiceRoleKeyAsymmetric,
	} {
		if got := serviceEnv(t, p, "kong", name); got != want || want == "" {
			t.Errorf("kong %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"SUPABASE_PUBLISHABLE_KEY", "SUPABASE_SECRET_KEY"} {
		if got := serviceEnv(t, p, "studio", name); got == "" {
			t.Errorf("studio gets no %s", name)
		}
	}

	// Kong reads the same mapping as the embedded gateway: four key
	// credentials, the role tokens in the request-transformer templates.
	out, cfg := substitutedKong(t, p)
	if n := strings.Count(out, "- key: "); n != 4 {
		t.Errorf("substituted kong.yml has %d key credentials, want 4", n)
	}
	for _, v := range []string{s.PublishableKey, s.SecretKey, s.AnonKeyAsymmetric, s.ServiceRoleKeyAsymmetric} {
		if !strings.Contains(out, v) {
			t.Errorf("the substituted kong.yml lacks %.20s…", v)
		}
	}
	if len(cfg.Consumers) != 3 {
		t.Errorf("consumers: %d", len(cfg.Consumers))
	}
}

// With legacy keys off, the docker tenant refuses them too: GoTrue and
// PostgREST get no HS256 key, Realtime an HS256 secret nobody signs with,
// Kong no legacy credential; a revoked secret key leaves Kong's file
// without its line.
func TestComposeKeysLegacyOffAndRevoked(t *testing.T) {
	root := repoRoot(t)
	tn := dockerTenant(t, Options{})
	off := false
	tn.Config.Auth.LegacyKeys = &off
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := tn.UpdateSecrets(func(s *tenant.Secrets) (bool, error) { return true, s.RevokeSecretKey(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if err := New(Options{BuildContext: root}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	p := loadProject(t, root, tn)
	s := tn.Secrets

	if _, secret := keysOf(t, "GOTRUE_JWT_KEYS", serviceEnv(t, p, "auth", "GOTRUE_JWT_KEYS")); secret != nil {
		t.Error("GoTrue still gets the HS256 key with legacy keys off")
	}
	for service, name := range map[string]string{"rest": "PGRST_JWT_SECRET", "realtime": "API_JWT_JWKS"} {
		if _, secret := keysOf(t, name, serviceEnv(t, p, service, name)); secret != nil {
			t.Errorf("%s %s still lists the legacy secret", service, name)
		}
	}
	if got := serviceEnv(t, p, "realtime", "API_JWT_SECRET"); got == s.JWTSecret || len(got) < 32 {
		t.Errorf("Realtime's API_JWT_SECRET with legacy keys off: %q", got)
	}
	for _, name := range []string{"SUPABASE_ANON_KEY", "SUPABASE_SERVICE_KEY", "SUPABASE_SECRET_KEY"} {
		if got := serviceEnv(t, p, "kong", name); got != "" {
			t.Errorf("kong %s = %q, want empty", name, got)
		}
	}
	out, cfg := substitutedKong(t, p)
	if n := strings.Count(out, "- key:"); n != 1 || !strings.Contains(out, "- key: "+s.PublishableKey) {
		t.Errorf("substituted kong.yml keeps %d key lines, want the publishable key's only", n)
	}
	for _, c := range cfg.Consumers {
		if c.Username == "service_role" && len(c.Groups) == 0 {
			t.Error("service_role lost its group")
		}
	}
	var states []struct{ Status string }
	if err := json.Unmarshal([]byte(envOf(t, tn)["SFP_JWT_KEY_STATES"]), &states); err != nil || len(states) != 1 || states[0].Status != "current" {
		t.Errorf("SFP_JWT_KEY_STATES: %+v %v", states, err)
	}
}

// A docker tenant made before the key model gets its keys on the next
// init or start, which render into the services' settings.
func TestComposeKeysUpgrade(t *testing.T) {
	root := repoRoot(t)
	tn := dockerTenant(t, Options{})
	raw, err := os.ReadFile(tn.EnvFile())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(raw), "\n") {
		name, _, _ := strings.Cut(l, "=")
		switch name {
		case "SUPABASE_PUBLISHABLE_KEY", "SUPABASE_SECRET_KEY", "JWT_KEYS", "JWT_JWKS", "SFP_JWT_KEY_STATES",
			"ANON_KEY_ASYMMETRIC", "SERVICE_ROLE_KEY_ASYMMETRIC":
			continue
		}
		kept = append(kept, l)
	}
	if err := os.WriteFile(tn.EnvFile(), []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := tenant.Load(tn.Dir[:strings.LastIndex(tn.Dir, "/tenants/")], "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := New(Options{BuildContext: root}).Init(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	env := envOf(t, old)
	for _, k := range []string{"SUPABASE_PUBLISHABLE_KEY", "SUPABASE_SECRET_KEY", "JWT_KEYS", "JWT_JWKS", "ANON_KEY_ASYMMETRIC"} {
		if env[k] == "" {
			t.Errorf("the upgraded .env lacks %s", k)
		}
	}
	p := loadProject(t, root, old)
	if serviceEnv(t, p, "auth", "GOTRUE_JWT_KEYS") != env["JWT_KEYS"] {
		t.Error("GOTRUE_JWT_KEYS is not the new JWT_KEYS")
	}
}
