package tenant

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestCreateAndLoad(t *testing.T) {
	base := t.TempDir()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tn := mustCreate(t, base, CreateOptions{Name: "acme", Admin: AdminConfig{Email: "admin@acme.test", Account: "Acme"}, AdminPassword: "correct horse", Now: now})
	if tn.Dir != filepath.Join(base, "tenants", "acme") {
		t.Errorf("dir %s", tn.Dir)
	}
	fi, err := os.Stat(tn.EnvFile())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %04o, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{tn.RunDir(), tn.LogDir()} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, err, fi)
		}
	}
	got, err := Load(base, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.API.Port == 0 || got.Config.Postgres.Port == 0 || got.Config.Runtime != RuntimeEmbedded {
		t.Errorf("config %+v", got.Config)
	}
	if got.Secrets.JWTSecret != tn.Secrets.JWTSecret || len(got.Secrets.JWTSecret) < 32 {
		t.Error("JWT secret not round-tripped")
	}
	for key, role := range map[string]string{got.Secrets.AnonKey: "anon", got.Secrets.ServiceRoleKey: "service_role"} {
		r, err := ParseAPIKey([]byte(got.Secrets.JWTSecret), key)
		if err != nil || r != role {
			t.Errorf("key for %s: role %q err %v", role, r, err)
		}
	}
	if err := bcrypt.CompareHashAndPassword([]byte(got.Secrets.AdminPasswordHash), []byte("correct horse")); err != nil {
		t.Errorf("admin password hash: %v", err)
	}
	env, _ := os.ReadFile(tn.EnvFile())
	if strings.Contains(string(env), "correct horse") {
		t.Error(".env holds the admin password in plaintext")
	}
	yml, _ := os.ReadFile(tn.ConfigFile())
	if strings.Contains(string(yml), got.Secrets.JWTSecret) || strings.Contains(string(yml), got.Secrets.PostgresPassword) {
		t.Error("tenant.yaml holds a secret")
	}
}

func TestCreateRefusesExistingWithoutForce(t *testing.T) {
	base := t.TempDir()
	first := mustCreate(t, base, CreateOptions{Name: "one"})
	if _, err := Create(base, CreateOptions{Name: "one"}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second create: %v", err)
	}
	again := mustCreate(t, base, CreateOptions{Name: "one", Force: true})
	if again.Secrets.JWTSecret == first.Secrets.JWTSecret {
		t.Error("--force kept the old secrets")
	}
}

func TestTwoTenantsShareNothing(t *testing.T) {
	base := t.TempDir()
	a := mustCreate(t, base, CreateOptions{Name: "a"})
	b := mustCreate(t, base, CreateOptions{Name: "b"})
	ports := map[int]bool{a.Config.API.Port: true, a.Config.Postgres.Port: true}
	if ports[b.Config.API.Port] || ports[b.Config.Postgres.Port] {
		t.Errorf("ports collide: a %+v b %+v", a.Config, b.Config)
	}
	if a.Secrets.JWTSecret == b.Secrets.JWTSecret || a.Secrets.PostgresPassword == b.Secrets.PostgresPassword {
		t.Error("secrets shared")
	}
	if _, err := ParseAPIKey([]byte(b.Secrets.JWTSecret), a.Secrets.AnonKey); err == nil {
		t.Error("a's key verifies with b's secret")
	}
	list, errs := List(base)
	if len(errs) != 0 || len(list) != 2 || list[0].Name() != "a" || list[1].Name() != "b" {
		t.Errorf("list %v %v", list, errs)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "acme", "acme-prod", "t1", "0x"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Acme", "-a", "a-", "a_b", "a.b", "../x", strings.Repeat("a", 41)} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBrokenConfigFiles(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "x"})
	good, _ := os.ReadFile(tn.ConfigFile())
	env, _ := os.ReadFile(tn.EnvFile())
	// broken writes each case's content over file in turn (its mode stays
	// as it is), wants Load to fail saying so, and puts back content.
	broken := func(file string, content []byte, cases map[string]struct{ content, want string }) {
		t.Helper()
		for name, c := range cases {
			os.WriteFile(file, []byte(c.content), 0o600)
			_, err := Load(base, "x")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: want error containing %q, got %v", name, c.want, err)
			}
		}
		os.WriteFile(file, content, 0o600)
	}
	broken(tn.ConfigFile(), good, map[string]struct{ content, want string }{
		"bad yaml":      {"name: x\napi: [\n", "tenant.yaml"},
		"unknown field": {string(good) + "colour: blue\n", "field colour not found"},
		"bad port":      {strings.Replace(string(good), "port: ", "port: 70000 #", 1), "api.port: 70000"},
		"other name":    {strings.Replace(string(good), "name: x", "name: y", 1), `names it "y"`},
	})
	broken(tn.EnvFile(), env, map[string]struct{ content, want string }{
		"no equals":    {string(env) + "BROKEN LINE\n", fmt.Sprintf(".env:%d: expected KEY=VALUE", strings.Count(string(env), "\n")+1)},
		"missing key":  {strings.Replace(string(env), "JWT_SECRET=", "IGNORED=", 1), "does not set JWT_SECRET"},
		"duplicate":    {string(env) + "ANON_KEY=x\n", "ANON_KEY is set twice"},
		"unterminated": {string(env) + "X=\"abc\n", "unterminated"},
	})
	os.Chmod(tn.EnvFile(), 0o644)
	if _, err := Load(base, "x"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable .env: %v", err)
	}
	if _, err := Load(base, "nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sfp server init -t nope") {
		t.Errorf("missing tenant: %v", err)
	}
}

