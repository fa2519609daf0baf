package tenant

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// Secrets are the tenant's generated secrets and keys, kept in .env (0600)
// under the variable names of the official self-hosted Supabase .env.
type Secrets struct {
	JWTSecret         string // JWT_SECRET: the legacy HS256 secret of auth, REST and realtime
	AnonKey           string // ANON_KEY: legacy anon key, an HS256 JWT
	ServiceRoleKey    string // SERVICE_ROLE_KEY: legacy service_role key, an HS256 JWT
	PostgresPassword  string // POSTGRES_PASSWORD: the superuser supabase_admin
	DashboardUsername string // DASHBOARD_USERNAME: basic-auth for Studio
	DashboardPassword string // DASHBOARD_PASSWORD
	SecretKeyBase     string // SECRET_KEY_BASE: Realtime's (docker runtime)

	// The API keys that replace the legacy ones: opaque strings the
	// gateway maps to the anon and service_role roles.
	PublishableKey string // SUPABASE_PUBLISHABLE_KEY: sb_publishable_…
	SecretKey      string // SUPABASE_SECRET_KEY: sb_secret_…; "" once revoked
	// SecretKeyRevokedAt is when the secret key was revoked (zero while
	// there is one): a revoked key is not made again on the next start.
	SecretKeyRevokedAt time.Time // SFP_SECRET_KEY_REVOKED_AT

	// SigningKeys sign and verify access tokens (JWT_KEYS, with their
	// states in SFP_JWT_KEY_STATES; JWT_JWKS is written from them).
	SigningKeys []SigningKey
	// The role tokens the gateway sends upstream for a publishable or
	// secret key, signed with the current signing key. Not API keys:
	// applications never see them.
	AnonKeyAsymmetric        string // ANON_KEY_ASYMMETRIC
	ServiceRoleKeyAsymmetric string // SERVICE_ROLE_KEY_ASYMMETRIC

	// Embedded runtime: one password per login role, so a leaked service
	// password does not open the others.
	AuthenticatorPassword string // SFP_AUTHENTICATOR_PASSWORD
	AuthAdminPassword     string // SFP_AUTH_ADMIN_PASSWORD
	ReplicationPassword   string // SFP_REPLICATION_PASSWORD
	PostgresRolePassword  string // SFP_POSTGRES_ROLE_PASSWORD: role postgres

	// AdminPasswordHash is the bcrypt hash of the initial admin's password,
	// used once by the first start; the plaintext is never stored.
	AdminPasswordHash string // SFP_ADMIN_PASSWORD_HASH

	// SAMLPrivateKey is the SAML Service Provider key (GoTrue's
	// GOTRUE_SAML_PRIVATE_KEY: base64 DER PKCS#1 RSA), made when SAML is
	// first enabled (saml.go).
	SAMLPrivateKey string // SAML_PRIVATE_KEY

	// Extra holds any other variable in .env (the docker runtime's compose
	// settings, or the operator's own), preserved when the file is rewritten.
	Extra map[string]string
}

var secretVars = []string{
	"SUPABASE_PUBLISHABLE_KEY", "SUPABASE_SECRET_KEY", "SFP_SECRET_KEY_REVOKED_AT",
	"JWT_KEYS", "JWT_JWKS", "SFP_JWT_KEY_STATES", "ANON_KEY_ASYMMETRIC", "SERVICE_ROLE_KEY_ASYMMETRIC",
	"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "POSTGRES_PASSWORD",
	"DASHBOARD_USERNAME", "DASHBOARD_PASSWORD", "SECRET_KEY_BASE",
	"SFP_AUTHENTICATOR_PASSWORD", "SFP_AUTH_ADMIN_PASSWORD", "SFP_REPLICATION_PASSWORD",
	"SFP_POSTGRES_ROLE_PASSWORD", "SFP_ADMIN_PASSWORD_HASH", "SAML_PRIVATE_KEY",
}

func (s *Secrets) fields() map[string]*string {
	return map[string]*string{
		"JWT_SECRET": &s.JWTSecret, "ANON_KEY": &s.AnonKey, "SERVICE_ROLE_KEY": &s.ServiceRoleKey,
		"POSTGRES_PASSWORD": &s.PostgresPassword, "DASHBOARD_USERNAME": &s.DashboardUsername,
		"DASHBOARD_PASSWORD": &s.DashboardPassword, "SECRET_KEY_BASE": &s.SecretKeyBase,
		"SFP_AUTHENTICATOR_PASSWORD": &s.AuthenticatorPassword, "SFP_AUTH_ADMIN_PASSWORD": &s.AuthAdminPassword,
		"SFP_REPLICATION_PASSWORD": &s.ReplicationPassword, "SFP_POSTGRES_ROLE_PASSWORD": &s.PostgresRolePassword,
		"SFP_ADMIN_PASSWORD_HASH":  &s.AdminPasswordHash,
		"SUPABASE_PUBLISHABLE_KEY": &s.PublishableKey, "SUPABASE_SECRET_KEY": &s.SecretKey,
		"ANON_KEY_ASYMMETRIC": &s.AnonKeyAsymmetric, "SERVICE_ROLE_KEY_ASYMMETRIC": &s.ServiceRoleKeyAsymmetric,
		"SAML_PRIVATE_KEY": &s.SAMLPrivateKey,
	}
}

