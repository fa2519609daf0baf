package embedded

import (
	"fmt"

	"github.com/sfp-dev/sfp/pkg/server/authserver"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// samlConfig is the auth server's SAML configuration from tenant.yaml
// (auth.saml) and .env (SAML_PRIVATE_KEY, made by ensureKeys). The Service
// Provider lives at the gateway's root URL, as GoTrue's does with
// API_EXTERNAL_URL in the docker runtime, so /sso/saml/acs and
// /sso/saml/metadata are the same URLs in either runtime.
func samlConfig(t *tenant.Tenant) (authserver.SAMLConfig, error) {
	if !t.Config.Auth.SAML.Enabled {
		return authserver.SAMLConfig{}, nil
	}
	key, err := authserver.ParseSAMLPrivateKey(t.Secrets.SAMLPrivateKey)
	if err != nil {
		return authserver.SAMLConfig{}, fmt.Errorf("auth.saml is enabled but SAML_PRIVATE_KEY in %s is not usable: %w", t.EnvFile(), err)
	}
	return authserver.SAMLConfig{Enabled: true, PrivateKey: key, ExternalURL: t.URL()}, nil
}