func TestExtraEnvPreserved(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "x"})
	tn.Secrets.Extra["KONG_HTTP_PORT"] = "8000"
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(base, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets.Extra["KONG_HTTP_PORT"] != "8000" {
		t.Errorf("extra %v", got.Secrets.Extra)
	}
}

func TestRunLock(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "x"})
	if running, _ := tn.Running(); running {
		t.Fatal("running before lock")
	}
	l, err := tn.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if running, pid := tn.Running(); !running || pid != os.Getpid() {
		t.Errorf("running=%v pid=%d", running, pid)
	}
	if _, err := tn.Lock(); !errors.Is(err, ErrRunning) || strings.Count(err.Error(), "already running") != 1 {
		t.Errorf("second lock: %v", err)
	}
	if _, err := Create(base, CreateOptions{Name: "x", Force: true}); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("force over a running tenant: %v", err)
	}
	l.Release()
	if running, _ := tn.Running(); running {
		t.Fatal("running after release")
	}
}

func TestPortFlags(t *testing.T) {
	base := t.TempDir()
	a := mustCreate(t, base, CreateOptions{Name: "a", APIPort: 61234})
	if a.Config.API.Port != 61234 {
		t.Errorf("port %d", a.Config.API.Port)
	}
	if _, err := Create(base, CreateOptions{Name: "b", APIPort: 61234}); err == nil || !strings.Contains(err.Error(), "another tenant") {
		t.Errorf("reused port: %v", err)
	}
}

// TestPortStart: SFP_PORT_START moves where new tenants look for free
// ports; a value that is no usable port is refused with its name.
func TestPortStart(t *testing.T) {
	base := t.TempDir()
	t.Setenv("SFP_PORT_START", "31200")
	tn := mustCreate(t, base, CreateOptions{Name: "moved"})
	api, db := tn.Config.API.Port, tn.Config.Postgres.Port
	if api < 31200 || api > 33200 || db <= api {
		t.Fatalf("ports %d (api) and %d (db) from SFP_PORT_START=31200", api, db)
	}
	for _, bad := range []string{"80", "http", "70000"} {
		t.Setenv("SFP_PORT_START", bad)
		if _, err := Create(base, CreateOptions{Name: "bad"}); err == nil || !strings.Contains(err.Error(), "SFP_PORT_START") {
			t.Errorf("SFP_PORT_START=%s: %v", bad, err)
		}
	}
}

