package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// tokenResponse is a session as GoTrue answers it.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
	User         *User  `json:"user"`
	// WeakPassword is set by the password grant only: JSON null for a
	// strong password (GoTrue puts a typed nil there), the reasons for a
	// password that no longer meets the rules. Other grants omit it.
	WeakPassword any `json:"weak_password,omitempty"`

	// sessionID is the session the tokens belong to, for sessionHeaders.
	sessionID string
}

// sessionHeaders sets the headers GoTrue's IssueRefreshToken sets on every
// answer that creates a session (signup, password grant, and the external
// and SSO sign-ins): the user, the session and the first five characters
// of the refresh token.
func sessionHeaders(w http.ResponseWriter, resp *tokenResponse) {
	if resp == nil || resp.sessionID == "" {
		return
	}
	w.Header().Set("sb-auth-user-id", resp.User.ID)
	w.Header().Set("sb-auth-session-id", resp.sessionID)
	w.Header().Set("sb-auth-refresh-token-prefix", resp.RefreshToken[:5])
}

// implicitRedirect puts a session in the fragment of target beside the
// values already in frag, as GoTrue's implicit flow does (OAuth and SSO
// sign-ins alike).
func implicitRedirect(target string, t *tokenResponse, frag url.Values) string {
	frag.Set("access_token", t.AccessToken)
	frag.Set("token_type", t.TokenType)
	frag.Set("expires_in", strconv.Itoa(t.ExpiresIn))
	frag.Set("expires_at", strconv.FormatInt(t.ExpiresAt, 10))
	frag.Set("refresh_token", t.RefreshToken)
	frag.Set("sb", "")
	return target + "#" + frag.Encode()
}

// weakPasswordInfo is the weak_password object of a password grant.
type weakPasswordInfo struct {
	Message string   `json:"message,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
}

// handleToken is POST /token?grant_type=password|refresh_token|pkce|id_token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	grant, ok := s.grants[r.URL.Query().Get("grant_type")]
	if !ok {
		return badRequest(CodeInvalidCredentials, "unsupported_grant_type")
	}
	if !s.tokenLimiter.allow(clientIP(r, s.cfg.TrustedProxies), s.now()) {
		return tooManyRequests()
	}
	err := grant(w, r)
	s.grantEvent(r.URL.Query().Get("grant_type"), err)
	return err
}

// grantTable is the handlers of POST /token by grant_type.
func (s *Server) grantTable() map[string]handler {
	return map[string]handler{
		"password":      s.passwordGrant,
		"refresh_token": s.refreshGrant,
		"pkce":          s.pkceGrant,
		"id_token":      s.idTokenGrant,
		// The embedded runtime has no Web3 sign-in.
		"web3": s.unsupportedGrant,
	}
}

// unsupportedGrant answers the Web3 grant: the embedded runtime has no
// Web3 sign-in.
func (s *Server) unsupportedGrant(w http.ResponseWriter, r *http.Request) error {
	return unprocessable(CodeWeb3ProviderDisabled, "Web3 provider is disabled")
}

// passwordGrant signs a user in with email and password.
func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Email    string `json:"email"`
		Phone    string `json:"phone"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &p); err != nil {
		return err
	}
	ctx := r.Context()
	if p.Email != "" && p.Phone != "" {
		return badRequest(CodeValidationFailed, "Only an email address or phone number should be provided on login.")
	}
	invalid := badRequest(CodeInvalidCredentials, "Invalid login credentials")
	var u *User
	switch {
	case p.Email != "":
		var err error
		u, err = s.userByEmail(ctx, s.pool, p.Email, requestAud(r, nil))
		if errors.Is(err, errNotFound) {
			return invalid
		}
		if err != nil {
			return internalError(err, "Database error querying schema")
		}
	case p.Phone != "":
		return unprocessable(CodePhoneProviderDisabled, "Phone logins are disabled")
	default:
		return badRequest(CodeValidationFailed, "missing email or phone")
	}
	if u.passwordHash == "" {
		return invalid
	}
	if u.isBanned(s.now()) {
		return badRequest(CodeUserBanned, "User is banned")
	}
	if !passwordMatches(u.passwordHash, p.Password) {
		return invalid
	}
	// A correct password that no longer meets the rules still signs in;
	// the session says why it is weak.
	var weakInfo *weakPasswordInfo
	var we *Error
	if err := s.checkPasswordStrength(p.Password); errors.As(err, &we) && we.Code == CodeWeakPassword {
		weakInfo = &weakPasswordInfo{Message: we.Message, Reasons: we.Reasons}
	}
	if !u.isConfirmed() {
		return badRequest(CodeEmailNotConfirmed, "Email not confirmed")
	}
	now := s.now()
	var resp *tokenResponse
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider": "email"}), now); err != nil {
			return err
		}
		var err error
		resp, err = s.issueSession(ctx, tx, b, r, u, "password", now)
		return err
	})
	if err != nil {
		return err
	}
	resp.WeakPassword = weakInfo
	sessionHeaders(w, resp)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// issueSession creates a session with its first refresh token for u and
