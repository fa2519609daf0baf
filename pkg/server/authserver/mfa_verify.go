package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// MFA audit actions, as GoTrue records them (log type "factor").
const (
	actionEnrollFactor    = "factor_in_progress"
	actionUnenrollFactor  = "factor_unenrolled"
	actionCreateChallenge = "challenge_created"
	actionVerifyFactor    = "verification_attempted"
	actionDeleteFactor    = "factor_deleted"
	actionUpdateFactor    = "factor_updated"
)

func init() {
	// Kept beside the actions rather than in store.go's table, so that the
	// MFA code stays in its own files.
	for _, a := range []string{actionEnrollFactor, actionUnenrollFactor, actionCreateChallenge,
		actionVerifyFactor, actionDeleteFactor, actionUpdateFactor} {
		auditLogTypes[a] = "factor"
	}
}

// aal2Methods are the amr methods that make a session aal2 (GoTrue's
// IsAAL2Claim).
var aal2Methods = map[string]bool{"totp": true, "mfa/phone": true, "mfa/webauthn": true}

// aalOf is the assurance level of a session with these methods: aal2 once a
// second factor was verified in it, aal1 otherwise.
func aalOf(amr []AMREntry) string {
	for _, e := range amr {
		if aal2Methods[e.Method] {
			return "aal2"
		}
	}
	return "aal1"
}

// verifyParams is POST /factors/{id}/verify's body. challenge_id must be a
// UUID (GoTrue decodes it as one).
type verifyParams struct {
	ChallengeID string `json:"challenge_id"`
	Code        string `json:"code"`
}

func readVerifyParams(r *http.Request) (*verifyParams, error) {
	var p verifyParams
	if err := readJSON(r, &p); err != nil {
		return nil, err
	}
	if p.ChallengeID == "" {
		p.ChallengeID = nilInstance // GoTrue's zero UUID: no such challenge
	}
	if !isUUID(p.ChallengeID) {
		return nil, badRequest(CodeBadJSON, "Could not parse request body as JSON: uuid: incorrect UUID format %s", p.ChallengeID)
	}
	p.ChallengeID = strings.ToLower(p.ChallengeID)
	return &p, nil
}