// The restart policy of the embedded runtime's supervisor: defaults when
// absent (a tenant.yaml from before it existed), edited values kept, and
// values that make no sense refused naming the setting.
func TestRestartSettings(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "r"})
	good, _ := os.ReadFile(tn.ConfigFile())
	if !strings.Contains(string(good), "max_crashes: 5") || !strings.Contains(string(good), "window: 10m0s") {
		t.Errorf("a new tenant.yaml does not show the restart defaults:\n%s", good)
	}
	restart := func(body string) string {
		i := strings.Index(string(good), "  restart:\n")
		if i < 0 {
			t.Fatalf("no postgres.restart in\n%s", good)
		}
		rest := string(good)[i:]
		end := strings.Index(rest, "window: 10m0s\n") + len("window: 10m0s\n")
		return string(good)[:i] + body + rest[end:]
	}
	cases := []struct {
		name, yaml string
		crashes    int
		window     time.Duration
		wantErr    string
	}{
		{"absent", restart(""), DefaultMaxCrashes, DefaultRestartWindow, ""},
		{"edited", restart("  restart:\n    max_crashes: 2\n    window: 90s\n"), 2, 90 * time.Second, ""},
		{"negative", restart("  restart:\n    max_crashes: -1\n"), 0, 0, "postgres.restart.max_crashes: -1"},
		{"short window", restart("  restart:\n    window: 10ms\n"), 0, 0, "postgres.restart.window: 10ms"},
		{"bare number", restart("  restart:\n    window: 600\n"), 0, 0, "into time.Duration"}, // the YAML error names the line
	}
	for _, c := range cases {
		got := loadConfigCase(t, base, tn, c.name, c.yaml, c.wantErr)
		if got == nil {
			continue
		}
		if r := got.Config.Postgres.Restart; r.MaxCrashes != c.crashes || r.Window != c.window {
			t.Errorf("%s: restart %+v, want %d in %s", c.name, r, c.crashes, c.window)
		}
	}
}

// The limits have defaults, are written to tenant.yaml at creation (so an
// operator finds them), and are validated with errors naming the setting.
func TestLimitSettings(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "limits"})
	yml, _ := os.ReadFile(tn.ConfigFile())
	for _, want := range []string{"read_header_timeout: 10s", "read_body_timeout: 30s", "max_connections: 10000",
		"realtime:", "max_concurrent_users: 200", "max_channels_per_client: 100", "max_joins_per_second: 100", "max_events_per_second: 100",
		"max_dispatch_lag: 10s", "message_retention: 72h0m0s"} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("tenant.yaml lacks %q:\n%s", want, yml)
		}
	}

	// A tenant.yaml written before the limits existed gets the defaults.
	old := strings.NewReplacer("    read_header_timeout: 10s\n", "", "    read_body_timeout: 30s\n", "", "    max_connections: 10000\n", "").Replace(string(yml))
	old = old[:strings.Index(old, "realtime:")] // the last section
	if err := os.WriteFile(tn.ConfigFile(), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(base, "limits")
	if err != nil {
		t.Fatalf("load %s: %v", old, err)
	}
	if got.Config.API.APILimits != (APILimits{ReadHeaderTimeout: Duration(10 * time.Second), ReadBodyTimeout: Duration(30 * time.Second), MaxConnections: 10000}) ||
		got.Config.Realtime != (RealtimeConfig{200, 100, 100, 100, DefaultMaxDispatchLag, DefaultMessageRetention}) {
		t.Errorf("defaults: %+v %+v", got.Config.API.APILimits, got.Config.Realtime)
	}
	var cfg Config
	raw := "name: limits\nruntime: embedded\npostgres:\n  port: 5433\napi:\n  port: 5432\n  read_header_timeout: 2\n  read_body_timeout: 1m30s\n"
	if err := decodeConfig([]byte(raw), "tenant.yaml", &cfg); err != nil || cfg.API.ReadHeaderTimeout != Duration(2*time.Second) || cfg.API.ReadBodyTimeout != Duration(90*time.Second) {
		t.Errorf("durations: %v %+v", err, cfg.API.APILimits)
	}

	for _, tc := range []struct {
		yaml, setting string
	}{
		{"api:\n  read_body_timeout: soon\n", `"soon" is not a duration`},
		{"api:\n  read_body_timeout: 7200\n", "api.read_body_timeout"},
		{"api:\n  read_body_timeout: 2h\n", "api.read_body_timeout"},
		{"api:\n  read_header_timeout: 1ms\n", "api.read_header_timeout"},
		{"api:\n  max_connections: -5\n", "api.max_connections"},
		{"realtime:\n  max_concurrent_users: -1\n", "realtime.max_concurrent_users"},
		{"realtime:\n  max_channels_per_client: -1\n", "realtime.max_channels_per_client"},
		{"realtime:\n  max_joins_per_second: -1\n", "realtime.max_joins_per_second"},
		{"realtime:\n  max_events_per_second: -1\n", "realtime.max_events_per_second"},
		{"realtime:\n  max_dispatch_lag: 100ms\n", "realtime.max_dispatch_lag"},
		{"realtime:\n  max_dispatch_lag: 2h\n", "realtime.max_dispatch_lag"},
		{"realtime:\n  message_retention: 10m\n", "realtime.message_retention"},
	} {
		var cfg Config
		raw := "name: limits\nruntime: embedded\npostgres:\n  port: 5433\n" + strings.Replace(tc.yaml, "api:\n", "api:\n  port: 5432\n", 1)
		if !strings.HasPrefix(tc.yaml, "api:") {
			raw += "api:\n  port: 5432\n"
		}
		err := decodeConfig([]byte(raw), "tenant.yaml", &cfg)
		if err == nil || !strings.Contains(err.Error(), tc.setting) {
			t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.setting)
		}
	}
}

