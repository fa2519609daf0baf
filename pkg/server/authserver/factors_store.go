package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Factor is an MFA factor as GoTrue serialises it (in GET /user, the admin
// factor API and a session's user). The TOTP secret is never sent.
type Factor struct {
	ID               string     `json:"id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Status           string     `json:"status"`
	FriendlyName     string     `json:"friendly_name,omitempty"`
	FactorType       string     `json:"factor_type"`
	Phone            string     `json:"phone"`
	LastChallengedAt *time.Time `json:"last_challenged_at"`

	userID string
	secret string
}

// Factor statuses and types, as GoTrue's enums spell them.
const (
	factorUnverified = "unverified"
	factorVerified   = "verified"
	factorTOTP       = "totp"
)

func (f *Factor) isVerified() bool { return f.Status == factorVerified }

// factorsColumn aggregates a user's factors into one JSON array, loaded with
// the user as GoTrue's eager loading does.
const factorsColumn = `(select coalesce(json_agg(json_build_object(
		'id', f.id, 'created_at', f.created_at, 'updated_at', f.updated_at, 'status', f.status,
		'friendly_name', f.friendly_name, 'factor_type', f.factor_type, 'phone', f.phone,
		'last_challenged_at', f.last_challenged_at) order by f.created_at, f.id), '[]')
	from auth.mfa_factors f where f.user_id = u.id)`

// factorJSON is a factor as factorsColumn aggregates it.
type factorJSON struct {
	ID               string     `json:"id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Status           string     `json:"status"`
	FriendlyName     *string    `json:"friendly_name"`
	FactorType       string     `json:"factor_type"`
	Phone            *string    `json:"phone"`
	LastChallengedAt *time.Time `json:"last_challenged_at"`
}

func decodeFactors(raw []byte) ([]Factor, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var rows []factorJSON
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, err
	}
	var out []Factor
	for _, r := range rows {
		f := Factor{ID: r.ID, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Status: r.Status,
			FactorType: r.FactorType, LastChallengedAt: utcPtr(r.LastChallengedAt)}
		if r.FriendlyName != nil {
			f.FriendlyName = *r.FriendlyName
		}
		if r.Phone != nil {
			f.Phone = *r.Phone
		}
		out = append(out, f)
	}
	return out, nil
}

const (
	sqlFactorOfUser = `select id::text, user_id::text, created_at, updated_at, status::text,
		coalesce(friendly_name, ''), factor_type::text, coalesce(phone, ''), last_challenged_at, coalesce(secret, '')
	from auth.mfa_factors where id = $1 and user_id = $2`

	// sqlDeleteExpiredFactors drops unverified factors never challenged and
	// older than the factor expiry (GoTrue's DeleteExpiredFactors, run on
	// every enrolment).
	sqlDeleteExpiredFactors = `delete from auth.mfa_factors f
	where f.status <> 'verified' and f.created_at + $1::interval < $2
	and not exists (select 1 from auth.mfa_challenges c where c.factor_id = f.id)`

	sqlInsertFactor = `insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status,
		created_at, updated_at, secret)
	values ($1, $2, $3, 'totp', 'unverified', $4, $4, $5)`

	sqlInsertChallenge = `insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
	values ($1, $2, $3, $4::inet)`

	sqlFactorChallenged = `update auth.mfa_factors set last_challenged_at = $2 where id = $1`

	sqlChallengeOfFactor = `select created_at, verified_at, host(ip_address)
	from auth.mfa_challenges where id = $1 and factor_id = $2`

	sqlDeleteChallenge = `delete from auth.mfa_challenges where id = $1`

	// sqlVerifyChallenge marks a challenge used, keeping the code that
	// passed (hashed) so that a second use of it is refused.
	sqlVerifyChallenge = `update auth.mfa_challenges set verified_at = $2, otp_code = $3
	where id = $1 and verified_at is null`

	// sqlCodeUsed tells whether a code already verified a challenge of the
	// factor since a time.
	sqlCodeUsed = `select exists (select 1 from auth.mfa_challenges
	where factor_id = $1 and otp_code = $2 and verified_at >= $3)`

	sqlFactorVerified = `update auth.mfa_factors set status = 'verified', updated_at = $2 where id = $1`

	sqlSessionAAL = `select coalesce(aal::text, '') from auth.sessions where id = $1`

	sqlSetSessionAAL = `update auth.sessions set aal = $2::auth.aal_level, factor_id = $3 where id = $1`

	// sqlOldestActiveToken is the token GoTrue swaps on a verification
	// (FindTokenBySessionID: the session's first token not revoked).
	sqlOldestActiveToken = `select id, token from auth.refresh_tokens
	where instance_id = '` + nilInstance + `' and session_id = $1 and revoked = false
	order by created_at asc, id asc limit 1`

	sqlDeleteSessionsBelowAAL2 = `delete from auth.sessions where user_id = $1 and aal < 'aal2'`

	sqlDeleteUnverifiedFactors = `delete from auth.mfa_factors
	where user_id = $1 and status = 'unverified' and factor_type = $2::auth.factor_type`

	sqlDeleteFactor = `delete from auth.mfa_factors where id = $1`

	// sqlDowngradeSessionAMR and sqlDowngradeSessions undo a factor's
	// verifications in the sessions it raised to aal2.
	sqlDowngradeSessionAMR = `delete from auth.mfa_amr_claims
	where authentication_method = $2
	and session_id in (select id from auth.sessions where factor_id = $1)`
	sqlDowngradeSessions = `update auth.sessions set aal = 'aal1', factor_id = null
	where user_id = $1 and factor_id = $2`

	sqlRenameFactor = `update auth.mfa_factors set friendly_name = $2, updated_at = $3 where id = $1`
)

// factorOfUser loads a factor owned by userID.
func factorOfUser(ctx context.Context, q querier, factorID, userID string) (*Factor, error) {
	var f Factor
	var created, updated time.Time
	var challenged *time.Time
	err := q.QueryRow(ctx, sqlFactorOfUser, factorID, userID).Scan(&f.ID, &f.userID, &created, &updated,
		&f.Status, &f.FriendlyName, &f.FactorType, &f.Phone, &challenged, &f.secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load factor %s: %w", factorID, err)
	}
	f.CreatedAt, f.UpdatedAt, f.LastChallengedAt = created.UTC(), updated.UTC(), utcPtr(challenged)
	return &f, nil
}

// sessionAAL is the aal column of a session ("" when unset).
func sessionAAL(ctx context.Context, q querier, sessionID string) (string, error) {
	if sessionID == "" {
		return "", nil
	}
	return queryOptionalString(ctx, q, "load session aal", sqlSessionAAL, sessionID)
}
