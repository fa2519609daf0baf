package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
)

type signupParams struct {
	Email    string         `json:"email"`
	Phone    string         `json:"phone"`
	Password string         `json:"password"`
	Data     map[string]any `json:"data"`
}

// handleSignup is POST /signup with an email and a password. With
// autoconfirm the answer is a session; without it, the unconfirmed user
// (no mail is actually sent by the embedded runtime).
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) error {
	var p signupParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	if p.Email == "" && p.Phone == "" {
		return unprocessable(CodeAnonymousDisabled, "Anonymous sign-ins are disabled")
	}
	if !s.signupLimiter.allow(clientIP(r, s.cfg.TrustedProxies), s.now()) {
		return tooManyRequests()
	}
	if s.cfg.DisableSignup {
		return unprocessable(CodeSignupDisabled, "Signups not allowed for this instance")
	}
	if p.Password == "" {
		return badRequest(CodeValidationFailed, "Signup requires a valid password")
	}
	if err := s.checkPasswordStrength(p.Password); err != nil {
		return err
	}
	if p.Email != "" && p.Phone != "" {
		return badRequest(CodeValidationFailed, "Only an email address or phone number should be provided on signup.")
	}
	if p.Email == "" {
		return badRequest(CodePhoneProviderDisabled, "Phone signups are disabled")
	}
	email, err := validateEmail(p.Email)
	if err != nil {
		return err
	}
	ctx := r.Context()
	aud := requestAud(r, nil)

	var existing *User
	dupID, err := s.duplicateEmail(ctx, s.pool, email, aud, "")
	if err != nil {
		return internalError(err, "Database error finding user")
	}
	if dupID != "" {
		if existing, err = s.userByID(ctx, s.pool, dupID); err != nil {
			return internalError(err, "Database error finding user")
		}
	}

	// Deviation from GoTrue, on purpose: with autoconfirm, GoTrue confirms an
	// existing unconfirmed user (one an admin created without confirming)
	// and returns a session to whoever signs up with that address, without
	// checking the password — a takeover of that user. Here the signup must
	// know the user's password; otherwise it is answered as for an existing
	// user.
	if existing != nil && !existing.isConfirmed() && s.cfg.MailerAutoconfirm &&
		(existing.passwordHash == "" || !passwordMatches(existing.passwordHash, p.Password)) {
		return s.repeatedSignup(w, r, existing, email, aud, p.Data, s.now())
	}

	var hash string
	if existing == nil {
		// Hash outside any transaction: bcrypt is slow on purpose.
		if hash, err = s.hashPassword(p.Password); err != nil {
			return internalError(err, "Database error creating user")
		}
	}

	now := s.now()
	var (
		u    *User
		resp *tokenResponse
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		switch {
		case existing != nil && existing.isConfirmed():
			return errUserExists
		case existing != nil:
			u = existing
			if err := s.signupExistingUnconfirmed(ctx, tx, b, u, p.Data, now); err != nil {
				return err
			}
		default:
			var err error
			if u, err = s.signupNewUser(ctx, tx, b, email, hash, aud, p.Data, now); err != nil {
				return err
			}
		}
		if !u.isConfirmed() {
			return sendBatch(ctx, tx, b)
		}
		if err := s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider": "email"}), now); err != nil {
			return err
		}
		var err error
		resp, err = s.issueSession(ctx, tx, b, r, u, "password", now)
		return err
	})
	if errors.Is(err, errUserExists) {
		return s.repeatedSignup(w, r, existing, email, aud, p.Data, now)
	}
	if err != nil {
		return err
	}
	if resp != nil {
		sessionHeaders(w, resp)
		writeJSON(w, http.StatusOK, resp)
	} else {
		writeJSON(w, http.StatusOK, u)
	}
	return nil
}

var errUserExists = errors.New("user already exists")

