package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// linkingDecision is GoTrue's automatic account linking outcome.
type linkingDecision int

const (
	accountExists linkingDecision = iota
	createAccount
	linkAccount
	multipleAccounts
)

type linkingResult struct {
	decision  linkingDecision
	user      *User
	identity  *Identity // accountExists: the identity signed in with
	candidate providerEmail
}

const (
	sqlIdentityByProvider = `select id::text, user_id::text from auth.identities where provider_id = $1 and provider = $2`
	// Identities and users holding one of the verified addresses; SSO
	// identities ("sso:…") are in linking domains of their own.
	sqlSimilarIdentityUsers = `select distinct user_id::text from auth.identities
	where email = any($1) and provider not like 'sso:%'`
	sqlSimilarUsers = `select id::text from auth.users where email = any($1) and is_sso_user = false`

	sqlIdentityUpdated = `update auth.identities set identity_data = $2, updated_at = $3 where id = $1`

	// sqlSetProviders rewrites app_metadata's provider and providers from
	// the user's identities, oldest first (GoTrue's
	// UpdateAppMetaDataProviders).
	sqlSetProviders = `with p as (
		select provider, min(created_at) as first from auth.identities where user_id = $1 group by provider)
	update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)
		|| jsonb_build_object('providers', coalesce((select jsonb_agg(provider order by first, provider) from p), '[]'::jsonb))
		|| coalesce((select jsonb_build_object('provider', provider) from p order by first, provider limit 1), '{}'::jsonb),
		updated_at = $2
	where id = $1`

	sqlSetUserMetadata = `update auth.users set raw_user_meta_data = $2, updated_at = $3 where id = $1`
)

// determineLinking is GoTrue's DetermineAccountLinking for the default
// linking domain: an identity of the provider and subject signs in its
// user; otherwise one user holding a verified address of the provider
// gets the identity; otherwise a new user.
func (s *Server) determineLinking(ctx context.Context, tx pgx.Tx, data *providerUser, aud, provider string) (*linkingResult, error) {
	var verified []string
	var candidate providerEmail
	for _, e := range data.Emails {
		if e.Verified || s.cfg.MailerAutoconfirm {
			verified = append(verified, strings.ToLower(e.Email))
		}
		if e.Primary {
			candidate = e
			candidate.Email = strings.ToLower(e.Email)
		}
	}
	var identityID, userID string
	err := tx.QueryRow(ctx, sqlIdentityByProvider, data.Claims.Subject, provider).Scan(&identityID, &userID)
	if err == nil {
		u, err := s.userByID(ctx, tx, userID)
		if err != nil {
			return nil, err
		}
		res := &linkingResult{decision: accountExists, user: u, candidate: candidate}
		res.candidate.Email = u.Email
		for i := range u.Identities {
			if u.Identities[i].IdentityID == identityID {
				res.identity = &u.Identities[i]
			}
		}
		return res, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("find identity: %w", err)
	}
	if len(verified) == 0 {
		dup, err := s.duplicateEmail(ctx, tx, candidate.Email, aud, "")
		if err != nil {
			return nil, err
		}
		if dup != "" {
			candidate.Email = ""
		}
		return &linkingResult{decision: createAccount, candidate: candidate}, nil
	}
	identityUsers, err := queryStrings(ctx, tx, sqlSimilarIdentityUsers, verified)
	if err != nil {
		return nil, err
	}
	users := identityUsers
	if len(identityUsers) == 0 {
		if users, err = queryStrings(ctx, tx, sqlSimilarUsers, verified); err != nil {
			return nil, err
		}
	}
	switch len(users) {
	case 0:
		return &linkingResult{decision: createAccount, candidate: candidate}, nil
	case 1:
		u, err := s.userByID(ctx, tx, users[0])
		if err != nil {
			return nil, err
		}
		return &linkingResult{decision: linkAccount, user: u, candidate: candidate}, nil
	default:
		return &linkingResult{decision: multipleAccounts, candidate: candidate}, nil
	}
}

