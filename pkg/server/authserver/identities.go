package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// routeIdentities routes /user/identities/…, GoTrue's manual linking:
// the caller must be signed in, then manual linking must be on.
func (s *Server) routeIdentities(w http.ResponseWriter, r *http.Request) error {
	ac, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if !s.external.Load().ManualLinkingEnabled {
		return notFound(CodeManualLinkingDisabled, "Manual linking is disabled")
	}
	rest := strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/user/identities")
	switch {
	case rest == "/authorize" && r.Method == http.MethodGet:
		return s.handleLinkIdentity(w, r, ac)
	case strings.Count(rest, "/") == 1 && rest != "/authorize" && r.Method == http.MethodDelete:
		return s.handleUnlinkIdentity(w, r, ac, strings.TrimPrefix(rest, "/"))
	case rest == "/authorize" || strings.Count(rest, "/") == 1:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return nil
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
	return nil
}

// handleLinkIdentity is GET /user/identities/authorize?provider=…: an OAuth
// flow whose identity is added to the caller.
func (s *Server) handleLinkIdentity(w http.ResponseWriter, r *http.Request, ac *authContext) error {
	target, err := s.authorizeURL(r, ac.user.ID)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("skip_http_redirect") == "true" {
		writeJSON(w, http.StatusOK, map[string]string{"url": target})
		return nil
	}
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// handleUnlinkIdentity is DELETE /user/identities/{identity_id}. A user
// keeps at least one identity; when the removed one held the user's email,
// another identity's address becomes the user's.
func (s *Server) handleUnlinkIdentity(w http.ResponseWriter, r *http.Request, ac *authContext, id string) error {
	if !isUUID(id) {
		return notFound(CodeValidationFailed, "identity_id must be an UUID")
	}
	if aud := requestAud(r, ac.claims); len(ac.claims.Audience) == 0 || ac.claims.Audience[0] != aud {
		return forbidden(CodeUnexpectedAudience, "Token audience doesn't match request audience")
	}
	u := ac.user
	if len(u.Identities) <= 1 {
		return unprocessable(CodeSingleIdentityNotDeletable, "User must have at least 1 identity after unlinking")
	}
	i := slices.IndexFunc(u.Identities, func(x Identity) bool { return strings.EqualFold(x.IdentityID, id) })
	if i < 0 {
		return unprocessable(CodeIdentityNotFound, "Identity doesn't exist")
	}
	removed := u.Identities[i]
	now := s.now()
	ctx := r.Context()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`delete from auth.identities where id = $1`, removed.IdentityID)
		if err := s.sendAudited(ctx, tx, b, auditFor(u, actionIdentityUnlinked, identityTraits(&removed)), now, "Database error deleting identity"); err != nil {
			return err
		}
		if err := s.emailFromIdentities(ctx, tx, u, slices.Delete(slices.Clone(u.Identities), i, i+1), now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlSetProviders, u.ID, now); err != nil {
			return internalError(err, "Database error updating user providers")
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// emailFromIdentities keeps the user's email if a remaining identity holds
// it, else promotes the best remaining identity's address (verified ones
// first, then the oldest) that no other user has, as GoTrue's
// UpdateUserEmailFromIdentities.
func (s *Server) emailFromIdentities(ctx context.Context, tx pgx.Tx, u *User, left []Identity, now time.Time) error {
	for _, i := range left {
		if i.Email == u.Email {
			return nil
		}
	}
	rank := func(i Identity) int {
		switch {
		case i.Email == "":
			return 2
		case i.IdentityData["email_verified"] != true:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(left, func(a, b Identity) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	for _, i := range left {
		if i.Email != "" {
			if _, err := s.userByEmail(ctx, tx, i.Email, u.Aud); err == nil {
				continue
			} else if !errors.Is(err, errNotFound) {
				return internalError(err, "Database error updating user email")
			}
		}
		keepConfirmed := i.Email != "" && (rank(i) == 0 || s.cfg.MailerAutoconfirm)
		_, err := tx.Exec(ctx, `update auth.users set email = nullif($2, ''), updated_at = $3,
			email_confirmed_at = case when $4 then email_confirmed_at else null end,
			confirmation_token = '', recovery_token = '', email_change_token_new = '', email_change_token_current = '',
			email_change = '', reauthentication_token = '' where id = $1`, u.ID, i.Email, now, keepConfirmed)
		if err != nil {
			return internalError(err, "Database error updating user email")
		}
		return nil
	}
	return unprocessable(CodeEmailConflictIdentityNotDeletable, "Unable to unlink identity due to email conflict")
}
