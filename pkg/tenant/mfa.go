package tenant

import "fmt"

// MFAConfig is the tenant's multi-factor authentication setting, with the
// meaning of GoTrue's GOTRUE_MFA_TOTP_ENROLL_ENABLED,
// GOTRUE_MFA_TOTP_VERIFY_ENABLED and GOTRUE_MFA_MAX_ENROLLED_FACTORS: the
// embedded auth server honours it and the docker runtime passes it to
// GoTrue, so one tenant.yaml drives either runtime.
type MFAConfig struct {
	// TOTPEnrollEnabled lets users enrol TOTP factors; default true, as in
	// GoTrue.
	TOTPEnrollEnabled *bool `yaml:"totp_enroll_enabled,omitempty"`
	// TOTPVerifyEnabled lets users challenge and verify TOTP factors (reach
	// aal2); default true, as in GoTrue.
	TOTPVerifyEnabled *bool `yaml:"totp_verify_enabled,omitempty"`
	// MaxEnrolledFactors caps the factors of one user; default 10.
	MaxEnrolledFactors int `yaml:"max_enrolled_factors,omitempty"`
}

// DefaultMaxEnrolledFactors is GoTrue's GOTRUE_MFA_MAX_ENROLLED_FACTORS
// default.
const DefaultMaxEnrolledFactors = 10

// TOTPEnroll tells whether TOTP enrolment is on (default true).
func (m MFAConfig) TOTPEnroll() bool { return m.TOTPEnrollEnabled == nil || *m.TOTPEnrollEnabled }

// TOTPVerify tells whether TOTP verification is on (default true).
func (m MFAConfig) TOTPVerify() bool { return m.TOTPVerifyEnabled == nil || *m.TOTPVerifyEnabled }

// MaxFactors is MaxEnrolledFactors with its default applied.
func (m MFAConfig) MaxFactors() int {
	if m.MaxEnrolledFactors == 0 {
		return DefaultMaxEnrolledFactors
	}
	return m.MaxEnrolledFactors
}

// Validate names a bad setting.
func (m MFAConfig) Validate() error {
	if m.MaxEnrolledFactors < 0 {
		return fmt.Errorf("auth.mfa.max_enrolled_factors must not be negative, got %d", m.MaxEnrolledFactors)
	}
	return nil
}