func queryStrings(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// externalUser is the user a provider identity signs in: with linkTo (the
// signed-in user of a manual linking flow) the identity is added to that
// user, otherwise signInExternal finds or creates one.
func (s *Server) externalUser(ctx context.Context, tx pgx.Tx, b *pgx.Batch, r *http.Request, linkTo string, data *providerUser, provider string, now time.Time) (*User, error) {
	if linkTo != "" {
		return s.linkIdentity(ctx, tx, b, linkTo, data, provider, now)
	}
	return s.signInExternal(ctx, tx, b, r, data, provider, now)
}

// signInExternal finds, links or creates the user of a provider identity
// (GoTrue's createAccountFromExternalIdentity), queueing the audit rows in
// b. The returned user is reloaded with its identities.
func (s *Server) signInExternal(ctx context.Context, tx pgx.Tx, b *pgx.Batch, r *http.Request, data *providerUser, provider string, now time.Time) (*User, error) {
	aud := requestAud(r, nil)
	identityData, err := data.Claims.identityData()
	if err != nil {
		return nil, internalError(err, "Error encoding identity data")
	}
	res, err := s.determineLinking(ctx, tx, data, aud, provider)
	if err != nil {
		return nil, internalError(err, "Database error finding user")
	}
	var u *User
	var identity *Identity
	switch res.decision {
	case linkAccount:
		u = res.user
		if identity, err = s.insertIdentity(ctx, tx, u.ID, provider, identityData, now); err != nil {
			return nil, err
		}
		if err := s.mergeUserMetadata(ctx, tx, u, identityData, now); err != nil {
			return nil, err
		}
		if err := s.queueAudit(b, auditFor(u, actionIdentityLinked, identityTraits(identity)), now); err != nil {
			return nil, err
		}
	case createAccount:
		if s.cfg.DisableSignup {
			return nil, unprocessable(CodeSignupDisabled, "Signups not allowed for this instance")
		}
		if u, identity, err = s.createExternalUser(ctx, tx, res.candidate.Email, aud, provider, identityData, now); err != nil {
			return nil, err
		}
	case accountExists:
		u, identity = res.user, res.identity
		if identity == nil {
			return nil, internalError(nil, "Database error finding identity")
		}
		if _, err := tx.Exec(ctx, sqlIdentityUpdated, identity.IdentityID, mustJSON(identityData), now); err != nil {
			return nil, internalError(err, "Database error updating identity")
		}
		identity.IdentityData = identityData
		if err := s.mergeUserMetadata(ctx, tx, u, identityData, now); err != nil {
			return nil, err
		}
	default:
		return nil, internalError(nil, "Multiple accounts with the same email address in the same linking domain detected: default")
	}
	if _, err := tx.Exec(ctx, sqlSetProviders, u.ID, now); err != nil {
		return nil, internalError(err, "Database error updating user providers")
	}
	if u.isBanned(now) {
		return nil, forbidden(CodeUserBanned, "User is banned")
	}
	if err := s.confirmExternal(ctx, tx, b, u, identity, res.candidate, provider, now); err != nil {
		return nil, err
	}
	if u, err = s.userByID(ctx, tx, u.ID); err != nil {
		return nil, internalError(err, "Database error loading user")
	}
	return u, nil
}

// confirmExternal finishes a sign-in with an identity: a confirmed user
// logs in; an unconfirmed one keeps only this identity (no one proved the
// others, nor its password) and is confirmed if the provider verified the
// address, else refused until it is.
func (s *Server) confirmExternal(ctx context.Context, tx pgx.Tx, b *pgx.Batch, u *User, identity *Identity, candidate providerEmail, provider string, now time.Time) error {
	if u.isConfirmed() {
		return s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider": provider}), now)
	}
	if _, err := tx.Exec(ctx, `delete from auth.identities where user_id = $1 and id <> $2`, u.ID, identity.IdentityID); err != nil {
		return internalError(err, "Error updating user")
	}
	clearPassword := identity.Provider != "email" && identity.Provider != "phone"
	if _, err := tx.Exec(ctx, `update auth.users set raw_user_meta_data = $2, updated_at = $3,
		encrypted_password = case when $4 then '' else encrypted_password end where id = $1`,
		u.ID, mustJSON(identity.IdentityData), now, clearPassword); err != nil {
		return internalError(err, "Error updating user")
	}
	u.UserMetadata = mergeMetadata(nil, identity.IdentityData)
	if _, err := tx.Exec(ctx, sqlSetProviders, u.ID, now); err != nil {
		return internalError(err, "Error updating user")
	}
	if !candidate.Verified && !s.cfg.MailerAutoconfirm {
		// GoTrue would mail a confirmation when there is an address; the
		// embedded runtime sends none, so the user must verify the
		// address with the provider.
		return commitThen{unprocessable(CodeProviderEmailNeedsVerification,
			"Unverified email with %s. Verify the email with %s in order to sign in", provider, provider)}
	}
	if err := s.queueAudit(b, auditFor(u, actionUserSignedUp, map[string]any{"provider": provider}), now); err != nil {
		return err
	}
	u.EmailConfirmedAt = &now
	u.UserMetadata["email_verified"] = true
	return s.saveConfirmed(ctx, tx, u, now)
}

// createExternalUser inserts a user without a password and its identity.
func (s *Server) createExternalUser(ctx context.Context, tx pgx.Tx, email, aud, provider string, identityData map[string]any, now time.Time) (*User, *Identity, error) {
	u := &User{
		ID: newUUID(), Aud: aud, Role: Audience, Email: email,
		AppMetadata:  map[string]any{"provider": provider, "providers": []string{provider}},
		UserMetadata: mergeMetadata(nil, identityData),
		CreatedAt:    now, UpdatedAt: now,
	}
	if _, err := tx.Exec(ctx, sqlInsertUser, u.ID, u.Aud, u.Role, u.Email, "", nil, "", nil,
		mustJSON(u.AppMetadata), mustJSON(u.UserMetadata), now, nil); err != nil {
		return nil, nil, internalError(err, "Database error saving new user")
	}
	identity, err := s.insertIdentity(ctx, tx, u.ID, provider, identityData, now)
	if err != nil {
		return nil, nil, err
	}
	u.Identities = []Identity{*identity}
	return u, identity, nil
}

// insertIdentity adds an identity of provider, whose provider_id is the
// identity data's sub.
func (s *Server) insertIdentity(ctx context.Context, tx pgx.Tx, userID, provider string, data map[string]any, now time.Time) (*Identity, error) {
	sub, _ := data["sub"].(string)
	if sub == "" {
		return nil, internalError(errors.New("error missing provider id"), "Error creating identity")
	}
	identity := &Identity{
		IdentityID: newUUID(), ID: sub, UserID: userID, IdentityData: data, Provider: provider,
		LastSignInAt: &now, CreatedAt: now, UpdatedAt: now,
	}
	identity.Email, _ = data["email"].(string)
	if _, err := tx.Exec(ctx, sqlInsertIdentity, identity.IdentityID, sub, userID, mustJSON(data), provider, now); err != nil {
		return nil, internalError(err, "Error creating identity")
	}
	return identity, nil
}

// mergeUserMetadata applies identity data over the user's metadata.
func (s *Server) mergeUserMetadata(ctx context.Context, tx pgx.Tx, u *User, data map[string]any, now time.Time) error {
	u.UserMetadata = mergeMetadata(u.UserMetadata, data)
	if _, err := tx.Exec(ctx, sqlSetUserMetadata, u.ID, mustJSON(u.UserMetadata), now); err != nil {
		return internalError(err, "Database error updating user")
	}
	return nil
}

// identityTraits are the audit traits of a linked or unlinked identity.
func identityTraits(i *Identity) map[string]any {
	return map[string]any{"identity_id": i.IdentityID, "provider": i.Provider, "provider_id": i.ID}
}

// linkIdentity adds a provider identity to the signed-in user of a manual
// linking flow (GoTrue's linkIdentityToUser).
func (s *Server) linkIdentity(ctx context.Context, tx pgx.Tx, b *pgx.Batch, targetID string, data *providerUser, provider string, now time.Time) (*User, error) {
	target, err := s.userByID(ctx, tx, targetID)
	if err != nil {
		return nil, internalError(err, "Database error loading user")
	}
	var identityID, owner string
	err = tx.QueryRow(ctx, sqlIdentityByProvider, data.Claims.Subject, provider).Scan(&identityID, &owner)
	switch {
	case err == nil && owner == target.ID:
		return nil, unprocessable(CodeIdentityAlreadyExists, "Identity is already linked")
	case err == nil:
		return nil, unprocessable(CodeIdentityAlreadyExists, "Identity is already linked to another user")
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, internalError(err, "Database error finding identity for linking")
	}
	identityData, err := data.Claims.identityData()
	if err != nil {
		return nil, internalError(err, "Error encoding identity data")
	}
	identity, err := s.insertIdentity(ctx, tx, target.ID, provider, identityData, now)
	if err != nil {
		return nil, err
	}
	if err := s.queueAudit(b, auditFor(target, actionIdentityLinked, identityTraits(identity)), now); err != nil {
		return nil, err
	}
	if target.Email == "" && data.Claims.Email != "" {
		if !data.Claims.EmailVerified {
			return nil, commitThen{unprocessable(CodeEmailNotConfirmed,
				"Unverified email with %s. Verify the email with %s in order to sign in", provider, provider)}
		}
		if _, err := tx.Exec(ctx, `update auth.users set email = $2, is_anonymous = false where id = $1`,
			target.ID, strings.ToLower(data.Claims.Email)); err != nil {
			return nil, badRequest(CodeEmailExists, "A user with this email address has already been registered").withCause(err)
		}
		target.Email = strings.ToLower(data.Claims.Email)
		target.EmailConfirmedAt = &now
		target.UserMetadata = mergeMetadata(target.UserMetadata, map[string]any{"email_verified": true})
		if err := s.saveConfirmed(ctx, tx, target, now); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, sqlSetProviders, target.ID, now); err != nil {
		return nil, internalError(err, "Database error updating user providers")
	}
	return s.userByID(ctx, tx, target.ID)
}
