package authserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// An SSO provider is its own linking domain, as in GoTrue: a user signing
// in through it is found by the identity (provider "sso:<provider id>",
// provider_id the IdP's subject), else by another identity of the same
// provider with the same email (a changed subject), else created as an SSO
// user (is_sso_user, so its email may also belong to a password user or
// another provider's user). Email users are never linked to SSO identities.

const (
	sqlInsertSSOUser = sqlInsertUserInto + `$1, $2, $3, nullif($4, ''), '', $5, null, '', null, '', null, '', '',
		null, null, $6, $7, $5, $5, null, null, '', '', null, '', 0, null, '', null, true, null, false)`

	sqlIdentityUser = `select user_id::text from auth.identities where provider_id = $1 and provider = $2`

	sqlSameProviderEmailUsers = `select distinct user_id::text from auth.identities
	where provider = $1 and email = lower($2)`

	sqlUpdateIdentityData = `update auth.identities set identity_data = $3, updated_at = $4
	where provider_id = $1 and provider = $2`

	// sqlRefreshProviders sets app_metadata.provider (kept) and providers
	// (from the user's identities) and merges data into user_metadata.
	sqlMergeSSOUser = `update auth.users set
		raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || $2::jsonb,
		raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('providers',
			(select coalesce(jsonb_agg(distinct i.provider), '[]'::jsonb) from auth.identities i where i.user_id = $1)),
		updated_at = $3
	where id = $1`
)

// ssoSignIn is who signs in through a SAML provider.
type ssoSignIn struct {
	providerType string // sso:<provider id>
	subject      string
	email        string
	data         map[string]any
	aud          string
}

// findOrCreateSSOUser returns the user of the sign-in, creating or linking
// its identity, and whether the user was created. Audit entries are queued
// on b as GoTrue writes them: user_signedup for a new user, login
// otherwise (with the provider as trait).
func (s *Server) findOrCreateSSOUser(ctx context.Context, tx pgx.Tx, b *pgx.Batch, in ssoSignIn, now time.Time) (*User, bool, error) {
	raw, err := jsonParam(in.data)
	if err != nil {
		return nil, false, err
	}
	var userID string
	err = tx.QueryRow(ctx, sqlIdentityUser, in.subject, in.providerType).Scan(&userID)
	switch {
	case err == nil:
		if _, err := tx.Exec(ctx, sqlUpdateIdentityData, in.subject, in.providerType, raw, now); err != nil {
			return nil, false, internalError(err, "Database error updating identity")
		}
	case errors.Is(err, pgx.ErrNoRows):
		if userID, err = sameProviderUser(ctx, tx, in); err != nil {
			return nil, false, err
		}
		if userID == "" {
			u, err := s.createSSOUser(ctx, tx, b, in, raw, now)
			return u, err == nil, err
		}
		if _, err := tx.Exec(ctx, sqlInsertIdentity, newUUID(), in.subject, userID, raw, in.providerType, now); err != nil {
			return nil, false, internalError(err, "Error creating identity")
		}
	default:
		return nil, false, internalError(err, "Database error finding identity")
	}
	if _, err := tx.Exec(ctx, sqlMergeSSOUser, userID, raw, now); err != nil {
		return nil, false, internalError(err, "Database error updating user")
	}
	u, err := s.userByID(ctx, tx, userID)
	if err != nil {
		return nil, false, internalError(err, "Database error finding user")
	}
	if u.isBanned(now) {
		return nil, false, forbidden(CodeUserBanned, "User is banned")
	}
	return u, false, s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider": in.providerType}), now)
}

// sameProviderUser finds the one user holding another identity of the same
// provider with the sign-in's email; "" when there is none.
func sameProviderUser(ctx context.Context, tx pgx.Tx, in ssoSignIn) (string, error) {
	rows, err := tx.Query(ctx, sqlSameProviderEmailUsers, in.providerType, in.email)
	if err != nil {
		return "", internalError(err, "Database error finding identities")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", internalError(err, "Database error finding identities")
	}
	if len(ids) > 1 {
		return "", internalError(fmt.Errorf("users %s", strings.Join(ids, ", ")),
			"Multiple accounts with the same email address in the same linking domain detected: %s", in.providerType)
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	return "", nil
}

// createSSOUser inserts a confirmed SSO user and its identity.
func (s *Server) createSSOUser(ctx context.Context, tx pgx.Tx, b *pgx.Batch, in ssoSignIn, raw string, now time.Time) (*User, error) {
	if s.cfg.DisableSignup {
		return nil, unprocessable(CodeSignupDisabled, "Signups not allowed for this instance")
	}
	id := newUUID()
	appMeta, err := jsonParam(map[string]any{"provider": in.providerType, "providers": []string{in.providerType}})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, sqlInsertSSOUser, id, in.aud, Audience, strings.ToLower(in.email), now, appMeta, raw); err != nil {
		return nil, internalError(err, "Database error saving new user")
	}
	if _, err := tx.Exec(ctx, sqlInsertIdentity, newUUID(), in.subject, id, raw, in.providerType, now); err != nil {
		return nil, internalError(err, "Error creating identity")
	}
	u, err := s.userByID(ctx, tx, id)
	if err != nil {
		return nil, internalError(err, "Database error finding user")
	}
	return u, s.queueAudit(b, auditFor(u, actionUserSignedUp, map[string]any{"provider": in.providerType}), now)
}
