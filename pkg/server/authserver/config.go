package authserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// Defaults, as Supabase's self-hosted GoTrue is configured.
const (
	DefaultJWTExpiry                 = time.Hour
	DefaultMinPasswordLength         = 6
	DefaultRefreshTokenReuseInterval = 10 * time.Second
	DefaultMaxBodyBytes              = 1 << 20 // GoTrue's own request body limit
	DefaultPasswordHashCost          = bcrypt.DefaultCost
	// DefaultEmailMaxFrequency is how often a confirmation or email change
	// may be (pretend-)sent to one user, as GOTRUE_SMTP_MAX_FREQUENCY.
	DefaultEmailMaxFrequency = time.Minute

	minJWTSecretBytes = 32
)

// Audience is the "aud" of users and their access tokens
// (GOTRUE_JWT_AUD and GOTRUE_JWT_DEFAULT_GROUP_NAME in Supabase's setup).
const Audience = "authenticated"

// adminRoles are the JWT roles allowed on /admin (GOTRUE_JWT_ADMIN_ROLES'
// default in GoTrue).
var adminRoles = []string{"service_role", "supabase_admin"}

// RateLimit is a per-client-IP token bucket: Burst requests at once,
// refilled at Events per Interval. The zero value means "use the default";
// Disabled turns the limit off.
type RateLimit struct {
	Events   float64
	Interval time.Duration
	Burst    int
	Disabled bool
}

// Default rate limits, as GoTrue's: /token shares one bucket for every grant
// type (GOTRUE_RATE_LIMIT_TOKEN_REFRESH, 150 per 5 minutes, burst 30);
// email signups use GOTRUE_RATE_LIMIT_OTP (30 per 5 minutes, burst 30).
var (
	DefaultRateLimitTokenPerIP  = RateLimit{Events: 150, Interval: 5 * time.Minute, Burst: 30}
	DefaultRateLimitSignupPerIP = RateLimit{Events: 30, Interval: 5 * time.Minute, Burst: 30}
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// Pool is connected as supabase_auth_admin, the owner of the auth tables.
	// The server does not close it.
	Pool *pgxpool.Pool
	// Keys sign access tokens (ES256 with the signing key's kid, else
	// HS256 with the legacy secret) and verify presented ones; the runtime
	// replaces its Set when the tenant's keys change. Nil: JWTSecret alone.
	Keys *jwtkeys.Ring
	// JWTSecret signs and verifies HS256 tokens when Keys is nil (the
	// legacy model; shared with REST and Realtime). At least 32 bytes.
	JWTSecret []byte
	// JWTExpiry is the access token lifetime; default 1h.
	JWTExpiry time.Duration
	// Issuer is the "iss" claim of access tokens; empty leaves it out, as
	// GoTrue does without GOTRUE_JWT_ISSUER.
	Issuer string
	// SiteURL is where /verify and /callback redirect when no allowed
	// redirect_to is given.
	SiteURL string
	// MailerAutoconfirm confirms email signups immediately. The embedded
	// runtime sends no mail, so without it new users stay unconfirmed until
	// an admin confirms them.
	MailerAutoconfirm bool
	// DisableSignup refuses POST /signup (admins can still create users).
	DisableSignup bool
	// MinPasswordLength is the weak_password threshold; default 6.
	MinPasswordLength int
	// RefreshTokenReuseInterval is how long a revoked refresh token may still
	// be exchanged (concurrent refreshes); default 10s.
	RefreshTokenReuseInterval time.Duration
	// RateLimitTokenPerIP limits POST /token per client IP.
	RateLimitTokenPerIP RateLimit
	// RateLimitSignupPerIP limits POST /signup per client IP.
	RateLimitSignupPerIP RateLimit
	// TrustedProxies are the hops whose X-Forwarded-For entries are believed
	// when finding the client IP; default loopback (the gateway runs on
	// 127.0.0.1 or in-process).
	TrustedProxies []netip.Prefix
	// MaxBodyBytes caps request bodies (413 request_entity_too_large);
	// default 1 MiB.
	MaxBodyBytes int64
	// PasswordHashCost is the bcrypt cost of new password hashes; default 10
	// (bcrypt.DefaultCost, as GoTrue). Tests may lower it.
	PasswordHashCost int
	// EmailMaxFrequency throttles repeated confirmation and email change
	// requests per user; default 1 minute.
	EmailMaxFrequency time.Duration
	// MFA configures TOTP factors (GOTRUE_MFA_*).
	MFA MFAConfig
	// SAML turns on SAML 2.0 single sign-on (saml_config.go); off by
	// default, as GoTrue's GOTRUE_SAML_ENABLED.
	SAML SAMLConfig
	// External are the OAuth providers, the redirect allow list and manual
	// linking (external_config.go); SetExternal replaces them.
	External ExternalConfig
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
	// Logger receives structured logs; default slog.Default(). Tokens and
	// passwords are never logged.
	Logger *slog.Logger
	// OnEvent is told of each sign-in, failure, refresh, revocation and
	// rate-limited request (events.go), for the tenant's metrics; nil
	// counts nothing.
	OnEvent func(Event)
}

