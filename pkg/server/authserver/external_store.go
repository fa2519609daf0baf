package authserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// flowState is a row of auth.flow_state: one OAuth sign-in between
// /authorize and its end (the callback for the implicit flow, the code
// exchange for PKCE).
type flowState struct {
	ID                   string
	UserID               string // "" until the callback of a PKCE flow
	AuthCode             string // PKCE only
	AuthenticationMethod string
	CodeChallenge        string
	CodeChallengeMethod  string
	ProviderType         string
	ProviderAccessToken  string
	ProviderRefreshToken string
	Referrer             string
	LinkingTargetID      string
	CreatedAt            time.Time
	AuthCodeIssuedAt     *time.Time
}

func (f *flowState) isPKCE() bool { return f.CodeChallenge != "" }

func (f *flowState) expired(now time.Time, expiry time.Duration) bool {
	return now.After(f.CreatedAt.Add(expiry))
}

const flowStateColumns = `id::text, coalesce(user_id::text, ''), coalesce(auth_code, ''), authentication_method,
	coalesce(code_challenge, ''), coalesce(code_challenge_method::text, ''), provider_type,
	coalesce(provider_access_token, ''), coalesce(provider_refresh_token, ''), coalesce(referrer, ''),
	coalesce(linking_target_id::text, ''), created_at, auth_code_issued_at`

const (
	sqlInsertFlowState = `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge,
		provider_type, provider_access_token, provider_refresh_token, created_at, updated_at, authentication_method,
		auth_code_issued_at, invite_token, referrer, oauth_client_state_id, linking_target_id, email_optional)
	values ($1, null, nullif($2, ''), nullif($3, '')::auth.code_challenge_method, nullif($4, ''), $5, '', '',
		$6, $6, $7, null, null, nullif($8, ''), null, nullif($9, '')::uuid, false)`

	sqlFlowStateByID = `select ` + flowStateColumns + ` from auth.flow_state where id = $1`

	// sqlLockFlowState skips a row another transaction holds, so two
	// callbacks of one flow cannot both claim it (GoTrue's SKIP LOCKED).
	sqlLockFlowState = `select ` + flowStateColumns + ` from auth.flow_state where id = $1
	for update skip locked`

	sqlFlowStateByAuthCode = `select ` + flowStateColumns + ` from auth.flow_state where auth_code = $1 limit 1`

	sqlFlowStateAuthorized = `update auth.flow_state set user_id = $2, provider_access_token = $3,
		provider_refresh_token = $4, auth_code_issued_at = $5, updated_at = $5 where id = $1`

	sqlDeleteFlowState = `delete from auth.flow_state where id = $1`

	// sqlCleanupFlowStates removes flows abandoned for a day, a hundred at
	// a time, as GoTrue's cleanup does: every /authorize makes a row, and
	// anyone may call it.
	sqlCleanupFlowStates = `delete from auth.flow_state where id in (
		select id from auth.flow_state where created_at < $1::timestamptz - interval '24 hours'
		limit 100 for update skip locked)`
)

func scanFlowState(row pgx.Row) (*flowState, error) {
	var f flowState
	var created *time.Time
	err := row.Scan(&f.ID, &f.UserID, &f.AuthCode, &f.AuthenticationMethod, &f.CodeChallenge, &f.CodeChallengeMethod,
		&f.ProviderType, &f.ProviderAccessToken, &f.ProviderRefreshToken, &f.Referrer, &f.LinkingTargetID,
		&created, &f.AuthCodeIssuedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load flow state: %w", err)
	}
	f.CreatedAt = utc(created)
	return &f, nil
}

func insertFlowState(ctx context.Context, q querier, f *flowState) error {
	_, err := q.Exec(ctx, sqlInsertFlowState, f.ID, f.AuthCode, f.CodeChallengeMethod, f.CodeChallenge,
		f.ProviderType, f.CreatedAt, f.AuthenticationMethod, f.Referrer, f.LinkingTargetID)
	return err
}
