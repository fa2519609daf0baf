package authserver

import (
	"fmt"
	"time"
)

// MFAConfig configures multi-factor authentication, as GoTrue's GOTRUE_MFA_*
// settings do. The zero value is GoTrue's default: TOTP enrolment and
// verification on, at most 10 factors per user.
type MFAConfig struct {
	// TOTPEnrollDisabled refuses POST /factors for TOTP
	// (GOTRUE_MFA_TOTP_ENROLL_ENABLED=false).
	TOTPEnrollDisabled bool
	// TOTPVerifyDisabled refuses challenges and verifications of TOTP
	// factors (GOTRUE_MFA_TOTP_VERIFY_ENABLED=false).
	TOTPVerifyDisabled bool
	// MaxEnrolledFactors caps a user's factors, verified or not
	// (GOTRUE_MFA_MAX_ENROLLED_FACTORS); default 10.
	MaxEnrolledFactors int
	// MaxVerifiedFactors caps a user's verified factors
	// (GOTRUE_MFA_MAX_VERIFIED_FACTORS); default 10.
	MaxVerifiedFactors int
	// ChallengeExpiry is how long a challenge may be verified
	// (GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION); default and minimum 300s.
	ChallengeExpiry time.Duration
	// FactorExpiry is how long an unverified, never challenged factor is
	// kept (GOTRUE_MFA_FACTOR_EXPIRY_DURATION); default and minimum 300s.
	FactorExpiry time.Duration
	// RateLimitPerIP limits challenges and, separately, verifications per
	// client IP (GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY: 15 a minute,
	// burst 30).
	RateLimitPerIP RateLimit
}

// DefaultMFARateLimitPerIP is GoTrue's limit on MFA challenges and
// verifications per client IP.
var DefaultMFARateLimitPerIP = RateLimit{Events: 15, Interval: time.Minute, Burst: 30}

const (
	defaultMaxFactors       = 10
	minMFAChallengeExpiry   = 300 * time.Second
	minMFAFactorExpiry      = 300 * time.Second
	totpPeriodSeconds       = 30
	totpSkewSteps           = 1
	totpCodeReuseWindowSecs = totpPeriodSeconds * (2*totpSkewSteps + 1)
)

// withDefaults applies GoTrue's defaults and floors.
func (c MFAConfig) withDefaults() (MFAConfig, error) {
	if c.MaxEnrolledFactors == 0 {
		c.MaxEnrolledFactors = defaultMaxFactors
	}
	if c.MaxVerifiedFactors == 0 {
		c.MaxVerifiedFactors = defaultMaxFactors
	}
	if c.MaxEnrolledFactors < 0 || c.MaxVerifiedFactors < 0 {
		return c, fmt.Errorf("auth config: MFA.MaxEnrolledFactors and MFA.MaxVerifiedFactors must not be negative, got %d and %d",
			c.MaxEnrolledFactors, c.MaxVerifiedFactors)
	}
	// GoTrue raises durations below its defaults to them.
	if c.ChallengeExpiry < minMFAChallengeExpiry {
		c.ChallengeExpiry = minMFAChallengeExpiry
	}
	if c.FactorExpiry < minMFAFactorExpiry {
		c.FactorExpiry = minMFAFactorExpiry
	}
	var err error
	c.RateLimitPerIP, err = c.RateLimitPerIP.withDefault("MFA.RateLimitPerIP", DefaultMFARateLimitPerIP)
	return c, err
}