// withDefaults returns cfg with defaults applied, or an error naming the
// first bad setting.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Pool == nil {
		return cfg, errors.New("auth config: Pool is required (a pool connected as supabase_auth_admin)")
	}
	if cfg.Keys == nil {
		if len(cfg.JWTSecret) < minJWTSecretBytes {
			return cfg, fmt.Errorf("auth config: JWTSecret must be at least %d bytes, got %d", minJWTSecretBytes, len(cfg.JWTSecret))
		}
		cfg.Keys = jwtkeys.NewRing(jwtkeys.LegacySet(cfg.JWTSecret))
	}
	if set := cfg.Keys.Load(); set == nil || !set.CanSign() {
		return cfg, errors.New("auth config: Keys has neither a signing key nor the legacy secret to sign tokens with")
	}
	if cfg.JWTExpiry == 0 {
		cfg.JWTExpiry = DefaultJWTExpiry
	}
	if cfg.JWTExpiry < time.Second {
		return cfg, fmt.Errorf("auth config: JWTExpiry must be at least 1s, got %s", cfg.JWTExpiry)
	}
	if cfg.MinPasswordLength == 0 {
		cfg.MinPasswordLength = DefaultMinPasswordLength
	}
	if cfg.MinPasswordLength < 0 || cfg.MinPasswordLength > maxPasswordLength {
		return cfg, fmt.Errorf("auth config: MinPasswordLength must be between 1 and %d, got %d", maxPasswordLength, cfg.MinPasswordLength)
	}
	if cfg.RefreshTokenReuseInterval == 0 {
		cfg.RefreshTokenReuseInterval = DefaultRefreshTokenReuseInterval
	}
	if cfg.RefreshTokenReuseInterval < 0 {
		return cfg, fmt.Errorf("auth config: RefreshTokenReuseInterval must not be negative, got %s", cfg.RefreshTokenReuseInterval)
	}
	var err error
	if cfg.RateLimitTokenPerIP, err = cfg.RateLimitTokenPerIP.withDefault("RateLimitTokenPerIP", DefaultRateLimitTokenPerIP); err != nil {
		return cfg, err
	}
	if cfg.RateLimitSignupPerIP, err = cfg.RateLimitSignupPerIP.withDefault("RateLimitSignupPerIP", DefaultRateLimitSignupPerIP); err != nil {
		return cfg, err
	}
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyBytes < 0 {
		return cfg, fmt.Errorf("auth config: MaxBodyBytes must not be negative, got %d", cfg.MaxBodyBytes)
	}
	if cfg.PasswordHashCost == 0 {
		cfg.PasswordHashCost = DefaultPasswordHashCost
	}
	if cfg.PasswordHashCost < bcrypt.MinCost || cfg.PasswordHashCost > bcrypt.MaxCost {
		return cfg, fmt.Errorf("auth config: PasswordHashCost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, cfg.PasswordHashCost)
	}
	if cfg.EmailMaxFrequency == 0 {
		cfg.EmailMaxFrequency = DefaultEmailMaxFrequency
	}
	if cfg.MFA, err = cfg.MFA.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.SAML, err = cfg.SAML.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

func (l RateLimit) withDefault(name string, def RateLimit) (RateLimit, error) {
	if l.Disabled {
		return l, nil
	}
	if l == (RateLimit{}) {
		return def, nil
	}
	if l.Events <= 0 || l.Interval <= 0 || l.Burst <= 0 {
		return l, fmt.Errorf("auth config: %s needs Events, Interval and Burst all positive (or Disabled), got %+v", name, l)
	}
	return l, nil
}
