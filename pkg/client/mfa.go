package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/supabase-community/gotrue-go/types"
)

// Factor is a multi-factor authentication factor of the signed-in user
// (GoTrue's factor object).
type Factor struct {
	ID           string    `json:"id"`
	FriendlyName string    `json:"friendly_name,omitempty"`
	FactorType   string    `json:"factor_type"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Verified tells whether the factor finished enrolment (status verified).
func (f Factor) Verified() bool { return f.Status == "verified" }

// TOTPEnrollment is a new, unverified TOTP factor: the secret and otpauth
// URI to put into an authenticator app, and GoTrue's QR code (an SVG
// document). Verify it with ChallengeAndVerify to finish enrolment.
type TOTPEnrollment struct {
	ID           string `json:"id"`
	FriendlyName string `json:"friendly_name"`
	Secret       string `json:"secret"`
	URI          string `json:"uri"`
	QRCode       string `json:"-"`
}

// Factors returns the signed-in user's MFA factors, verified or not (the
// factors of GET /auth/v1/user).
func (s *AuthService) Factors(ctx context.Context) ([]Factor, error) {
	var u struct {
		Factors []Factor `json:"factors"`
	}
	err := s.c.do(ctx, "list factors", true, func(cl *call) error {
		cl.auth = authUser
		_, libErr := cl.gotrue().GetUser()
		if err := cl.check(libErr); err != nil {
			return err
		}
		return cl.decode(&u)
	})
	if err != nil {
		return nil, err
	}
	return u.Factors, nil
}

// EnrollTOTP starts enrolling a TOTP factor (POST /auth/v1/factors) named
// friendlyName; issuer names the service in the authenticator app ("" lets
// the server use its site's host).
func (s *AuthService) EnrollTOTP(ctx context.Context, friendlyName, issuer string) (*TOTPEnrollment, error) {
	var r struct {
		ID           string `json:"id"`
		FriendlyName string `json:"friendly_name"`
		TOTP         struct {
			QRCode string `json:"qr_code"`
			Secret string `json:"secret"`
			URI    string `json:"uri"`
		} `json:"totp"`
	}
	err := s.c.do(ctx, "enroll factor", false, func(cl *call) error {
		cl.auth = authUser
		_, libErr := cl.gotrue().EnrollFactor(types.EnrollFactorRequest{FriendlyName: friendlyName, FactorType: types.FactorTypeTOTP, Issuer: issuer})
		if err := cl.check(libErr); err != nil {
			return err
		}
		return cl.decode(&r)
	})
	if err != nil {
		return nil, err
	}
	return &TOTPEnrollment{ID: r.ID, FriendlyName: r.FriendlyName, Secret: r.TOTP.Secret, URI: r.TOTP.URI, QRCode: r.TOTP.QRCode}, nil
}

// ChallengeAndVerify proves possession of a factor with a code from it:
// a challenge (POST /auth/v1/factors/{id}/challenge), then its verification
// (…/verify). The session becomes aal2 — the new tokens replace the
// client's session and are saved — and an unverified factor becomes
// verified. A wrong or reused code gives an *Error with code
// mfa_verification_failed.
func (s *AuthService) ChallengeAndVerify(ctx context.Context, factorID, code string) (*Session, error) {
	id, err := uuid.Parse(factorID)
	if err != nil {
		return nil, fmt.Errorf("verify factor: %q is not a factor id: %w", factorID, ErrValidation)
	}
	var challengeID uuid.UUID
	err = s.c.do(ctx, "challenge factor", false, func(cl *call) error {
		cl.auth = authUser
		ch, libErr := cl.gotrue().ChallengeFactor(types.ChallengeFactorRequest{FactorID: id})
		if err := cl.check(libErr); err != nil {
			return err
		}
		challengeID = ch.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.startSession(ctx, "verify factor", authUser, func(cl *call) error {
		_, err := cl.gotrue().VerifyFactor(types.VerifyFactorRequest{FactorID: id, ChallengeID: challengeID, Code: strings.TrimSpace(code)})
		return err
	})
}

// Unenroll removes a factor (DELETE /auth/v1/factors/{id}). A verified
// factor can only be removed from an aal2 session (code insufficient_aal
// otherwise).
func (s *AuthService) Unenroll(ctx context.Context, factorID string) error {
	id, err := uuid.Parse(factorID)
	if err != nil {
		return fmt.Errorf("remove factor: %q is not a factor id: %w", factorID, ErrValidation)
	}
	return s.c.do(ctx, "remove factor", false, func(cl *call) error {
		cl.auth = authUser
		_, libErr := cl.gotrue().UnenrollFactor(types.UnenrollFactorRequest{FactorID: id})
		return cl.check(libErr)
	})
}

// AssuranceLevel is the session's authenticator assurance level, the aal
// claim of its access token ("aal1" or "aal2"; "" without a session). The
// token is read, not verified: the server verifies it on every call.
func (s *AuthService) AssuranceLevel(ctx context.Context) (string, error) {
	sess, err := s.c.sess.current(ctx)
	if err != nil || sess == nil {
		return "", err
	}
	parts := strings.Split(sess.AccessToken, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("read access token: not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("read access token: %w", err)
	}
	var claims struct {
		AAL string `json:"aal"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", fmt.Errorf("read access token: %w", err)
	}
	return claims.AAL, nil
}
