package authserver

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
)

// handleUser routes /user by method once the caller is authenticated, as
// GoTrue's requireAuthentication runs before chi matches the method: a
// method other than GET and PUT is 405 only for a valid user token.
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet:
		return s.handleGetUser(w, r)
	case http.MethodPut:
		return s.handleUpdateUser(w, r)
	}
	if _, err := s.authenticate(r); err != nil {
		return err
	}
	w.Header().Set("Allow", "GET, PUT")
	w.WriteHeader(http.StatusMethodNotAllowed)
	return nil
}

// handleGetUser is GET /user: the caller's user.
func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	ac, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if len(ac.claims.Audience) == 0 || requestAud(r, ac.claims) != ac.claims.Audience[0] {
		return badRequest(CodeValidationFailed, "Token audience doesn't match request audience")
	}
	writeJSON(w, http.StatusOK, ac.user)
	return nil
}

type userUpdateParams struct {
	Email    string         `json:"email"`
	Password *string        `json:"password"`
	Nonce    string         `json:"nonce"`
	Data     map[string]any `json:"data"`
	AppData  map[string]any `json:"app_metadata,omitempty"`
	Phone    string         `json:"phone"`
}

// handleUpdateUser is PUT /user: metadata, password and email changes of the
// caller. A new password signs out the user's other sessions. An email
// change stays pending (new_email) as in GoTrue, which mails both addresses;
// the embedded runtime sends no mail, so an admin applies it.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	ac, err := s.authenticate(r)
	if err != nil {
		return err
	}
	var p userUpdateParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	ctx := r.Context()
	u := ac.user
	aud := requestAud(r, ac.claims)
	if p.Email != "" {
		if p.Email, err = validateEmail(p.Email); err != nil {
			return err
		}
	}
	if p.Phone != "" {
		return unprocessable(CodePhoneProviderDisabled, "Phone logins are disabled")
	}
	if p.Password != nil {
		if err := s.checkPasswordStrength(*p.Password); err != nil {
			return err
		}
	}
	// Only users whose role is the admin group may touch app_metadata.
	if p.AppData != nil && !(u.Aud == Audience && u.Role == "admin") {
		return forbidden(CodeNotAdmin, "Updating app_metadata requires admin privileges")
	}
	if err := s.checkAAL2ForUserUpdate(ctx, ac, p); err != nil {
		return err
	}
	// An SSO user's address and credentials are the IdP's.
	if u.isSSOUser && ((p.Password != nil && *p.Password != "") || (p.Email != "" && p.Email != u.Email)) {
		return unprocessable(CodeUserSSOManaged, "Updating email, phone, password of a SSO account only possible via SSO")
	}
	if p.Email != "" && p.Email != u.Email {
		dup, err := s.duplicateEmail(ctx, s.pool, p.Email, aud, u.ID)
		if err != nil {
			return internalError(err, "Database error checking email")
		}
		if dup != "" {
			return unprocessable(CodeEmailExists, "A user with this email address has already been registered")
		}
	}
	var newHash string
	if p.Password != nil && *p.Password != "" {
		if passwordMatches(u.passwordHash, *p.Password) {
			return unprocessable(CodeSamePassword, "New password should be different from the old password.")
		}
		if newHash, err = s.hashPassword(*p.Password); err != nil {
			return internalError(err, "Error during password storage")
		}
	}

	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if p.Password != nil {
			if err := s.updatePassword(ctx, tx, u, newHash, ac.sessionID, now); err != nil {
				return err
			}
			if err := s.queueAudit(b, auditFor(u, actionUpdatePassword, nil), now); err != nil {
				return err
			}
		}
		if p.Data != nil {
			u.UserMetadata = mergeMetadata(u.UserMetadata, p.Data)
			if _, err := tx.Exec(ctx, `update auth.users set raw_user_meta_data = $2, updated_at = $3 where id = $1`,
				u.ID, mustJSON(u.UserMetadata), now); err != nil {
				return internalError(err, "Error updating user")
			}
		}
		if p.AppData != nil {
			u.AppMetadata = mergeMetadata(u.AppMetadata, p.AppData)
			if _, err := tx.Exec(ctx, `update auth.users set raw_app_meta_data = $2, updated_at = $3 where id = $1`,
				u.ID, mustJSON(u.AppMetadata), now); err != nil {
				return internalError(err, "Error updating user")
			}
		}
		if p.Email != "" && p.Email != u.Email {
			if err := s.checkEmailFrequency(u.EmailChangeSentAt, now); err != nil {
				return err
			}
			u.EmailChange, u.EmailChangeSentAt = p.Email, &now
			// Secure email change: one code for the new address, one for
			// the current one.
			if _, err := tx.Exec(ctx, `update auth.users set email_change = $2, email_change_token_new = $3,
				email_change_token_current = $4, email_change_confirm_status = 0, email_change_sent_at = $5,
				updated_at = $5 where id = $1`,
				u.ID, p.Email, tokenHash(p.Email, newOTP()), tokenHash(u.Email, newOTP()), now); err != nil {
				return internalError(err, "Error sending email change email")
			}
		}
		if err := s.queueAudit(b, auditFor(u, actionUserModified, nil), now); err != nil {
			return err
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return err
	}
	u.UpdatedAt = now
	writeJSON(w, http.StatusOK, u)
	return nil
}

