package docker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sfp-dev/sfp/pkg/server/authserver"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// A tenant without SAML gives GoTrue SAML off and no key; enabling it in
// tenant.yaml makes the SP key in .env (0600) and hands GoTrue both, and
// the key survives a second init unchanged.
func TestSAMLEnvironment(t *testing.T) {
	tn := dockerTenant(t, Options{})
	env := gotrueEnv(t, tn)
	if env["GOTRUE_SAML_ENABLED"] != "false" || env["GOTRUE_SAML_PRIVATE_KEY"] != "" {
		t.Fatalf("SAML off: GOTRUE_SAML_ENABLED=%q, GOTRUE_SAML_PRIVATE_KEY set=%v", env["GOTRUE_SAML_ENABLED"], env["GOTRUE_SAML_PRIVATE_KEY"] != "")
	}
	if tn.Secrets.SAMLPrivateKey != "" {
		t.Fatal("a SAML key was made for a tenant without SAML")
	}

	tn.Config.Auth.SAML.Enabled = true
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	reinit(t, tn)
	loaded, err := tenant.Load(filepath.Dir(filepath.Dir(tn.Dir)), tn.Name())
	if err != nil {
		t.Fatal(err)
	}
	key := loaded.Secrets.SAMLPrivateKey
	if _, err := authserver.ParseSAMLPrivateKey(key); err != nil {
		t.Fatalf("SAML_PRIVATE_KEY in .env is not a key GoTrue accepts: %v", err)
	}
	if fi, err := os.Stat(tn.EnvFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf(".env: %v, mode %v", err, fi.Mode())
	}
	env = gotrueEnv(t, tn)
	if env["GOTRUE_SAML_ENABLED"] != "true" || env["GOTRUE_SAML_PRIVATE_KEY"] != key {
		t.Errorf("SAML on: GOTRUE_SAML_ENABLED=%q, GOTRUE_SAML_PRIVATE_KEY is the .env key: %v", env["GOTRUE_SAML_ENABLED"], env["GOTRUE_SAML_PRIVATE_KEY"] == key)
	}
	reinit(t, tn)
	again, err := tenant.Load(filepath.Dir(filepath.Dir(tn.Dir)), tn.Name())
	if err != nil {
		t.Fatal(err)
	}
	if again.Secrets.SAMLPrivateKey != key {
		t.Error("a second init replaced the SAML key (IdPs set up with the old certificate would stop working)")
	}
}
