package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"github.com/sfp-dev/sfp/internal/qrdraw"
)

// handleFactors routes /factors and /factors/{id}[/challenge|/verify] in
// GoTrue's order: the caller is authenticated and must not be anonymous,
// then the factor is loaded (it must be the caller's), then the route and
// method are matched and the rate limit applied.
func (s *Server) handleFactors(w http.ResponseWriter, r *http.Request) error {
	ac, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if ac.claims.IsAnonymous {
		return forbidden(CodeNoAuthorization, "Anonymous user not allowed to perform these actions")
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/factors"), "/"), "/")
	if parts[0] == "" {
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		return s.enrollFactor(w, r, ac)
	}
	if len(parts) > 2 {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return nil
	}
	f, err := s.loadOwnFactor(r.Context(), ac.user.ID, parts[0])
	if err != nil {
		return err
	}
	action := ""
	if len(parts) == 2 {
		action = parts[1]
	}
	switch action {
	case "":
		if r.Method != http.MethodDelete {
			return methodNotAllowed(w, "DELETE")
		}
		return s.unenrollFactor(w, r, ac, f)
	case "challenge", "verify":
		if r.Method != http.MethodPost {
			return methodNotAllowed(w, "POST")
		}
		limiter := s.challengeLimiter
		if action == "verify" {
			limiter = s.verifyLimiter
		}
		if !limiter.allow(clientIP(r, s.cfg.TrustedProxies), s.now()) {
			return tooManyRequests()
		}
		if action == "verify" {
			return s.verifyFactor(w, r, ac, f)
		}
		return s.challengeFactor(w, r, ac, f)
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
	return nil
}

func methodNotAllowed(w http.ResponseWriter, allowed string) error {
	w.Header().Set("Allow", allowed)
	w.WriteHeader(http.StatusMethodNotAllowed)
	return nil
}

// loadOwnFactor loads a factor of userID by its id in the path, with
// GoTrue's loadFactor errors.
func (s *Server) loadOwnFactor(ctx context.Context, userID, id string) (*Factor, error) {
	if !isUUID(id) {
		return nil, notFound(CodeValidationFailed, "factor_id must be an UUID")
	}
	f, err := factorOfUser(ctx, s.pool, strings.ToLower(id), userID)
	if errors.Is(err, errNotFound) {
		return nil, notFound(CodeMFAFactorNotFound, "Factor not found")
	}
	if err != nil {
		return nil, internalError(err, "Database error loading factor")
	}
	return f, nil
}

// enrollResponse is POST /factors' answer. qr_code is the SVG document
// itself: auth-js turns it into a data: URI.
type enrollResponse struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	FriendlyName string      `json:"friendly_name"`
	TOTP         *totpObject `json:"totp,omitempty"`
}

type totpObject struct {
	QRCode string `json:"qr_code,omitempty"`
	Secret string `json:"secret,omitempty"`
	URI    string `json:"uri,omitempty"`
}

// enrollFactor is POST /factors: a new unverified TOTP factor, its secret
// and otpauth URI, answered once and stored for verification.
func (s *Server) enrollFactor(w http.ResponseWriter, r *http.Request, ac *authContext) error {
	if ac.sessionID == "" {
		return internalError(nil, "A valid session and a registered user are required to enroll a factor")
	}
	var p struct {
		FriendlyName string `json:"friendly_name"`
		FactorType   string `json:"factor_type"`
		Issuer       string `json:"issuer"`
		Phone        string `json:"phone"`
	}
	if err := readJSON(r, &p); err != nil {
		return err
	}
	switch p.FactorType {
	case "phone":
		return unprocessable(CodeMFAPhoneEnrollDisabled, "MFA enroll is disabled for Phone")
	case "webauthn":
		return unprocessable(CodeMFAWebAuthnEnrollDisabled, "MFA enroll is disabled for WebAuthn")
	case factorTOTP:
		if s.cfg.MFA.TOTPEnrollDisabled {
			return unprocessable(CodeMFATOTPEnrollDisabled, "MFA enroll is disabled for TOTP")
		}
	default:
		return badRequest(CodeValidationFailed, "factor_type needs to be totp, phone, or webauthn")
	}
	issuer := p.Issuer
	if issuer == "" {
		site, err := url.ParseRequestURI(s.cfg.SiteURL)
		if err != nil {
			return internalError(err, "site url is improperly formatted")
		}
		issuer = site.Host
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: ac.user.Email})
	if err != nil {
		return internalError(err, "Error generating QR Code")
	}
	svg, err := qrdraw.SVG(key.String())
	if err != nil {
		return internalError(err, "Error generating QR Code")
	}
	ctx := r.Context()
	now := s.now()
	factorID := newUUID()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.checkCanEnroll(ctx, tx, ac, p.FriendlyName, now); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(sqlInsertFactor, factorID, ac.user.ID, p.FriendlyName, now, key.Secret())
		return s.sendAudited(ctx, tx, b, auditFor(ac.user, actionEnrollFactor, map[string]any{"factor_id": factorID}), now, "Database error creating factor")
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &enrollResponse{
		ID: factorID, Type: factorTOTP, FriendlyName: p.FriendlyName,
		TOTP: &totpObject{QRCode: svg, Secret: key.Secret(), URI: key.URL()},
	})
	return nil
}