// signs an access token, adding its writes to b and sending b in tx.
func (s *Server) issueSession(ctx context.Context, tx pgx.Tx, b *pgx.Batch, r *http.Request, u *User, method string, now time.Time) (*tokenResponse, error) {
	sessionID := newUUID()
	refresh := newRefreshToken()
	b.Queue(sqlInsertSession, sessionID, u.ID, now, r.Header.Get("User-Agent"), inetParam(clientIP(r, s.cfg.TrustedProxies)))
	b.Queue(sqlInsertRefreshToken, refresh, u.ID, now, "", sessionID)
	b.Queue(sqlSetLastSignIn, u.ID, now)
	b.Queue(sqlUpsertAMR, newUUID(), sessionID, now, method)
	if err := sendBatch(ctx, tx, b); err != nil {
		return nil, internalError(err, "Database error granting user")
	}
	u.LastSignInAt = &now
	u.UpdatedAt = now
	return s.issueTokens(u, sessionID, refresh, []AMREntry{{Method: method, Timestamp: now.Unix()}}, now)
}

// refreshGrant exchanges a refresh token for a new session token pair.
//
// Rotation follows GoTrue: the presented token is revoked and a child (its
// parent column naming the presented token) becomes the session's active
// token. A revoked token is accepted again only if it is the parent of the
// active token (the client lost the previous answer: the active token is
// returned, nothing new is made) or if it was revoked less than the reuse
// interval ago (concurrent refreshes: a sibling is made). Any other reuse
// revokes every token of the session and answers refresh_token_already_used.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := readJSON(r, &p); err != nil {
		return err
	}
	// GoTrue's v1 tokens are 12 lowercase alphanumerics; it reads longer
	// ones as its signed v2 form, which this server never issues.
	if !refreshTokenPattern.MatchString(p.RefreshToken) {
		return badRequest(CodeValidationFailed, "Refresh token is not valid")
	}
	ctx := r.Context()
	now := s.now()
	ip := clientIP(r, s.cfg.TrustedProxies)
	var resp *tokenResponse
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the token's session first: refreshes of one session run one
		// at a time, and the token row read below is the latest.
		var sessionID string
		var notAfter *time.Time
		err := tx.QueryRow(ctx, sqlLockSessionOfToken, p.RefreshToken).Scan(&sessionID, &notAfter)
		noSession := errors.Is(err, pgx.ErrNoRows)
		if err != nil && !noSession {
			return internalError(err, "Database error finding session")
		}
		var (
			tokenID         int64
			userID          string
			revoked         bool
			revokedAt       time.Time
			parent, tokSess string
		)
		err = tx.QueryRow(ctx, sqlRefreshToken, p.RefreshToken).Scan(&tokenID, &userID, &revoked, &revokedAt, &parent, &tokSess)
		if errors.Is(err, pgx.ErrNoRows) {
			return badRequest(CodeRefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found")
		}
		if err != nil {
			return internalError(err, "Database error finding refresh token")
		}
		u, err := s.userByID(ctx, tx, userID)
		if errors.Is(err, errNotFound) {
			return badRequest(CodeRefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found")
		}
		if err != nil {
			return internalError(err, "Database error finding user")
		}
		w.Header().Set("sb-auth-user-id", u.ID)
		if u.isBanned(now) {
			return badRequest(CodeUserBanned, "Invalid Refresh Token: User Banned")
		}
		if noSession {
			// A token from before sessions existed: GoTrue drops it.
			if _, err := tx.Exec(ctx, sqlDeleteRefreshToken, tokenID); err != nil {
				return internalError(err, "Error deleting refresh token with missing session")
			}
			return commitThen{badRequest(CodeSessionNotFound, "Invalid Refresh Token: No Valid Session Found")}
		}
		w.Header().Set("sb-auth-session-id", sessionID)
		if notAfter != nil && now.After(*notAfter) {
			return badRequest(CodeSessionExpired, "Invalid Refresh Token: Session Expired")
		}

		issued := ""
		if revoked {
			var active, activeParent string
			err := tx.QueryRow(ctx, sqlActiveRefreshToken, sessionID).Scan(&active, &activeParent)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return internalError(err, "Database error finding active refresh token")
			}
			if err == nil && activeParent == p.RefreshToken {
				issued = active
			} else if now.After(revokedAt.Add(s.cfg.RefreshTokenReuseInterval)) {
				if _, err := tx.Exec(ctx, sqlRevokeFamily, sessionID, now); err != nil {
					return internalError(err, "Database error revoking token family")
				}
				s.log.WarnContext(ctx, "refresh token reused after the reuse interval: session revoked",
					"session_id", sessionID, "user_id", u.ID, "token_id", tokenID)
				return commitThen{badRequest(CodeRefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used")}
			}
		}

		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(u, actionTokenRefreshed, nil), now); err != nil {
			return err
		}
		if issued == "" {
			if err := s.queueAudit(b, auditFor(u, actionTokenRevoked, nil), now); err != nil {
				return err
			}
			issued = newRefreshToken()
			b.Queue(sqlRevokeToken, tokenID, now)
			b.Queue(sqlInsertRefreshToken, issued, u.ID, now, p.RefreshToken, sessionID)
			w.Header().Set("sb-auth-refresh-token-reuse", "false")
		}
		// sessions.refreshed_at is a timestamp without time zone: UTC.
		b.Queue(sqlSessionRefreshed, sessionID, now.UTC(), now, r.Header.Get("User-Agent"), inetParam(ip))
		if err := sendBatch(ctx, tx, b); err != nil {
			return internalError(err, "Database error rotating refresh token")
		}
		amr, err := sessionAMR(ctx, tx, sessionID)
		if err != nil {
			return internalError(err, "Database error loading session")
		}
		if resp, err = s.issueTokens(u, sessionID, issued, amr, now); err != nil {
			return err
		}
		w.Header().Set("sb-auth-refresh-token-prefix", issued[:5])
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
