package tenant

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ExternalProviders are the OAuth providers a tenant can enable
// (auth.external.<name>), under GoTrue's names.
var ExternalProviders = []string{"azure", "github", "gitlab", "google", "keycloak"}

// ExternalProvider is one OAuth provider of auth.external, with the
// meaning of GoTrue's GOTRUE_EXTERNAL_<NAME>_* settings. The client secret
// is GOTRUE_EXTERNAL_<NAME>_SECRET in .env (ProviderSecretVar).
type ExternalProvider struct {
	Enabled bool `yaml:"enabled"`
	// ClientID is the OAuth app's client id; several, comma-separated, are
	// all accepted as an id_token audience (the first is the app's).
	ClientID string `yaml:"client_id"`
	// URL is the provider's base where it has one: the GitHub Enterprise
	// or GitLab host, the Keycloak realm URL (required), the Azure tenant
	// URL https://login.microsoftonline.com/<tenant>.
	URL string `yaml:"url,omitempty"`
	// RedirectURI is the callback registered with the provider; default
	// <tenant URL>/auth/v1/callback.
	RedirectURI string `yaml:"redirect_uri,omitempty"`
	// SkipNonceCheck accepts id_tokens without the matching nonce.
	SkipNonceCheck bool `yaml:"skip_nonce_check,omitempty"`
}

// ProviderSecretVar is the .env variable holding a provider's secret.
func ProviderSecretVar(name string) string {
	return "GOTRUE_EXTERNAL_" + strings.ToUpper(name) + "_SECRET"
}

// ClientIDs splits ClientID.
func (p ExternalProvider) ClientIDs() []string {
	var ids []string
	for _, id := range strings.Split(p.ClientID, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// ProviderRedirectURI is where the provider sends the browser back.
func (t *Tenant) ProviderRedirectURI(name string) string {
	if p := t.Config.Auth.External[name]; p.RedirectURI != "" {
		return p.RedirectURI
	}
	return strings.TrimRight(t.URL(), "/") + "/auth/v1/callback"
}

func (a AuthConfig) validateExternal() error {
	for name, p := range a.External {
		if !slices.Contains(ExternalProviders, name) {
			return fmt.Errorf("auth.external: %q is not a supported provider (%s)", name, strings.Join(ExternalProviders, ", "))
		}
		if p.Enabled && len(p.ClientIDs()) == 0 {
			return fmt.Errorf("auth.external.%s.client_id: required when the provider is enabled", name)
		}
		if p.Enabled && name == "keycloak" && p.URL == "" {
			return fmt.Errorf("auth.external.keycloak.url: required (the realm URL, https://<host>/realms/<realm>)")
		}
		for field, v := range map[string]string{"url": p.URL, "redirect_uri": p.RedirectURI} {
			if v == "" {
				continue
			}
			if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("auth.external.%s.%s: %q is not an http(s) URL", name, field, v)
			}
		}
	}
	for _, u := range a.AdditionalRedirectURLs {
		if strings.TrimSpace(u) == "" || strings.Contains(u, ",") {
			return fmt.Errorf("auth.additional_redirect_urls: %q is not a URL pattern (one per entry, no commas)", u)
		}
	}
	return nil
}

// ExternalEnv are GoTrue's variables for the tenant's providers, as the
// docker runtime's compose file passes them (a provider not configured is
// disabled), and the manual linking setting.
func (t *Tenant) ExternalEnv() map[string]string {
	env := map[string]string{
		"GOTRUE_SECURITY_MANUAL_LINKING_ENABLED": strconv.FormatBool(t.Config.Auth.ManualLinking),
	}
	for _, name := range ExternalProviders {
		p := t.Config.Auth.External[name]
		prefix := "GOTRUE_EXTERNAL_" + strings.ToUpper(name) + "_"
		env[prefix+"ENABLED"] = strconv.FormatBool(p.Enabled)
		env[prefix+"CLIENT_ID"] = p.ClientID
		env[prefix+"URL"] = p.URL
		env[prefix+"SKIP_NONCE_CHECK"] = strconv.FormatBool(p.SkipNonceCheck)
		env[prefix+"REDIRECT_URI"] = ""
		if p.Enabled || p.ClientID != "" {
			env[prefix+"REDIRECT_URI"] = t.ProviderRedirectURI(name)
		}
	}
	return env
}

// externalFingerprint changes whenever the provider settings or secrets
// do, so a running tenant is told to take them (KeysVersion).
func (t *Tenant) externalFingerprint() string {
	env := t.ExternalEnv()
	for _, name := range ExternalProviders {
		env[ProviderSecretVar(name)] = t.Secrets.Extra[ProviderSecretVar(name)]
	}
	env["redirects"] = strings.Join(t.Config.Auth.AdditionalRedirectURLs, ",")
	keys := slices.Sorted(maps.Keys(env))
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, env[k])
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}
