package embedded

import (
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The auth server's SAML settings come from tenant.yaml and .env: off
// without auth.saml.enabled; on, the key ensureKeys made and the tenant's
// URL; a key that is not usable is an error naming SAML_PRIVATE_KEY.
func TestSAMLConfig(t *testing.T) {
	tn, err := tenant.Create(t.TempDir(), tenant.CreateOptions{Name: "sso", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := samlConfig(tn); err != nil || c.Enabled {
		t.Fatalf("SAML off: %+v %v", c, err)
	}
	tn.Config.Auth.SAML.Enabled = true
	if err := ensureKeys(tn, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if tn.Secrets.SAMLPrivateKey == "" {
		t.Fatal("ensureKeys made no SAML key for a tenant with SAML on")
	}
	c, err := samlConfig(tn)
	if err != nil || !c.Enabled || c.PrivateKey == nil || c.ExternalURL != tn.URL() {
		t.Fatalf("SAML on: %+v %v", c, err)
	}
	tn.Secrets.SAMLPrivateKey = "bm90IGEga2V5"
	if _, err := samlConfig(tn); err == nil || !strings.Contains(err.Error(), "SAML_PRIVATE_KEY") {
		t.Fatalf("bad key: %v", err)
	}
}
