package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// TestServerAuthProvider configures OAuth providers of a stopped tenant
// with the real binary: the settings land in tenant.yaml, the secret in
// .env (0600) and nowhere in the output.
func TestServerAuthProvider(t *testing.T) {
	t.Parallel()
	u, base := newOperator(t)
	u.run("", "server", "init", "-t", "p").ok(t)

	secretFile := writeTemp(t, "github.secret", "gh-s3cret-value\n")
	r := u.run("", "server", "auth", "provider", "set", "github", "-t", "p", "--client-id", "Iv1.abc", "--secret-file", secretFile).ok(t)
	if strings.Contains(r.out+r.errOut, "gh-s3cret-value") || !strings.Contains(r.errOut, "/auth/v1/callback") || !strings.Contains(r.errOut, "not running") {
		t.Fatalf("set github: %s", r)
	}
	// keycloak needs its realm URL; the secret comes from stdin.
	u.run("kc-secret\n", "server", "auth", "provider", "set", "keycloak", "-t", "p", "--client-id", "sfp", "--secret-file", "-").
		fails(t, cmdutil.ExitUsage, "auth.external.keycloak.url")
	u.run("kc-secret\n", "server", "auth", "provider", "set", "keycloak", "-t", "p", "--client-id", "sfp", "--secret-file", "-",
		"--url", "https://sso.acme.test/realms/acme").ok(t)
	// No secret given and none stored.
	u.run("", "server", "auth", "provider", "set", "gitlab", "-t", "p", "--client-id", "gl").fails(t, cmdutil.ExitUsage, "--secret-file")
	u.run("\n", "server", "auth", "provider", "set", "gitlab", "-t", "p", "--client-id", "gl", "--secret-file", "-").fails(t, cmdutil.ExitUsage, "holds no secret")

	tn, err := tenant.Load(base, "p")
	if err != nil {
		t.Fatal(err)
	}
	gh, kc := tn.Config.Auth.External["github"], tn.Config.Auth.External["keycloak"]
	if !gh.Enabled || gh.ClientID != "Iv1.abc" || !kc.Enabled || kc.URL != "https://sso.acme.test/realms/acme" {
		t.Fatalf("tenant.yaml: %+v", tn.Config.Auth.External)
	}
	if _, ok := tn.Config.Auth.External["gitlab"]; ok {
		t.Fatal("a refused set was saved")
	}
	if tn.Secrets.Extra["GOTRUE_EXTERNAL_GITHUB_SECRET"] != "gh-s3cret-value" || tn.Secrets.Extra["GOTRUE_EXTERNAL_KEYCLOAK_SECRET"] != "kc-secret" {
		t.Fatal(".env does not hold the secrets")
	}
	if fi, err := os.Stat(tn.EnvFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf(".env: %v %v", fi, err)
	}
	yaml, _ := os.ReadFile(tn.ConfigFile())
	if strings.Contains(string(yaml), "s3cret") {
		t.Fatal("tenant.yaml holds a secret")
	}

	var list []struct {
		Name      string `json:"name"`
		Enabled   bool   `json:"enabled"`
		SecretSet bool   `json:"secret_set"`
	}
	r = u.run("", "server", "auth", "provider", "list", "-t", "p", "--json").ok(t)
	r.json(t, &list)
	if len(list) != 5 || strings.Contains(r.out, "s3cret") {
		t.Fatalf("list: %s", r.out)
	}
	for _, p := range list {
		if want := p.Name == "github" || p.Name == "keycloak"; p.Enabled != want || p.SecretSet != want {
			t.Errorf("list: %+v", p)
		}
	}
	u.run("", "server", "auth", "provider", "disable", "github", "-t", "p").ok(t)
	tn, _ = tenant.Load(base, "p")
	if tn.Config.Auth.External["github"].Enabled || tn.Secrets.Extra["GOTRUE_EXTERNAL_GITHUB_SECRET"] == "" {
		t.Fatalf("after disable: %+v", tn.Config.Auth.External["github"])
	}
	if !strings.Contains(u.run("", "server", "auth", "provider", "list", "-t", "p").ok(t).out, "github") {
		t.Fatal("list lost github")
	}
}