// derivedVars are written from other fields (encode) and read by load.
var derivedVars = []string{"JWT_KEYS", "JWT_JWKS", "SFP_JWT_KEY_STATES", "SFP_SECRET_KEY_REVOKED_AT"}

// required are the variables a loaded .env must have.
var required = []string{"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "POSTGRES_PASSWORD",
	"SFP_AUTHENTICATOR_PASSWORD", "SFP_AUTH_ADMIN_PASSWORD", "SFP_REPLICATION_PASSWORD", "SFP_POSTGRES_ROLE_PASSWORD"}

// GenerateSecrets creates fresh random secrets and keys: the legacy JWT
// secret and anon/service_role keys, a publishable and a secret key, an
// ES256 signing key and the gateway's role tokens signed with it.
func GenerateSecrets(now time.Time) (*Secrets, error) {
	s := &Secrets{
		JWTSecret:             randomToken(48), // 64 characters
		PostgresPassword:      randomPassword(32),
		DashboardUsername:     "supabase",
		DashboardPassword:     randomPassword(24),
		SecretKeyBase:         randomToken(48),
		AuthenticatorPassword: randomPassword(32),
		AuthAdminPassword:     randomPassword(32),
		ReplicationPassword:   randomPassword(32),
		PostgresRolePassword:  randomPassword(32),
		Extra:                 map[string]string{},
	}
	var err error
	if s.AnonKey, err = SignAPIKey([]byte(s.JWTSecret), "anon", now, KeyLifetime); err != nil {
		return nil, err
	}
	if s.ServiceRoleKey, err = SignAPIKey([]byte(s.JWTSecret), "service_role", now, KeyLifetime); err != nil {
		return nil, err
	}
	if _, err := s.EnsureKeys(now); err != nil {
		return nil, err
	}
	return s, nil
}