// signupNewUser inserts the user and its email identity. GoTrue's signup
// leaves user_metadata equal to the identity data (sub, email,
// email_verified, phone_verified and the signup's data), with
// email_verified flipped to true when the address is confirmed; the
// identity row keeps email_verified false.
func (s *Server) signupNewUser(ctx context.Context, tx pgx.Tx, b *pgx.Batch, email, hash, aud string, data map[string]any, now time.Time) (*User, error) {
	id := newUUID()
	identityData := map[string]any{"sub": id, "email": email, "email_verified": false, "phone_verified": false}
	for k, v := range data {
		if _, ok := identityData[k]; !ok {
			identityData[k] = v
		}
	}
	u := &User{
		ID: id, Aud: aud, Role: Audience, Email: email,
		AppMetadata:  map[string]any{"provider": "email", "providers": []string{"email"}},
		UserMetadata: mergeMetadata(nil, identityData),
		CreatedAt:    now, UpdatedAt: now,
		passwordHash: hash,
	}
	confirmationToken := ""
	if s.cfg.MailerAutoconfirm {
		// confirmed_at (a generated column) stays unset in this answer, as
		// in GoTrue, which does not reload the user after confirming it.
		u.EmailConfirmedAt = &now
		u.UserMetadata["email_verified"] = true
	} else {
		confirmationToken = tokenHash(email, newOTP())
		u.ConfirmationSentAt = &now
	}
	appMeta, err := jsonParam(u.AppMetadata)
	if err != nil {
		return nil, err
	}
	userMeta, err := jsonParam(u.UserMetadata)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, sqlInsertUser, u.ID, u.Aud, u.Role, u.Email, hash, u.EmailConfirmedAt,
		confirmationToken, u.ConfirmationSentAt, appMeta, userMeta, now, nil); err != nil {
		return nil, internalError(err, "Database error saving new user")
	}
	identity, err := s.insertEmailIdentity(ctx, tx, u, identityData, now)
	if err != nil {
		return nil, err
	}
	// The signup answer shows the identity with the user's metadata view of
	// it, as GoTrue (which shares one map between the two) does.
	identity.IdentityData = u.UserMetadata
	u.Identities = []Identity{*identity}
	action := actionConfirmationRequest
	if u.isConfirmed() {
		action = actionUserSignedUp
	}
	return u, s.queueAudit(b, auditFor(u, action, map[string]any{"provider": "email"}), now)
}

// insertEmailIdentity adds u's email identity with the given data.
func (s *Server) insertEmailIdentity(ctx context.Context, tx pgx.Tx, u *User, data map[string]any, now time.Time) (*Identity, error) {
	raw, err := jsonParam(data)
	if err != nil {
		return nil, err
	}
	identity := &Identity{
		IdentityID: newUUID(), ID: u.ID, UserID: u.ID, IdentityData: data, Provider: "email",
		LastSignInAt: &now, CreatedAt: now, UpdatedAt: now, Email: u.Email,
	}
	if _, err := tx.Exec(ctx, sqlInsertIdentity, identity.IdentityID, identity.ID, u.ID, raw, "email", now); err != nil {
		return nil, internalError(err, "Error creating identity")
	}
	return identity, nil
}

