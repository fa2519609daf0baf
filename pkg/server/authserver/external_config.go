package authserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/glob"
)

// SupportedProviders are the OAuth providers the embedded auth implements,
// under GoTrue's names (GOTRUE_EXTERNAL_<NAME>_*).
var SupportedProviders = []string{"azure", "github", "gitlab", "google", "keycloak"}

// DefaultFlowStateExpiry is how long an OAuth sign-in may take between
// /authorize and the code exchange (GoTrue's minimum and default, 300 s).
const DefaultFlowStateExpiry = 5 * time.Minute

// defaultProviderTimeout bounds each call to an identity provider, as
// GoTrue's GOTRUE_INTERNAL_HTTP_TIMEOUT default does.
const defaultProviderTimeout = 10 * time.Second

// ExternalProvider is one OAuth provider's settings, with the meaning of
// GoTrue's GOTRUE_EXTERNAL_<NAME>_* variables.
type ExternalProvider struct {
	Enabled bool
	// ClientID is the OAuth client id; GoTrue takes a comma-separated
	// list, whose first entry is used for the redirect and every entry is
	// an acceptable id_token audience.
	ClientID []string
	// Secret is the OAuth client secret.
	Secret string
	// RedirectURI is this server's callback as registered with the
	// provider: <API external URL>/auth/v1/callback.
	RedirectURI string
	// URL is the provider's base where it has one: the GitHub Enterprise
	// or GitLab host, the Keycloak realm URL, the Azure tenant URL
	// (https://login.microsoftonline.com/<tenant>). Empty means the public
	// service (github.com, gitlab.com, Azure's "common").
	URL string
	// Issuer overrides a provider's fixed OIDC issuer (Google's
	// https://accounts.google.com), so tests can run a provider of their
	// own. GoTrue has no such setting; tenant.yaml does not expose it.
	Issuer string
	// SkipNonceCheck accepts id_tokens whose nonce does not match
	// (GOTRUE_EXTERNAL_<NAME>_SKIP_NONCE_CHECK).
	SkipNonceCheck bool
}

// ExternalConfig are the external-provider settings of a Server. They may
// be replaced while the server runs (SetExternal).
type ExternalConfig struct {
	// Providers by GoTrue name (SupportedProviders).
	Providers map[string]ExternalProvider
	// URIAllowList are the redirect_to patterns allowed besides the site
	// URL (GOTRUE_URI_ALLOW_LIST, the compose file's
	// ADDITIONAL_REDIRECT_URLS): globs where * stops at "." and "/" and **
	// does not.
	URIAllowList []string
	// ManualLinkingEnabled opens /user/identities
	// (GOTRUE_SECURITY_MANUAL_LINKING_ENABLED).
	ManualLinkingEnabled bool
	// FlowStateExpiry is how long a flow state is valid; default and
	// minimum 5 minutes, as GoTrue.
	FlowStateExpiry time.Duration
	// HTTPClient calls the providers; default a client with a 10 s
	// timeout.
	HTTPClient *http.Client
}

// externalState is the validated ExternalConfig the handlers read.
type externalState struct {
	ExternalConfig
	allow []glob.Glob
}

// SetExternal validates cfg and makes it the provider configuration of
// the following requests. Flows already started keep working if their
// provider stays enabled.
func (s *Server) SetExternal(cfg ExternalConfig) error {
	st, err := newExternalState(cfg)
	if err != nil {
		return err
	}
	s.external.Store(st)
	return nil
}