// EnsureKeys adds what a tenant made before the current key model lacks —
// a publishable key, a secret key (unless it was revoked), a signing key —
// and signs the gateway's role tokens again when they are missing or were
// signed by another key than the current one. It reports whether anything
// changed (the caller saves .env then). Both runtimes call it on start, so
// an existing tenant gets its new keys there.
func (s *Secrets) EnsureKeys(now time.Time) (bool, error) {
	changed := false
	if s.PublishableKey == "" {
		s.PublishableKey = NewOpaqueKey(PublishableKeyPrefix)
		changed = true
	}
	if s.SecretKey == "" && s.SecretKeyRevokedAt.IsZero() {
		s.SecretKey = NewOpaqueKey(SecretKeyPrefix)
		changed = true
	}
	cur, ok := s.SigningKeyByStatus(SigningCurrent)
	if !ok {
		k, err := jwtkeys.Generate()
		if err != nil {
			return changed, err
		}
		cur = SigningKey{Key: k, Status: SigningCurrent, Since: now.UTC().Truncate(time.Second)}
		s.SigningKeys = append(s.SigningKeys, cur)
		changed = true
	}
	if tokenKID(s.AnonKeyAsymmetric) != cur.ID || tokenKID(s.ServiceRoleKeyAsymmetric) != cur.ID {
		if err := s.signGatewayKeys(now); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// RotateSecretKey replaces the secret key with a new one (or makes one
// after a revocation); the old key stops working once the gateway has the
// new one.
func (s *Secrets) RotateSecretKey() string {
	s.SecretKey = NewOpaqueKey(SecretKeyPrefix)
	s.SecretKeyRevokedAt = time.Time{}
	return s.SecretKey
}

// RevokeSecretKey removes the secret key: until the next rotation the
// tenant has none, and the gateway refuses the old one.
func (s *Secrets) RevokeSecretKey(now time.Time) error {
	switch {
	case s.SecretKey == "" && !s.SecretKeyRevokedAt.IsZero():
		return fmt.Errorf("revoke secret key: there is none (revoked %s); `sfp server keys rotate` makes a new one", s.SecretKeyRevokedAt.UTC().Format(time.RFC3339))
	case s.SecretKey == "":
		return errors.New("revoke secret key: there is none yet (the tenant's next start makes one)")
	}
	s.SecretKey = ""
	s.SecretKeyRevokedAt = now.UTC().Truncate(time.Second)
	return nil
}

// SetAdminPassword stores the bcrypt hash of the initial admin's password.
func (s *Secrets) SetAdminPassword(pw string) error {
	if len(pw) < 6 {
		return errors.New("the admin password must be at least 6 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash admin password: %w", err)
	}
	s.AdminPasswordHash = string(h)
	return nil
}

// RolePasswords are the passwords of the cluster's login roles, as the
// platform sets them.
func (s *Secrets) RolePasswords() map[string]string {
	return map[string]string{
		"supabase_admin":             s.PostgresPassword,
		"postgres":                   s.PostgresRolePassword,
		"authenticator":              s.AuthenticatorPassword,
		"supabase_auth_admin":        s.AuthAdminPassword,
		"supabase_replication_admin": s.ReplicationPassword,
	}
}

// encode renders .env. JWT_KEYS and JWT_JWKS list the legacy secret only
// while legacy tokens are accepted, so GoTrue (docker runtime) refuses
// HS256 tokens when they are not.
func (s *Secrets) encode(name string, legacy bool) ([]byte, error) {
	vars := map[string]string{}
	for k, v := range s.Extra {
		vars[k] = v
	}
	for k, p := range s.fields() {
		if *p != "" {
			vars[k] = *p
		} else {
			delete(vars, k)
		}
	}
	for _, k := range derivedVars {
		delete(vars, k)
	}
	if len(s.SigningKeys) > 0 {
		var secret []byte
		if legacy {
			secret = []byte(s.JWTSecret)
		}
		priv, pub, states, err := encodeSigningKeys(s.SigningKeys, secret)
		if err != nil {
			return nil, fmt.Errorf("write secrets: %w", err)
		}
		vars["JWT_KEYS"], vars["JWT_JWKS"], vars["SFP_JWT_KEY_STATES"] = priv, pub, states
	}
	if !s.SecretKeyRevokedAt.IsZero() {
		// Empty, as upstream's .env has it when there is no such key.
		vars["SUPABASE_SECRET_KEY"] = ""
		vars["SFP_SECRET_KEY_REVOKED_AT"] = s.SecretKeyRevokedAt.UTC().Format(time.RFC3339)
	}
	header := fmt.Sprintf(`Secrets of sfp tenant %q. Keep this file private (mode 0600).
Variable names follow the official self-hosted Supabase .env, so docker compose
reads it as is. Generated by sfp server init.`, name)
	return formatEnv(header, vars, secretVars), nil
}

func loadSecrets(path string) (*Secrets, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secrets: %s is missing; recreate the tenant with `sfp server init --force`", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read secrets: %s is readable by others (mode %04o); run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	return parseSecrets(raw, path)
}

// parseSecrets reads the variables of a .env.
func parseSecrets(raw []byte, path string) (*Secrets, error) {
	vars, err := parseEnv(raw, path)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	s := &Secrets{Extra: map[string]string{}}
	f := s.fields()
	derived := map[string]string{}
	for k, v := range vars {
		if p, ok := f[k]; ok {
			*p = v
		} else if slices.Contains(derivedVars, k) {
			derived[k] = v
		} else {
			s.Extra[k] = v
		}
	}
	if s.SigningKeys, err = decodeSigningKeys(derived["JWT_KEYS"], derived["SFP_JWT_KEY_STATES"]); err != nil {
		return nil, fmt.Errorf("read secrets: %s: %w", path, err)
	}
	if v := derived["SFP_SECRET_KEY_REVOKED_AT"]; v != "" {
		if s.SecretKeyRevokedAt, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, fmt.Errorf("read secrets: %s: SFP_SECRET_KEY_REVOKED_AT: %w", path, err)
		}
	}
	for _, k := range []struct{ v, name, prefix string }{
		{s.PublishableKey, "SUPABASE_PUBLISHABLE_KEY", PublishableKeyPrefix},
		{s.SecretKey, "SUPABASE_SECRET_KEY", SecretKeyPrefix},
	} {
		if k.v != "" && !strings.HasPrefix(k.v, k.prefix) {
			return nil, fmt.Errorf("read secrets: %s in %s does not start with %s", k.name, path, k.prefix)
		}
	}
	for _, k := range required {
		if *f[k] == "" {
			return nil, fmt.Errorf("read secrets: %s does not set %s", path, k)
		}
	}
	if len(s.JWTSecret) < 32 {
		return nil, fmt.Errorf("read secrets: JWT_SECRET in %s is shorter than 32 characters", path)
	}
	return s, nil
}