// signupExistingUnconfirmed handles a signup for an address whose user never
// confirmed: with autoconfirm the user is confirmed now (GoTrue does not
// check the password here: the address was never proven); without it the
// confirmation is "sent" again, at most once per EmailMaxFrequency.
func (s *Server) signupExistingUnconfirmed(ctx context.Context, tx pgx.Tx, b *pgx.Batch, u *User, data map[string]any, now time.Time) error {
	hasEmailIdentity := false
	for _, id := range u.Identities {
		if id.Provider == "email" && id.ID == u.ID {
			hasEmailIdentity = true
		}
	}
	if !hasEmailIdentity {
		identityData := map[string]any{"sub": u.ID, "email": u.Email, "email_verified": false, "phone_verified": false}
		for k, v := range data {
			if _, ok := identityData[k]; !ok {
				identityData[k] = v
			}
		}
		identity, err := s.insertEmailIdentity(ctx, tx, u, identityData, now)
		if err != nil {
			return err
		}
		// An unconfirmed user keeps only this identity and its metadata.
		if _, err := tx.Exec(ctx, `delete from auth.identities where user_id = $1 and id <> $2`, u.ID, identity.IdentityID); err != nil {
			return internalError(err, "Database error removing unconfirmed identities")
		}
		u.UserMetadata = mergeMetadata(nil, identityData)
		u.AppMetadata = mergeMetadata(u.AppMetadata, map[string]any{"provider": "email", "providers": []string{"email"}})
		u.Identities = []Identity{*identity}
	}
	if s.cfg.MailerAutoconfirm {
		if err := s.queueAudit(b, auditFor(u, actionUserSignedUp, map[string]any{"provider": "email"}), now); err != nil {
			return err
		}
		u.EmailConfirmedAt = &now
		u.UserMetadata = mergeMetadata(u.UserMetadata, map[string]any{"email_verified": true})
		return s.saveConfirmed(ctx, tx, u, now)
	}
	if err := s.queueAudit(b, auditFor(u, actionConfirmationRequest, map[string]any{"provider": "email"}), now); err != nil {
		return err
	}
	if err := s.checkEmailFrequency(u.ConfirmationSentAt, now); err != nil {
		return err
	}
	u.ConfirmationSentAt = &now
	u.UpdatedAt = now
	_, err := tx.Exec(ctx, `update auth.users set confirmation_token = $2, confirmation_sent_at = $3, updated_at = $3,
		raw_user_meta_data = $4, raw_app_meta_data = $5 where id = $1`,
		u.ID, tokenHash(u.Email, newOTP()), now, mustJSON(u.UserMetadata), mustJSON(u.AppMetadata))
	if err != nil {
		return internalError(err, "Error sending confirmation email")
	}
	return nil
}

// saveConfirmed writes a confirmation (GoTrue's User.Confirm): confirmed
// now, confirmation token cleared, email_verified in user_metadata.
func (s *Server) saveConfirmed(ctx context.Context, tx pgx.Tx, u *User, now time.Time) error {
	u.UpdatedAt = now
	_, err := tx.Exec(ctx, `update auth.users set email_confirmed_at = $2, confirmation_token = '', updated_at = $2,
		raw_user_meta_data = $3, raw_app_meta_data = $4 where id = $1`,
		u.ID, now, mustJSON(u.UserMetadata), mustJSON(u.AppMetadata))
	if err != nil {
		return internalError(err, "Database error updating user")
	}
	return nil
}

// checkEmailFrequency refuses a (pretend) mail to a user who got one less
// than EmailMaxFrequency ago, with GoTrue's message.
func (s *Server) checkEmailFrequency(sentAt *time.Time, now time.Time) error {
	if sentAt == nil || !sentAt.Add(s.cfg.EmailMaxFrequency).After(now) {
		return nil
	}
	left := sentAt.Add(s.cfg.EmailMaxFrequency).Sub(now) / time.Second
	return newError(http.StatusTooManyRequests, CodeOverEmailSendRateLimit,
		"For security purposes, you can only request this after %d seconds.", left)
}

// repeatedSignup answers a signup for a confirmed address: with autoconfirm
// GoTrue says so; without it, it answers a made-up unconfirmed user so the
// response does not reveal that the address is registered.
func (s *Server) repeatedSignup(w http.ResponseWriter, r *http.Request, u *User, email, aud string, data map[string]any, now time.Time) error {
	err := s.inTx(r.Context(), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(u, actionRepeatedSignUp, map[string]any{"provider": "email"}), now); err != nil {
			return err
		}
		return sendBatch(r.Context(), tx, b)
	})
	if err != nil {
		return internalError(err, "Database error recording audit log entry")
	}
	if s.cfg.MailerAutoconfirm {
		return unprocessable(CodeUserAlreadyExists, "User already registered")
	}
	writeJSON(w, http.StatusOK, sanitised(email, aud, data, now))
	return nil
}

// mustJSON encodes a metadata map for a jsonb parameter. The maps come from
// decoded JSON, so encoding cannot fail.
func mustJSON(m map[string]any) string {
	s, err := jsonParam(m)
	if err != nil {
		panic(fmt.Sprintf("auth: encode metadata: %v", err))
	}
	return s
}
