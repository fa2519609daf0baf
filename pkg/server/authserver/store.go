package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The SQL of the server, kept apart from the HTTP handling. Rows are written
// exactly as GoTrue writes them (instance_id is the nil UUID, empty token
// columns are '' rather than NULL, email and phone are NULL when empty), so
// that the real GoTrue reads them unchanged.

// nilInstance is GoTrue's instance_id for every row.
const nilInstance = "00000000-0000-0000-0000-000000000000"

// sqlInsertUserInto is the head of an insert of a user: every column of
// auth.users GoTrue writes, in its order, then the instance id; the values
// of the others follow it (a password user and an SSO user differ).
const sqlInsertUserInto = `insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
		email_confirmed_at, invited_at, confirmation_token, confirmation_sent_at, recovery_token,
		recovery_sent_at, email_change_token_new, email_change, email_change_sent_at, last_sign_in_at,
		raw_app_meta_data, raw_user_meta_data, created_at, updated_at, phone, phone_confirmed_at,
		phone_change, phone_change_token, phone_change_sent_at, email_change_token_current,
		email_change_confirm_status, banned_until, reauthentication_token, reauthentication_sent_at,
		is_sso_user, deleted_at, is_anonymous)
	values ('` + nilInstance + `', `

// querier is what the store needs from a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const userColumns = `u.id::text, coalesce(u.aud, ''), coalesce(u.role, ''), coalesce(u.email, ''),
	coalesce(u.encrypted_password, ''), u.email_confirmed_at, u.invited_at, coalesce(u.phone, ''),
	u.phone_confirmed_at, u.confirmation_sent_at, u.confirmed_at, u.recovery_sent_at,
	coalesce(u.email_change, ''), u.email_change_sent_at, coalesce(u.phone_change, ''),
	u.phone_change_sent_at, u.reauthentication_sent_at, u.last_sign_in_at, u.raw_app_meta_data,
	u.raw_user_meta_data, u.created_at, u.updated_at, u.banned_until, u.deleted_at, u.is_anonymous,
	u.is_sso_user`

// identitiesColumn aggregates a user's identities into one JSON array, so a
// user and its identities load in one round trip.
const identitiesColumn = `(select coalesce(json_agg(json_build_object(
		'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id,
		'identity_data', i.identity_data, 'provider', i.provider,
		'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
		'updated_at', i.updated_at, 'email', i.email) order by i.created_at, i.id), '[]')
	from auth.identities i where i.user_id = u.id)`

const (
	sqlUserByID = `select ` + userColumns + `, ` + identitiesColumn + `, ` + factorsColumn + `
	from auth.users u where u.instance_id = '` + nilInstance + `' and u.id = $1`

	sqlUserByEmail = `select ` + userColumns + `, ` + identitiesColumn + `, ` + factorsColumn + `
	from auth.users u
	where u.instance_id = '` + nilInstance + `' and lower(u.email) = lower($1) and u.aud = $2 and u.is_sso_user = false
	limit 1`

	// sqlDuplicateEmail finds another user of the audience holding email,
	// through a non-SSO identity or users.email (GoTrue's IsDuplicatedEmail).
	sqlDuplicateEmail = `select u.id::text from auth.users u
	where u.aud = $2 and u.id is distinct from $3::uuid and (
		u.id in (select i.user_id from auth.identities i where i.email = lower($1) and i.provider not like 'sso:%')
		or (u.instance_id = '` + nilInstance + `' and lower(u.email) = lower($1) and u.is_sso_user = false))
	limit 1`

	sqlInsertUser = sqlInsertUserInto + `$1, $2, $3, nullif($4, ''), $5, $6, null, $7, $8, '', null, '', '',
		null, null, $9, $10, $11, $11, null, null, '', '', null, '', 0, $12, '', null, false, null, false)`

	sqlInsertIdentity = `insert into auth.identities (id, provider_id, user_id, identity_data, provider,
		last_sign_in_at, created_at, updated_at)
	values ($1, $2, $3, $4, $5, $6, $6, $6)`

	sqlInsertSession = `insert into auth.sessions (id, user_id, created_at, updated_at, factor_id, aal,
		not_after, refreshed_at, user_agent, ip, tag)
	values ($1, $2, $3, $3, null, 'aal1', null, null, nullif($4, ''), $5::inet, null)`

	sqlInsertRefreshToken = `insert into auth.refresh_tokens (instance_id, token, user_id, revoked,
		created_at, updated_at, parent, session_id)
	values ('` + nilInstance + `', $1, $2, false, $3, $3, nullif($4, ''), $5)`

	sqlUpsertAMR = `insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
	values ($1, $2, $3, $3, $4)
	on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
	do update set updated_at = excluded.updated_at`

	sqlSessionAMR = `select authentication_method, updated_at from auth.mfa_amr_claims
	where session_id = $1 order by updated_at desc`

	sqlSetLastSignIn = `update auth.users set last_sign_in_at = $2, updated_at = $2 where id = $1`

	sqlInsertAudit = `insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
	values ('` + nilInstance + `', $1, $2, $3, '')`

	// sqlLockSessionOfToken locks the session of a refresh token, so that
	// refreshes of one session run one at a time.
	sqlLockSessionOfToken = `select s.id::text, s.not_after from auth.sessions s
	where s.id = (select rt.session_id from auth.refresh_tokens rt where rt.token = $1)
	for update of s`

	sqlRefreshToken = `select rt.id, rt.user_id, rt.revoked, rt.updated_at, coalesce(rt.parent, ''),
		coalesce(rt.session_id::text, '')
	from auth.refresh_tokens rt where rt.token = $1`

	sqlActiveRefreshToken = `select rt.token, coalesce(rt.parent, '') from auth.refresh_tokens rt
	where rt.session_id = $1 and rt.revoked is false order by rt.id desc limit 1`

	sqlRevokeToken = `update auth.refresh_tokens set revoked = true, updated_at = $2 where id = $1`

	sqlRevokeFamily = `update auth.refresh_tokens set revoked = true, updated_at = $2
	where session_id = $1 and revoked = false`

	sqlDeleteRefreshToken = `delete from auth.refresh_tokens where id = $1`

	sqlSessionRefreshed = `update auth.sessions set refreshed_at = $2, updated_at = $3,
		user_agent = nullif($4, ''), ip = $5::inet where id = $1`

	sqlSessionExists = `select exists (select 1 from auth.sessions where id = $1)`

	sqlLogoutUser    = `delete from auth.sessions where user_id = $1`
	sqlLogoutSession = `delete from auth.sessions where id = $1`
	sqlLogoutOthers  = `delete from auth.sessions where id <> $1 and user_id = $2`
)

// scanUser reads userColumns (and, if withIdentities, identitiesColumn and
// factorsColumn).
func scanUser(row pgx.Row, withIdentities bool) (*User, error) {
	var (
		u                            User
		appMeta, userMeta, idJSON    []byte
		factorJSON                   []byte
		createdAt, updatedAt         *time.Time
		emailConfirmed, invited      *time.Time
		phoneConfirmed, confSent     *time.Time
		confirmed, recoverySent      *time.Time
		emailChangeSent, phoneChSent *time.Time
		reauthSent, lastSignIn       *time.Time
		banned, deleted              *time.Time
	)
	dest := []any{&u.ID, &u.Aud, &u.Role, &u.Email, &u.passwordHash, &emailConfirmed, &invited, &u.Phone,
		&phoneConfirmed, &confSent, &confirmed, &recoverySent, &u.EmailChange, &emailChangeSent,
		&u.PhoneChange, &phoneChSent, &reauthSent, &lastSignIn, &appMeta, &userMeta, &createdAt,
		&updatedAt, &banned, &deleted, &u.IsAnonymous, &u.isSSOUser}
	if withIdentities {
		dest = append(dest, &idJSON, &factorJSON)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.EmailConfirmedAt, u.InvitedAt, u.PhoneConfirmedAt = utcPtr(emailConfirmed), utcPtr(invited), utcPtr(phoneConfirmed)
	u.ConfirmationSentAt, u.ConfirmedAt, u.RecoverySentAt = utcPtr(confSent), utcPtr(confirmed), utcPtr(recoverySent)
	u.EmailChangeSentAt, u.PhoneChangeSentAt = utcPtr(emailChangeSent), utcPtr(phoneChSent)
	u.ReauthenticationSentAt, u.LastSignInAt = utcPtr(reauthSent), utcPtr(lastSignIn)
	u.BannedUntil, u.DeletedAt = utcPtr(banned), utcPtr(deleted)
	u.CreatedAt, u.UpdatedAt = utc(createdAt), utc(updatedAt)
	var err error
	if u.AppMetadata, err = decodeJSONMap(appMeta); err != nil {
		return nil, fmt.Errorf("user %s raw_app_meta_data: %w", u.ID, err)
	}
	if u.UserMetadata, err = decodeJSONMap(userMeta); err != nil {
		return nil, fmt.Errorf("user %s raw_user_meta_data: %w", u.ID, err)
	}
	if withIdentities {
		if u.Identities, err = decodeIdentities(idJSON); err != nil {
			return nil, fmt.Errorf("user %s identities: %w", u.ID, err)
		}
		if u.Factors, err = decodeFactors(factorJSON); err != nil {
			return nil, fmt.Errorf("user %s factors: %w", u.ID, err)
		}
	}
	return &u, nil
}

// identityJSON is an identity as identitiesColumn aggregates it.
type identityJSON struct {
	IdentityID   string          `json:"identity_id"`
	ID           string          `json:"id"`
	UserID       string          `json:"user_id"`
	IdentityData json.RawMessage `json:"identity_data"`
	Provider     string          `json:"provider"`
	LastSignInAt *time.Time      `json:"last_sign_in_at"`
	CreatedAt    *time.Time      `json:"created_at"`
	UpdatedAt    *time.Time      `json:"updated_at"`
	Email        *string         `json:"email"`
}

func decodeIdentities(raw []byte) ([]Identity, error) {
	var rows []identityJSON
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, err
	}
	out := make([]Identity, 0, len(rows))
	for _, r := range rows {
		data, err := decodeJSONMap(r.IdentityData)
		if err != nil {
			return nil, err
		}
		id := Identity{
			IdentityID: r.IdentityID, ID: r.ID, UserID: r.UserID, IdentityData: data, Provider: r.Provider,
			LastSignInAt: utcPtr(r.LastSignInAt), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		}
		if r.Email != nil {
			id.Email = *r.Email
		}
		out = append(out, id)
	}
	return out, nil
}

// errNotFound is returned by lookups that found no row.
var errNotFound = errors.New("not found")

func (s *Server) userByID(ctx context.Context, q querier, id string) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, sqlUserByID, id), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}

func (s *Server) userByEmail(ctx context.Context, q querier, email, aud string) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, sqlUserByEmail, email, aud), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user by email: %w", err)
	}
	return u, nil
}

// duplicateEmail returns the id of another user of aud holding email, or "".
func (s *Server) duplicateEmail(ctx context.Context, q querier, email, aud, exceptUserID string) (string, error) {
	var except any
	if exceptUserID != "" {
		except = exceptUserID
	}
	return queryOptionalString(ctx, q, "check duplicate email", sqlDuplicateEmail, email, aud, except)
}

// queryOptionalString reads the one text column of a query that finds at
// most one row: "" when it finds none. what names the read in the error.
func queryOptionalString(ctx context.Context, q querier, what, sql string, args ...any) (string, error) {
	var v string
	err := q.QueryRow(ctx, sql, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// auditEntry is one row of auth.audit_log_entries, with GoTrue's payload.
type auditEntry struct {
	actorID, actorUsername string
	actorName              any
	action, logType        string
	traits                 map[string]any
	viaSSO                 bool
}

// audit actions and their log types, as GoTrue records them.
const (
	actionLogin               = "login"
	actionLogout              = "logout"
	actionUserSignedUp        = "user_signedup"
	actionUserDeleted         = "user_deleted"
	actionUserModified        = "user_modified"
	actionConfirmationRequest = "user_confirmation_requested"
	actionRepeatedSignUp      = "user_repeated_signup"
	actionUpdatePassword      = "user_updated_password"
	actionTokenRevoked        = "token_revoked"
	actionTokenRefreshed      = "token_refreshed"
)

var auditLogTypes = map[string]string{
	actionLogin: "account", actionLogout: "account", actionUserSignedUp: "team", actionUserDeleted: "team",
	actionTokenRevoked: "token", actionTokenRefreshed: "token", actionUserModified: "user",
	actionConfirmationRequest: "user", actionRepeatedSignUp: "user", actionUpdatePassword: "user",
}

// auditFor describes action by actor. Phone numbers win over emails as the
// username, as in GoTrue.
func auditFor(actor *User, action string, traits map[string]any) auditEntry {
	username := actor.Email
	if actor.Phone != "" {
		username = actor.Phone
	}
	e := auditEntry{actorID: actor.ID, actorUsername: username, action: action, logType: auditLogTypes[action], traits: traits,
		viaSSO: actor.isSSOUser}
	if name, ok := actor.UserMetadata["full_name"]; ok {
		e.actorName = name
	}
	return e
}

// auditForAdmin is an admin token acting (GoTrue's admin actor has the nil
// UUID as id and its role as username).
func auditForAdmin(role, action string, traits map[string]any) auditEntry {
	return auditEntry{actorID: nilInstance, actorUsername: role, action: action, logType: auditLogTypes[action], traits: traits}
}

func (e auditEntry) payload() ([]byte, error) {
	p := map[string]any{
		"actor_id":       e.actorID,
		"actor_via_sso":  e.viaSSO,
		"actor_username": e.actorUsername,
		"action":         e.action,
		"log_type":       e.logType,
	}
	if e.actorName != nil {
		p["actor_name"] = e.actorName
	}
	if e.traits != nil {
		p["traits"] = e.traits
	}
	return json.Marshal(p)
}

// queueAudit adds the audit row to a batch.
func (s *Server) queueAudit(b *pgx.Batch, e auditEntry, now time.Time) error {
	raw, err := e.payload()
	if err != nil {
		return fmt.Errorf("encode audit payload: %w", err)
	}
	b.Queue(sqlInsertAudit, newUUID(), string(raw), now)
	return nil
}

// sendBatch runs the queued statements in one round trip and reports the
// first error.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// sendAudited ends a change the audit log records: it queues the audit
// entry after the change's statements and sends them all in one round
// trip; a database error is internal, worded failMsg ("Database error
// creating factor").
func (s *Server) sendAudited(ctx context.Context, tx pgx.Tx, b *pgx.Batch, e auditEntry, now time.Time, failMsg string) error {
	if err := s.queueAudit(b, e, now); err != nil {
		return err
	}
	if err := sendBatch(ctx, tx, b); err != nil {
		return internalError(err, "%s", failMsg)
	}
	return nil
}

// sessionAMR returns the session's authentication methods, newest first.
func sessionAMR(ctx context.Context, q querier, sessionID string) ([]AMREntry, error) {
	rows, err := q.Query(ctx, sqlSessionAMR, sessionID)
	if err != nil {
		return nil, fmt.Errorf("load session amr: %w", err)
	}
	defer rows.Close()
	var out []AMREntry
	for rows.Next() {
		var method string
		var at time.Time
		if err := rows.Scan(&method, &at); err != nil {
			return nil, fmt.Errorf("load session amr: %w", err)
		}
		out = append(out, AMREntry{Method: method, Timestamp: at.Unix()})
	}
	return out, rows.Err()
}

// inetParam turns a client IP into a parameter for an inet column.
func inetParam(ip string) any {
	if ip == "" {
		return nil
	}
	return ip
}

func jsonParam(m map[string]any) (string, error) {
	raw, err := json.Marshal(nonNilMap(m))
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(raw), nil
}
