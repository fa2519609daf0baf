package docker

import (
	"strconv"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// mfaEnv are GoTrue's MFA settings (GOTRUE_MFA_TOTP_ENROLL_ENABLED,
// GOTRUE_MFA_TOTP_VERIFY_ENABLED, GOTRUE_MFA_MAX_ENROLLED_FACTORS, read by
// docker-compose.yml) from tenant.yaml's auth.mfa, which the embedded auth
// server honours too.
func mfaEnv(t *tenant.Tenant) map[string]string {
	m := t.Config.Auth.MFA
	return map[string]string{
		"MFA_TOTP_ENROLL_ENABLED":  strconv.FormatBool(m.TOTPEnroll()),
		"MFA_TOTP_VERIFY_ENABLED":  strconv.FormatBool(m.TOTPVerify()),
		"MFA_MAX_ENROLLED_FACTORS": strconv.Itoa(m.MaxFactors()),
	}
}