// checkCanEnroll applies GoTrue's validateFactors: expired unverified
// factors are dropped, then the friendly name must be free, the factor
// counts under their caps, and a user with a verified factor must be at
// aal2 to add another. The user's row is locked so that concurrent
// enrolments are counted one after the other.
func (s *Server) checkCanEnroll(ctx context.Context, tx pgx.Tx, ac *authContext, name string, now time.Time) error {
	if _, err := tx.Exec(ctx, `select 1 from auth.users where id = $1 for update`, ac.user.ID); err != nil {
		return internalError(err, "Database error locking user")
	}
	if _, err := tx.Exec(ctx, sqlDeleteExpiredFactors, s.cfg.MFA.FactorExpiry.String(), now); err != nil {
		return internalError(err, "Database error deleting expired factors")
	}
	rows, err := tx.Query(ctx, `select coalesce(friendly_name, ''), status::text from auth.mfa_factors where user_id = $1`, ac.user.ID)
	if err != nil {
		return internalError(err, "Database error loading factors")
	}
	total, verified, conflict := 0, 0, false
	for rows.Next() {
		var fname, status string
		if err := rows.Scan(&fname, &status); err != nil {
			rows.Close()
			return internalError(err, "Database error loading factors")
		}
		total++
		conflict = conflict || fname == name
		if status == factorVerified {
			verified++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return internalError(err, "Database error loading factors")
	}
	if conflict {
		return unprocessable(CodeMFAFactorNameConflict, "A factor with the friendly name %q for this user already exists", name)
	}
	if total >= s.cfg.MFA.MaxEnrolledFactors || verified >= s.cfg.MFA.MaxVerifiedFactors {
		return unprocessable(CodeTooManyEnrolledMFAFactors, "Maximum number of verified factors reached, unenroll to continue")
	}
	if verified > 0 {
		aal, err := sessionAAL(ctx, tx, ac.sessionID)
		if err != nil {
			return internalError(err, "Database error loading session")
		}
		if aal != "aal2" {
			return forbidden(CodeInsufficientAAL, "AAL2 required to enroll a new factor")
		}
	}
	return nil
}

// challengeResponse is a new challenge: verify it before expires_at.
type challengeResponse struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
}

// challengeFactor is POST /factors/{id}/challenge: a challenge bound to the
// caller's IP address, to be verified with a code within the expiry.
func (s *Server) challengeFactor(w http.ResponseWriter, r *http.Request, ac *authContext, f *Factor) error {
	if err := s.checkVerifyEnabled(f); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	id := newUUID()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(sqlInsertChallenge, id, f.ID, now, challengeIP(r, s))
		b.Queue(sqlFactorChallenged, f.ID, now)
		traits := map[string]any{"factor_id": f.ID, "factor_status": f.Status}
		return s.sendAudited(ctx, tx, b, auditFor(ac.user, actionCreateChallenge, traits), now, "Database error creating challenge")
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &challengeResponse{ID: id, Type: f.FactorType, ExpiresAt: now.Add(s.cfg.MFA.ChallengeExpiry).Unix()})
	return nil
}