// verifyFactor is POST /factors/{id}/verify: a code of the factor for one of
// its challenges. Success verifies the factor (on first use), records the
// totp method in the session, raises it to aal2 and answers new tokens of
// the same session; the user's aal1 sessions are signed out and other
// unverified TOTP factors removed, as in GoTrue.
//
// Beyond GoTrue, a code that already verified a challenge of the factor is
// refused for as long as it could still be valid (RFC 6238 §5.2: the
// verifier must not accept an OTP twice), so a code seen over a shoulder or
// in a log cannot buy a second aal2 session.
func (s *Server) verifyFactor(w http.ResponseWriter, r *http.Request, ac *authContext, f *Factor) error {
	p, err := readVerifyParams(r)
	if err != nil {
		return err
	}
	if p.Code == "" && f.FactorType != "webauthn" {
		return badRequest(CodeValidationFailed, "Code needs to be non-empty")
	}
	if f.FactorType == "webauthn" {
		// GoTrue's verify answers a disabled WebAuthn with the enroll code.
		return unprocessable(CodeMFAWebAuthnEnrollDisabled, "MFA verification is disabled for WebAuthn")
	}
	if err := s.checkVerifyEnabled(f); err != nil {
		return err
	}
	if ac.sessionID == "" {
		return internalError(nil, "Cannot read SessionId claim as UUID")
	}
	ctx := r.Context()
	now := s.now()
	if err := s.checkChallenge(ctx, r, f, p.ChallengeID, now); err != nil {
		return err
	}
	valid, _ := totp.ValidateCustom(p.Code, f.secret, now, totp.ValidateOpts{
		Period: totpPeriodSeconds, Skew: totpSkewSteps, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if !valid {
		s.log.WarnContext(ctx, "mfa verification failed: wrong code", "user_id", ac.user.ID, "factor_id", f.ID)
		return unprocessable(CodeMFAVerificationFailed, "Invalid TOTP code entered")
	}
	var resp *tokenResponse
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.consumeCode(ctx, tx, ac, f, p.ChallengeID, p.Code, now); err != nil {
			return err
		}
		b := &pgx.Batch{}
		if !f.isVerified() {
			b.Queue(sqlFactorVerified, f.ID, now)
		}
		traits := map[string]any{"factor_id": f.ID, "challenge_id": p.ChallengeID, "factor_type": f.FactorType}
		if err := s.sendAudited(ctx, tx, b, auditFor(ac.user, actionVerifyFactor, traits), now, "Database error verifying factor"); err != nil {
			return err
		}
		var err error
		resp, err = s.raiseSession(ctx, tx, ac, f, now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// checkChallenge applies GoTrue's validateChallenge: the challenge must be
// the factor's, unused, from the same IP address, and not expired (an
// expired one is deleted).
func (s *Server) checkChallenge(ctx context.Context, r *http.Request, f *Factor, challengeID string, now time.Time) error {
	var created time.Time
	var verified *time.Time
	var ip string
	err := s.pool.QueryRow(ctx, sqlChallengeOfFactor, challengeID, f.ID).Scan(&created, &verified, &ip)
	if errors.Is(err, pgx.ErrNoRows) {
		return unprocessable(CodeMFAFactorNotFound, "MFA factor with the provided challenge ID not found")
	}
	if err != nil {
		return internalError(err, "Database error finding Challenge")
	}
	if verified != nil || ip != challengeIP(r, s) {
		return unprocessable(CodeMFAIPAddressMismatch, "Challenge and verify IP addresses mismatch.")
	}
	if now.After(created.Add(s.cfg.MFA.ChallengeExpiry)) {
		if _, err := s.pool.Exec(ctx, sqlDeleteChallenge, challengeID); err != nil {
			return internalError(err, "Database error deleting challenge")
		}
		return unprocessable(CodeMFAChallengeExpired,
			"MFA challenge %v has expired, verify against another challenge or create a new challenge.", challengeID)
	}
	return nil
}

// consumeCode marks the challenge verified with the code's hash, refusing a
// code that already verified a challenge of this factor within the window a
// code stays valid. The factor's row is locked first, so two requests with
// one code cannot both pass.
func (s *Server) consumeCode(ctx context.Context, tx pgx.Tx, ac *authContext, f *Factor, challengeID, code string, now time.Time) error {
	if _, err := tx.Exec(ctx, `select 1 from auth.mfa_factors where id = $1 for update`, f.ID); err != nil {
		return internalError(err, "Database error locking factor")
	}
	digest := usedCodeDigest(f.ID, code)
	var used bool
	since := now.Add(-totpCodeReuseWindowSecs * time.Second)
	if err := tx.QueryRow(ctx, sqlCodeUsed, f.ID, digest, since).Scan(&used); err != nil {
		return internalError(err, "Database error checking code")
	}
	if used {
		s.log.WarnContext(ctx, "mfa verification refused: code already used", "user_id", ac.user.ID, "factor_id", f.ID)
		return unprocessable(CodeMFAVerificationFailed, "Invalid TOTP code entered")
	}
	tag, err := tx.Exec(ctx, sqlVerifyChallenge, challengeID, now, digest)
	if err != nil {
		return internalError(err, "Database error verifying challenge")
	}
	if tag.RowsAffected() == 0 {
		// Verified by a concurrent request since checkChallenge.
		return unprocessable(CodeMFAIPAddressMismatch, "Challenge and verify IP addresses mismatch.")
	}
	return nil
}

// usedCodeDigest is what a verified TOTP challenge keeps of its code: a
// hash bound to the factor, never the code itself. GoTrue reads otp_code
// only for phone challenges.
func usedCodeDigest(factorID, code string) string {
	sum := sha256.Sum256([]byte(factorID + ":" + code))
	return "totp-used:" + hex.EncodeToString(sum[:])
}

// raiseSession is GoTrue's updateMFASessionAndClaims for the caller's
// session: the factor's amr method is recorded, the session's refresh token
// swapped for a new one (so the aal1 token cannot mint aal2 tokens), the
// session's aal and factor set from its methods, and an access token signed.
// Then the user's sessions below aal2 are deleted and its other unverified
// factors of the type removed.
func (s *Server) raiseSession(ctx context.Context, tx pgx.Tx, ac *authContext, f *Factor, now time.Time) (*tokenResponse, error) {
	sessionID := ac.sessionID
	var oldID int64
	var oldToken string
	err := tx.QueryRow(ctx, sqlOldestActiveToken, sessionID).Scan(&oldID, &oldToken)
	if err != nil {
		return nil, internalError(err, "Database error finding refresh token")
	}
	u, err := s.userByID(ctx, tx, ac.user.ID)
	if err != nil {
		return nil, internalError(err, "Database error finding user")
	}
	issued := newRefreshToken()
	b := &pgx.Batch{}
	b.Queue(sqlUpsertAMR, newUUID(), sessionID, now, amrMethodOf(f.FactorType))
	b.Queue(sqlRevokeToken, oldID, now)
	b.Queue(sqlInsertRefreshToken, issued, u.ID, now, oldToken, sessionID)
	if err := s.sendAudited(ctx, tx, b, auditFor(u, actionTokenRevoked, nil), now, "Database error granting user"); err != nil {
		return nil, err
	}
	amr, err := sessionAMR(ctx, tx, sessionID)
	if err != nil {
		return nil, internalError(err, "Database error loading session")
	}
	b = &pgx.Batch{}
	b.Queue(sqlSetSessionAAL, sessionID, aalOf(amr), f.ID)
	b.Queue(sqlDeleteSessionsBelowAAL2, u.ID)
	b.Queue(sqlDeleteUnverifiedFactors, u.ID, f.FactorType)
	if err := sendBatch(ctx, tx, b); err != nil {
		return nil, internalError(err, "Failed to update sessions")
	}
	return s.issueTokens(u, sessionID, issued, amr, now)
}
