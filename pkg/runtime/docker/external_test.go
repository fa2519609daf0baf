package docker

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// TestComposeExternalProviders: tenant.yaml's auth.external and the
// secrets in .env reach GoTrue under its own variable names, as compose
// renders them; providers not configured are disabled.
func TestComposeExternalProviders(t *testing.T) {
	tn := dockerTenant(t, Options{})
	env := gotrueEnv(t, tn)
	if env["GOTRUE_EXTERNAL_GITHUB_ENABLED"] != "false" || env["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] != "false" {
		t.Fatalf("a new tenant has providers on: github %q, manual linking %q",
			env["GOTRUE_EXTERNAL_GITHUB_ENABLED"], env["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"])
	}
	tn.Config.Auth.External = map[string]tenant.ExternalProvider{
		"github":   {Enabled: true, ClientID: "Iv1.abc"},
		"keycloak": {Enabled: true, ClientID: "sfp", URL: "https://sso.acme.test/realms/acme"},
		"azure":    {Enabled: false, ClientID: "azure-app", URL: "https://login.microsoftonline.com/acme-tenant"},
	}
	tn.Config.Auth.ManualLinking = true
	tn.Config.Auth.AdditionalRedirectURLs = []string{"http://127.0.0.1:*/callback", "https://app.acme.test/**"}
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if err := tn.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
		s.Extra[tenant.ProviderSecretVar("github")] = "gh$ecret"
		s.Extra[tenant.ProviderSecretVar("keycloak")] = "kc-secret"
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	reinit(t, tn)
	env = gotrueEnv(t, tn)
	want := map[string]string{
		"GOTRUE_EXTERNAL_GITHUB_ENABLED":         "true",
		"GOTRUE_EXTERNAL_GITHUB_CLIENT_ID":       "Iv1.abc",
		"GOTRUE_EXTERNAL_GITHUB_SECRET":          "gh$ecret",
		"GOTRUE_EXTERNAL_GITHUB_REDIRECT_URI":    tn.URL() + "/auth/v1/callback",
		"GOTRUE_EXTERNAL_GITHUB_URL":             "",
		"GOTRUE_EXTERNAL_KEYCLOAK_ENABLED":       "true",
		"GOTRUE_EXTERNAL_KEYCLOAK_URL":           "https://sso.acme.test/realms/acme",
		"GOTRUE_EXTERNAL_KEYCLOAK_SECRET":        "kc-secret",
		"GOTRUE_EXTERNAL_AZURE_ENABLED":          "false",
		"GOTRUE_EXTERNAL_AZURE_CLIENT_ID":        "azure-app",
		"GOTRUE_EXTERNAL_GOOGLE_ENABLED":         "false",
		"GOTRUE_SECURITY_MANUAL_LINKING_ENABLED": "true",
		"GOTRUE_URI_ALLOW_LIST":                  "http://127.0.0.1:*/callback,https://app.acme.test/**",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}