// checkVerifyEnabled refuses challenges and verifications of factor types
// whose verification is off: TOTP as configured; phone and WebAuthn always
// (a factor GoTrue enrolled), with GoTrue's codes.
func (s *Server) checkVerifyEnabled(f *Factor) error {
	switch f.FactorType {
	case factorTOTP:
		if s.cfg.MFA.TOTPVerifyDisabled {
			return unprocessable(CodeMFATOTPVerifyDisabled, "MFA verification is disabled for TOTP")
		}
		return nil
	case "phone":
		return unprocessable(CodeMFAPhoneVerifyDisabled, "MFA verification is disabled for Phone")
	case "webauthn":
		return unprocessable(CodeMFAWebAuthnVerifyDisabled, "MFA verification is disabled for WebAuthn")
	}
	return badRequest(CodeValidationFailed, "factor_type needs to be totp, phone, or webauthn")
}

// challengeIP is the address a challenge is bound to: the client's, or the
// unspecified address when the request came with none (an in-process call).
func challengeIP(r *http.Request, s *Server) string {
	if ip := clientIP(r, s.cfg.TrustedProxies); ip != "" {
		return ip
	}
	return "0.0.0.0"
}

// unenrollFactor is DELETE /factors/{id}. A verified factor may only be
// removed from an aal2 session; the sessions it raised to aal2 fall back to
// aal1.
func (s *Server) unenrollFactor(w http.ResponseWriter, r *http.Request, ac *authContext, f *Factor) error {
	if ac.sessionID == "" {
		return internalError(nil, "A valid session and factor are required to unenroll a factor")
	}
	ctx := r.Context()
	if f.isVerified() {
		aal, err := sessionAAL(ctx, s.pool, ac.sessionID)
		if err != nil {
			return internalError(err, "Database error loading session")
		}
		if aal != "aal2" {
			return unprocessable(CodeInsufficientAAL, "AAL2 required to unenroll verified factor")
		}
	}
	now := s.now()
	traits := map[string]any{"factor_id": f.ID, "factor_status": f.Status, "session_id": ac.sessionID}
	if err := s.removeFactor(ctx, f, auditFor(ac.user, actionUnenrollFactor, traits), now); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": f.ID})
	return nil
}

// removeFactor deletes a factor, writes its audit entry and downgrades the
// sessions it raised (GoTrue's DowngradeSessionsToAAL1).
func (s *Server) removeFactor(ctx context.Context, f *Factor, audit auditEntry, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(sqlDowngradeSessionAMR, f.ID, amrMethodOf(f.FactorType))
		b.Queue(sqlDowngradeSessions, f.userID, f.ID)
		b.Queue(sqlDeleteFactor, f.ID)
		return s.sendAudited(ctx, tx, b, audit, now, "Database error deleting factor")
	})
}

// amrMethodOf is the amr method a verification of a factor type records.
func amrMethodOf(factorType string) string {
	switch factorType {
	case "phone":
		return "mfa/phone"
	case "webauthn":
		return "mfa/webauthn"
	}
	return "totp"
}

// checkAAL2ForUserUpdate refuses a change of password, email or phone by a
// user with a verified factor from a session below aal2, as GoTrue's
// UserUpdate does (401 insufficient_aal): a stolen password alone must not
// be enough to take the account over.
func (s *Server) checkAAL2ForUserUpdate(ctx context.Context, ac *authContext, p userUpdateParams) error {
	changes := (p.Password != nil && *p.Password != "") || (p.Email != "" && p.Email != ac.user.Email) ||
		(p.Phone != "" && p.Phone != ac.user.Phone)
	if !changes || !slices.ContainsFunc(ac.user.Factors, func(f Factor) bool { return f.isVerified() }) {
		return nil
	}
	aal, err := sessionAAL(ctx, s.pool, ac.sessionID)
	if err != nil {
		return internalError(err, "Database error loading session")
	}
	if aal != "aal2" {
		return newError(http.StatusUnauthorized, CodeInsufficientAAL, "AAL2 session is required to update email or password when MFA is enabled.")
	}
	return nil
}
