package authserver

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"time"
)

// SAML defaults, as GoTrue's.
const (
	// DefaultSAMLRelayStateValidity is how long a login started at POST
	// /sso may take at the IdP (GOTRUE_SAML_RELAY_STATE_VALIDITY_PERIOD).
	DefaultSAMLRelayStateValidity = 2 * time.Minute
	// DefaultSAMLMetadataFetchTimeout bounds the fetch of an IdP's
	// metadata_url. GoTrue has none (a hanging URL holds the admin request
	// until the client gives up); here the admin gets an answer.
	DefaultSAMLMetadataFetchTimeout = 10 * time.Second
	// maxSAMLMetadataBytes caps a fetched metadata document.
	maxSAMLMetadataBytes = 1 << 20
	samlMinKeyBits       = 2048
)

// Default SAML rate limits, as GoTrue's: GOTRUE_RATE_LIMIT_SSO (30 per 5
// minutes) for POST /sso and GOTRUE_SAML_RATE_LIMIT_ASSERTION (15 per 5
// minutes) for the ACS, per client IP.
var (
	DefaultRateLimitSSOPerIP           = RateLimit{Events: 30, Interval: 5 * time.Minute, Burst: 30}
	DefaultRateLimitSAMLAssertionPerIP = RateLimit{Events: 15, Interval: 5 * time.Minute, Burst: 15}
)

// SAMLConfig turns on SAML 2.0 single sign-on (GOTRUE_SAML_*). The server
// is the Service Provider: its endpoints are ExternalURL + /sso/saml/acs and
// /sso/saml/metadata, its entity ID the metadata URL, as GoTrue derives them.
type SAMLConfig struct {
	// Enabled is GOTRUE_SAML_ENABLED.
	Enabled bool
	// PrivateKey signs authentication requests and is the key of the SP
	// certificate in the metadata (GOTRUE_SAML_PRIVATE_KEY, see
	// ParseSAMLPrivateKey). Required when Enabled.
	PrivateKey *rsa.PrivateKey
	// ExternalURL is where the IdP sends browsers back: the gateway's root
	// URL (GoTrue's API_EXTERNAL_URL in the docker runtime's compose file).
	ExternalURL string
	// RelayStateValidity is how long a started login stays valid; default 2
	// minutes.
	RelayStateValidity time.Duration
	// MetadataFetchTimeout bounds fetching metadata_url; default 10s.
	MetadataFetchTimeout time.Duration
	// HTTPClient fetches metadata_url; default a client with
	// MetadataFetchTimeout. Tests give one that trusts their TLS server.
	HTTPClient *http.Client
	// RateLimitSSOPerIP limits POST /sso per client IP.
	RateLimitSSOPerIP RateLimit
	// RateLimitAssertionPerIP limits POST /sso/saml/acs per client IP.
	RateLimitAssertionPerIP RateLimit

	// certificate is the SP certificate made from PrivateKey.
	certificate *x509.Certificate
	acsURL      *url.URL
	rootURL     *url.URL
}

// ParseSAMLPrivateKey reads GOTRUE_SAML_PRIVATE_KEY: a standard-base64 DER
// PKCS#1 RSA key of at least 2048 bits with exponent 65537, with GoTrue's
// checks and their wording.
func ParseSAMLPrivateKey(b64 string) (*rsa.PrivateKey, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("SAML private key not in standard Base64 format")
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, errors.New("SAML private key not in PKCS#1 format")
	}
	if key.E != 0x10001 {
		return nil, errors.New("SAML private key should use the 65537 (0x10001) RSA public exponent")
	}
	if key.N.BitLen() < samlMinKeyBits {
		return nil, fmt.Errorf("SAML private key must be at least RSA %d", samlMinKeyBits)
	}
	return key, nil
}

// GenerateSAMLPrivateKey makes a new SP key and returns it encoded as
// GOTRUE_SAML_PRIVATE_KEY wants it.
func GenerateSAMLPrivateKey() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, samlMinKeyBits)
	if err != nil {
		return "", fmt.Errorf("generate SAML private key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key)), nil
}

// withDefaults validates an enabled configuration and derives the SP
// certificate and URLs.
func (c SAMLConfig) withDefaults() (SAMLConfig, error) {
	if c.RelayStateValidity == 0 {
		c.RelayStateValidity = DefaultSAMLRelayStateValidity
	}
	if c.MetadataFetchTimeout == 0 {
		c.MetadataFetchTimeout = DefaultSAMLMetadataFetchTimeout
	}
	var err error
	if c.RateLimitSSOPerIP, err = c.RateLimitSSOPerIP.withDefault("SAML.RateLimitSSOPerIP", DefaultRateLimitSSOPerIP); err != nil {
		return c, err
	}
	if c.RateLimitAssertionPerIP, err = c.RateLimitAssertionPerIP.withDefault("SAML.RateLimitAssertionPerIP", DefaultRateLimitSAMLAssertionPerIP); err != nil {
		return c, err
	}
	if !c.Enabled {
		return c, nil
	}
	if c.PrivateKey == nil {
		return c, errors.New("auth config: SAML.PrivateKey is required when SAML is enabled (GOTRUE_SAML_PRIVATE_KEY)")
	}
	if c.PrivateKey.N.BitLen() < samlMinKeyBits || c.PrivateKey.E != 0x10001 {
		return c, fmt.Errorf("auth config: SAML.PrivateKey must be RSA of at least %d bits with exponent 65537", samlMinKeyBits)
	}
	if c.RelayStateValidity < 0 {
		return c, errors.New("auth config: SAML.RelayStateValidity must be positive")
	}
	root, err := url.ParseRequestURI(c.ExternalURL)
	if err != nil || root.Host == "" {
		return c, fmt.Errorf("auth config: SAML.ExternalURL %q is not an absolute URL (the gateway's root URL)", c.ExternalURL)
	}
	if root.Path == "" || root.Path[len(root.Path)-1] != '/' {
		root.Path += "/"
	}
	root = root.JoinPath("sso") // GoTrue's SP root: <external>/sso/
	root.Path += "/"
	c.rootURL = root
	c.acsURL = root.JoinPath("saml", "acs")
	if c.certificate, err = samlCertificate(c.PrivateKey, root.Host); err != nil {
		return c, fmt.Errorf("auth config: make the SAML certificate: %w", err)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.MetadataFetchTimeout}
	}
	return c, nil
}

// samlCertificate makes the self-signed SP certificate the way GoTrue does
// (serial 0, fixed validity from the epoch for 200 years, the host in its
// names), so the same key gives the same certificate in either runtime and
// an IdP set up against one keeps working against the other.
func samlCertificate(key *rsa.PrivateKey, hostport string) (*x509.Certificate, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0),
		DNSNames:     []string{"_samlsp." + host},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		NotBefore:    time.UnixMilli(0).UTC(),
		NotAfter:     time.UnixMilli(0).UTC().AddDate(200, 0, 0),
		Subject:      pkix.Name{CommonName: "SAML 2.0 Certificate for " + host},
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
