package embedded

import (
	"fmt"

	"github.com/sfp-dev/sfp/pkg/server/authserver"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// authExternal is the auth server's provider configuration from
// tenant.yaml's auth.external and the secrets in .env, with the same
// meaning GoTrue gives GOTRUE_EXTERNAL_<NAME>_*.
func authExternal(t *tenant.Tenant) (authserver.ExternalConfig, error) {
	a := t.Config.Auth
	cfg := authserver.ExternalConfig{
		Providers:            map[string]authserver.ExternalProvider{},
		URIAllowList:         a.AdditionalRedirectURLs,
		ManualLinkingEnabled: a.ManualLinking,
	}
	for name, p := range a.External {
		secret := t.Secrets.Extra[tenant.ProviderSecretVar(name)]
		if p.Enabled && secret == "" {
			return cfg, fmt.Errorf("auth provider %s is enabled but %s has no %s: set it with `sfp server auth provider set -t %s %s --secret-file FILE`",
				name, t.EnvFile(), tenant.ProviderSecretVar(name), t.Name(), name)
		}
		cfg.Providers[name] = authserver.ExternalProvider{
			Enabled: p.Enabled, ClientID: p.ClientIDs(), Secret: secret, RedirectURI: t.ProviderRedirectURI(name),
			URL: p.URL, SkipNonceCheck: p.SkipNonceCheck,
		}
	}
	return cfg, nil
}

// applyExternal gives the running auth server t's provider settings.
func (s *services) applyExternal(t *tenant.Tenant) error {
	cfg, err := authExternal(t)
	if err != nil {
		return err
	}
	return s.auth.SetExternal(cfg)
}
