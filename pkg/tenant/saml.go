package tenant

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
)

// SAMLConfig is SAML 2.0 single sign-on (GoTrue's GOTRUE_SAML_ENABLED).
// Its Service Provider key is SAML_PRIVATE_KEY in .env (GoTrue's
// GOTRUE_SAML_PRIVATE_KEY), made on the first start with SAML enabled;
// identity providers are added with `sfp server sso add`.
type SAMLConfig struct {
	Enabled bool `yaml:"enabled"`
}

// samlKeyBits is the size of a generated SAML key (GoTrue's minimum).
const samlKeyBits = 2048

// EnsureSAMLKey makes the SAML Service Provider key if there is none and
// reports whether it did (the caller saves .env then). The key stays when
// SAML is turned off and on again, so identity providers set up with the
// tenant's certificate keep working.
func (s *Secrets) EnsureSAMLKey() (bool, error) {
	if s.SAMLPrivateKey != "" {
		return false, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, samlKeyBits)
	if err != nil {
		return false, fmt.Errorf("generate SAML private key: %w", err)
	}
	s.SAMLPrivateKey = base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key))
	return true, nil
}