func newExternalState(cfg ExternalConfig) (*externalState, error) {
	st := &externalState{ExternalConfig: cfg}
	if st.FlowStateExpiry < DefaultFlowStateExpiry {
		st.FlowStateExpiry = DefaultFlowStateExpiry
	}
	if st.HTTPClient == nil {
		st.HTTPClient = &http.Client{Timeout: defaultProviderTimeout}
	}
	providers := make(map[string]ExternalProvider, len(cfg.Providers))
	for name, p := range cfg.Providers {
		if !slices.Contains(SupportedProviders, name) {
			return nil, fmt.Errorf("auth config: external provider %q is not supported (supported: %s)", name, strings.Join(SupportedProviders, ", "))
		}
		if p.Enabled {
			if err := p.validate(name); err != nil {
				return nil, err
			}
		}
		p.URL = strings.TrimRight(p.URL, "/")
		providers[name] = p
	}
	st.Providers = providers
	for _, pattern := range cfg.URIAllowList {
		g, err := glob.Compile(pattern, '.', '/')
		if err != nil {
			return nil, fmt.Errorf("auth config: redirect URL pattern %q: %w", pattern, err)
		}
		st.allow = append(st.allow, g)
	}
	return st, nil
}

// validate checks what GoTrue checks when a provider is used, up front.
func (p ExternalProvider) validate(name string) error {
	switch {
	case len(p.ClientID) == 0 || p.ClientID[0] == "":
		return fmt.Errorf("auth config: external provider %s: missing OAuth client ID", name)
	case p.Secret == "":
		return fmt.Errorf("auth config: external provider %s: missing OAuth secret", name)
	case p.RedirectURI == "":
		return fmt.Errorf("auth config: external provider %s: missing redirect URI", name)
	case name == "keycloak" && p.URL == "":
		return errors.New("auth config: external provider keycloak: missing URL (the realm URL, https://<host>/realms/<realm>)")
	}
	for _, u := range []string{p.RedirectURI, p.URL, p.Issuer} {
		if u == "" {
			continue
		}
		if parsed, err := url.Parse(u); err != nil || parsed.Scheme == "" || parsed.Host == "" {
			return fmt.Errorf("auth config: external provider %s: %q is not an absolute URL", name, u)
		}
	}
	return nil
}

// enabledProvider returns the settings of name if it is enabled.
func (st *externalState) enabledProvider(name string) (ExternalProvider, bool) {
	p, ok := st.Providers[name]
	return p, ok && p.Enabled
}

var (
	decimalHostPattern = regexp.MustCompile(`^[0-9]+$`)
	regularHostPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$`)
)

// redirectAllowed is GoTrue's redirect_to check: the site URL's scheme and
// host (any port on loopback, as RFC 8252 asks for native apps), any
// loopback IP, or a URI allow-list pattern.
func (s *Server) redirectAllowed(st *externalState, target string) bool {
	if target == "" {
		return false
	}
	base, err1 := url.Parse(s.cfg.SiteURL)
	ref, err2 := url.Parse(target)
	if err1 != nil || err2 != nil {
		return false
	}
	if base.Hostname() == ref.Hostname() && base.Scheme == ref.Scheme &&
		(base.Port() == ref.Port() || isLocalhost(ref.Hostname())) {
		return true
	}
	scheme := strings.TrimSuffix(strings.ToLower(ref.Scheme), ":")
	isHTTP := scheme == "http" || scheme == "https"
	if decimalHostPattern.MatchString(ref.Hostname()) {
		return false
	} else if ip := net.ParseIP(ref.Hostname()); ip != nil {
		return ip.IsLoopback()
	} else if isHTTP && !regularHostPattern.MatchString(ref.Hostname()) {
		return false
	}
	withoutFragment, _, _ := strings.Cut(target, "#")
	for _, g := range st.allow {
		if g.Match(withoutFragment) {
			return true
		}
	}
	return false
}

func isLocalhost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// referrer is where a flow returns: redirect_to (header, query or form)
// or the Referer when allowed, else the site URL.
func (s *Server) referrer(st *externalState, r *http.Request) string {
	target := r.Header.Get("redirect_to")
	if target == "" {
		if err := r.ParseForm(); err == nil {
			target = r.Form.Get("redirect_to")
		}
	}
	if s.redirectAllowed(st, target) {
		return target
	}
	if ref := r.Referer(); s.redirectAllowed(st, ref) {
		return ref
	}
	return s.cfg.SiteURL
}
