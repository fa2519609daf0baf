package docker

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// gotrueEnv is the auth service's environment as compose renders it from
// the tenant's files.
func gotrueEnv(t *testing.T, tn *tenant.Tenant) map[string]string {
	t.Helper()
	p := loadProject(t, tn.Dir, tn)
	out := map[string]string{}
	for k, v := range p.Services["auth"].Environment {
		out[k] = deref(v)
	}
	for k, v := range p.Services["auth-migrations"].Environment {
		if out[k] != deref(v) {
			t.Errorf("auth-migrations has %s=%q, auth %q", k, deref(v), out[k])
		}
	}
	return out
}

func reinit(t *testing.T, tn *tenant.Tenant) {
	t.Helper()
	if err := New(Options{BuildContext: repoRoot(t)}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
}

// Without SMTP, GoTrue could send no confirmation mail: sign-ups are
// confirmed automatically, whatever auth.autoconfirm says.
func TestMailWithoutSMTP(t *testing.T) {
	tn := dockerTenant(t, Options{})
	if !tn.Config.Auth.Autoconfirm {
		t.Error("a new docker tenant does not confirm sign-ups automatically")
	}
	env := gotrueEnv(t, tn)
	if env["GOTRUE_MAILER_AUTOCONFIRM"] != "true" || env["GOTRUE_SMTP_HOST"] != "" {
		t.Errorf("no SMTP: GOTRUE_MAILER_AUTOCONFIRM=%q GOTRUE_SMTP_HOST=%q", env["GOTRUE_MAILER_AUTOCONFIRM"], env["GOTRUE_SMTP_HOST"])
	}
	tn.Config.Auth.Autoconfirm = false // as a tenant from before this release may say
	reinit(t, tn)
	if got := gotrueEnv(t, tn)["GOTRUE_MAILER_AUTOCONFIRM"]; got != "true" {
		t.Errorf("autoconfirm false without SMTP: GOTRUE_MAILER_AUTOCONFIRM=%q, want true (users could never confirm)", got)
	}
}

func TestMailWithSMTP(t *testing.T) {
	tn := dockerTenant(t, Options{})
	tn.Config.Auth.Autoconfirm = false
	tn.Config.Auth.SMTP = tenant.SMTPConfig{Host: "smtp.acme.test", Port: 2525, User: "mailer", AdminEmail: "noreply@acme.test", SenderName: "Acme Ops"}
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	tn.Secrets.Extra["SMTP_PASS"] = "smtp-secret-value"
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	reinit(t, tn)
	env := gotrueEnv(t, tn)
	for k, want := range map[string]string{
		"GOTRUE_SMTP_HOST":          "smtp.acme.test",
		"GOTRUE_SMTP_PORT":          "2525",
		"GOTRUE_SMTP_USER":          "mailer",
		"GOTRUE_SMTP_PASS":          "smtp-secret-value",
		"GOTRUE_SMTP_ADMIN_EMAIL":   "noreply@acme.test",
		"GOTRUE_SMTP_SENDER_NAME":   "Acme Ops",
		"GOTRUE_MAILER_AUTOCONFIRM": "false",
		// The links in the mails lead through the gateway's open route.
		"GOTRUE_MAILER_URLPATHS_CONFIRMATION": "/auth/v1/verify",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	cfg, err := os.ReadFile(tn.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "smtp-secret-value") {
		t.Error("tenant.yaml holds the SMTP password")
	}
	if fi, err := os.Stat(tn.EnvFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf(".env (which holds SMTP_PASS) mode: %v %v", fi.Mode().Perm(), err)
	}
	loaded, err := tenant.Load(strings.TrimSuffix(tn.Dir, "/tenants/acme"), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Config.Auth.SMTP != tn.Config.Auth.SMTP {
		t.Errorf("tenant.yaml round trip: %+v", loaded.Config.Auth.SMTP)
	}

	tn.Config.Auth.Autoconfirm = true
	reinit(t, tn)
	if got := gotrueEnv(t, tn)["GOTRUE_MAILER_AUTOCONFIRM"]; got != "true" {
		t.Errorf("autoconfirm with SMTP: %q", got)
	}
}

// A tenant from before auth.smtp kept its mail settings in .env; they move
// to tenant.yaml instead of being overwritten.
func TestMailSettingsMoveFromEnv(t *testing.T) {
	tn := dockerTenant(t, Options{})
	for k, v := range map[string]string{"SMTP_HOST": "mail.acme.test", "SMTP_PORT": "465", "SMTP_USER": "u",
		"SMTP_ADMIN_EMAIL": "ops@acme.test", "SMTP_SENDER_NAME": "Acme", "SMTP_PASS": "pw"} {
		tn.Secrets.Extra[k] = v
	}
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	tn.Config.Auth.Autoconfirm = false
	reinit(t, tn)
	want := tenant.SMTPConfig{Host: "mail.acme.test", Port: 465, User: "u", AdminEmail: "ops@acme.test", SenderName: "Acme"}
	if tn.Config.Auth.SMTP != want {
		t.Errorf("auth.smtp = %+v, want %+v", tn.Config.Auth.SMTP, want)
	}
	raw, _ := os.ReadFile(tn.ConfigFile())
	if !strings.Contains(string(raw), "host: mail.acme.test") {
		t.Errorf("tenant.yaml was not saved with auth.smtp:\n%s", raw)
	}
	env := gotrueEnv(t, tn)
	if env["GOTRUE_SMTP_HOST"] != "mail.acme.test" || env["GOTRUE_SMTP_PORT"] != "465" || env["GOTRUE_SMTP_PASS"] != "pw" || env["GOTRUE_MAILER_AUTOCONFIRM"] != "false" {
		t.Errorf("GoTrue's mail settings after the move: %v", env)
	}
}
