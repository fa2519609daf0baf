package docker

import (
	"testing"
)

// TestMFAEnv checks that tenant.yaml's auth.mfa reaches GoTrue as its
// GOTRUE_MFA_* variables, with GoTrue's defaults when unset.
func TestMFAEnv(t *testing.T) {
	tn := dockerTenant(t, Options{})
	env := gotrueEnv(t, tn)
	for k, want := range map[string]string{
		"GOTRUE_MFA_TOTP_ENROLL_ENABLED": "true", "GOTRUE_MFA_TOTP_VERIFY_ENABLED": "true", "GOTRUE_MFA_MAX_ENROLLED_FACTORS": "10",
	} {
		if env[k] != want {
			t.Errorf("default %s=%q, want %q", k, env[k], want)
		}
	}
	off := false
	tn.Config.Auth.MFA.TOTPEnrollEnabled = &off
	tn.Config.Auth.MFA.MaxEnrolledFactors = 3
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	reinit(t, tn)
	env = gotrueEnv(t, tn)
	if env["GOTRUE_MFA_TOTP_ENROLL_ENABLED"] != "false" || env["GOTRUE_MFA_TOTP_VERIFY_ENABLED"] != "true" || env["GOTRUE_MFA_MAX_ENROLLED_FACTORS"] != "3" {
		t.Errorf("auth.mfa enroll off, max 3: enroll=%q verify=%q max=%q", env["GOTRUE_MFA_TOTP_ENROLL_ENABLED"],
			env["GOTRUE_MFA_TOTP_VERIFY_ENABLED"], env["GOTRUE_MFA_MAX_ENROLLED_FACTORS"])
	}
}