// auth.smtp: absent by default (no mail, sign-ups confirmed automatically),
// port 587 unless set, validated with errors naming the setting.
func TestSMTPSettings(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "m", Runtime: RuntimeDocker})
	good, _ := os.ReadFile(tn.ConfigFile())
	if strings.Contains(string(good), "smtp") {
		t.Errorf("a new tenant.yaml has SMTP settings:\n%s", good)
	}
	if !tn.Config.Auth.Autoconfirm || tn.Config.Auth.MailEnabled() || !tn.Config.Auth.EffectiveAutoconfirm() {
		t.Errorf("a new docker tenant: autoconfirm %v, mail %v", tn.Config.Auth.Autoconfirm, tn.Config.Auth.MailEnabled())
	}
	withAuth := func(body string) string {
		return strings.Replace(string(good), "  autoconfirm: true\n", body, 1)
	}
	cases := []struct {
		name, yaml string
		want       SMTPConfig
		auto       bool // effective autoconfirm
		wantErr    string
	}{
		{"autoconfirm off without mail", withAuth("  autoconfirm: false\n"), SMTPConfig{}, true, ""},
		{"smtp, default port", withAuth("  autoconfirm: false\n  smtp:\n    host: smtp.example.com\n    admin_email: no-reply@example.com\n"),
			SMTPConfig{Host: "smtp.example.com", Port: 587, AdminEmail: "no-reply@example.com"}, false, ""},
		{"smtp, everything", withAuth("  autoconfirm: true\n  smtp:\n    host: 10.0.0.5\n    port: 2525\n    user: apikey\n    admin_email: ops@acme.test\n    sender_name: Acme\n"),
			SMTPConfig{Host: "10.0.0.5", Port: 2525, User: "apikey", AdminEmail: "ops@acme.test", SenderName: "Acme"}, true, ""},
		{"no admin email", withAuth("  smtp:\n    host: smtp.example.com\n"), SMTPConfig{}, false, "auth.smtp.admin_email: required"},
		{"bad admin email", withAuth("  smtp:\n    host: smtp.example.com\n    admin_email: ops\n"), SMTPConfig{}, false, `auth.smtp.admin_email: "ops" is not an email address`},
		{"host with port", withAuth("  smtp:\n    host: smtp.example.com:25\n    admin_email: a@b.c\n"), SMTPConfig{}, false, "auth.smtp.host"},
		{"bad port", withAuth("  smtp:\n    host: smtp.example.com\n    port: 70000\n    admin_email: a@b.c\n"), SMTPConfig{}, false, "auth.smtp.port: 70000"},
		{"settings without host", withAuth("  smtp:\n    user: u\n"), SMTPConfig{}, false, "auth.smtp: set host too"},
		{"password in yaml", withAuth("  smtp:\n    host: h\n    admin_email: a@b.c\n    pass: x\n"), SMTPConfig{}, false, "field pass not found"},
	}
	for _, c := range cases {
		got := loadConfigCase(t, base, tn, c.name, c.yaml, c.wantErr)
		if got == nil {
			continue
		}
		if got.Config.Auth.SMTP != c.want || got.Config.Auth.EffectiveAutoconfirm() != c.auto {
			t.Errorf("%s: smtp %+v autoconfirm %v, want %+v %v", c.name, got.Config.Auth.SMTP, got.Config.Auth.EffectiveAutoconfirm(), c.want, c.auto)
		}
	}
}

// mustCreate creates a tenant in base, failing the test if it cannot.
func mustCreate(t *testing.T, base string, opts CreateOptions) *Tenant {
	t.Helper()
	tn, err := Create(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