// updatePassword stores a new password hash, clears the pending one-time
// tokens (the old password's holder may have asked for them) and signs the
// user out everywhere except keepSession ("" signs out everywhere).
func (s *Server) updatePassword(ctx context.Context, tx pgx.Tx, u *User, hash, keepSession string, now time.Time) error {
	var hashParam any
	if hash != "" {
		hashParam = hash
	}
	_, err := tx.Exec(ctx, `update auth.users set encrypted_password = $2, confirmation_token = '',
		confirmation_sent_at = null, recovery_token = '', recovery_sent_at = null,
		email_change_token_current = '', email_change_token_new = '', email_change_sent_at = null,
		phone_change_token = '', phone_change_sent_at = null, reauthentication_token = '',
		reauthentication_sent_at = null, updated_at = $3
		where id = $1`, u.ID, hashParam, now)
	if err != nil {
		return internalError(err, "Error during password storage")
	}
	u.passwordHash = hash
	u.ConfirmationSentAt, u.RecoverySentAt, u.EmailChangeSentAt = nil, nil, nil
	u.PhoneChangeSentAt, u.ReauthenticationSentAt = nil, nil
	if keepSession == "" {
		_, err = tx.Exec(ctx, sqlLogoutUser, u.ID)
	} else {
		_, err = tx.Exec(ctx, sqlLogoutOthers, keepSession, u.ID)
	}
	if err != nil {
		return internalError(err, "Error during password storage")
	}
	return nil
}

// handleLogout is POST /logout?scope=global|local|others: it deletes
// sessions, which takes their refresh tokens with them. Access tokens of a
// deleted session are refused from then on by this server (session_not_found).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	ac, err := s.authenticate(r)
	if err != nil {
		return err
	}
	scope := r.URL.Query().Get("scope")
	switch scope {
	case "", "global", "local", "others":
	default:
		return badRequest(CodeValidationFailed, "Unsupported logout scope %q", scope)
	}
	ctx := r.Context()
	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(ac.user, actionLogout, nil), now); err != nil {
			return err
		}
		switch {
		case ac.sessionID != "" && scope == "local":
			b.Queue(sqlLogoutSession, ac.sessionID)
		case ac.sessionID != "" && scope == "others":
			b.Queue(sqlLogoutOthers, ac.sessionID, ac.user.ID)
		default:
			b.Queue(sqlLogoutUser, ac.user.ID)
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return internalError(err, "Error logging out user")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
