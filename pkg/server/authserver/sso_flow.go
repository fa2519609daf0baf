package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The flow state of a SAML sign-in (auth.flow_state), shared in shape with
// GoTrue's other PKCE flows, and the SAML relay state that points at it.
// GoTrue makes a flow state for every SSO sign-in; only one with a code
// challenge (PKCE) ends in an auth code exchanged at /token?grant_type=pkce.

// samlAuthMethod is the amr method and flow state authentication method of
// a SAML sign-in (GoTrue's models.SSOSAML).
const samlAuthMethod = "sso/saml"

// samlFlowStateExpiry is how long a flow state may be exchanged after it was
// made (GoTrue's GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION default).
const samlFlowStateExpiry = 300 * time.Second

// samlFlowState is a row of auth.flow_state made by POST /sso.
type samlFlowState struct {
	ID, AuthCode, Challenge, ChallengeMethod, UserID, AuthMethod, ProviderType string
	CreatedAt                                                                  time.Time
}

func (f *samlFlowState) isPKCE() bool { return f.Challenge != "" }

// newSAMLFlowState makes the flow state of a sign-in: with an auth code
// when a code challenge is given.
func newSAMLFlowState(method, challenge string) (*samlFlowState, error) {
	f := &samlFlowState{ID: newUUID(), AuthMethod: samlAuthMethod, ProviderType: samlAuthMethod}
	if challenge == "" {
		return f, nil
	}
	switch strings.ToLower(method) {
	case "s256", "plain":
		f.ChallengeMethod = strings.ToLower(method)
	default:
		return nil, badRequest(CodeValidationFailed, "Invalid code_challenge_method")
	}
	f.Challenge, f.AuthCode = challenge, newUUID()
	return f, nil
}

// verifier checks a PKCE code verifier against the stored challenge.
func (f *samlFlowState) verify(verifier string) error {
	want := verifier
	if f.ChallengeMethod == "s256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(f.Challenge), []byte(want)) != 1 {
		return errors.New("code challenge does not match previously saved code verifier")
	}
	return nil
}

const (
	sqlInsertSAMLFlowState = `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge,
		provider_type, provider_access_token, provider_refresh_token, created_at, updated_at,
		authentication_method, auth_code_issued_at, referrer)
	values ($1, null, nullif($2, ''), nullif($3, '')::auth.code_challenge_method, nullif($4, ''), $5, '', '',
		$6, $6, $7, null, nullif($8, ''))`

	samlFlowStateColumns = `id::text, coalesce(auth_code, ''), coalesce(code_challenge, ''),
		coalesce(code_challenge_method::text, ''), coalesce(user_id::text, ''), authentication_method,
		provider_type, created_at`

	// sqlLockSAMLFlowState skips a row another transaction holds, as GoTrue
	// does, so two ACS posts cannot both claim it.
	sqlLockSAMLFlowState       = `select ` + samlFlowStateColumns + ` from auth.flow_state where id = $1 for update skip locked`
	sqlSAMLFlowStateByAuthCode = `select ` + samlFlowStateColumns + ` from auth.flow_state where auth_code = $1 limit 1`
	sqlClaimSAMLFlowState      = `update auth.flow_state set user_id = $2, updated_at = $3 where id = $1`
	sqlDeleteSAMLFlowState     = `delete from auth.flow_state where id = $1`

	sqlInsertRelayState = `insert into auth.saml_relay_states (id, sso_provider_id, request_id, for_email,
		redirect_to, created_at, updated_at, flow_state_id)
	values ($1, $2, $3, null, $4, $5, $5, $6)`
	// sqlTakeRelayState consumes a relay state: whoever deletes it owns
	// the sign-in, so a response posted twice finds nothing the second time.
	sqlTakeRelayState = `delete from auth.saml_relay_states where id = $1
	returning sso_provider_id::text, request_id, coalesce(redirect_to, ''), created_at, coalesce(flow_state_id::text, '')`
)

// samlStateLifetime is how long abandoned relay and flow states are kept,
// as GoTrue's cleanup keeps them.
const samlStateLifetime = 24 * time.Hour

// sqlCleanUpSAMLStates deletes a bounded batch of abandoned SAML sign-ins
// (GoTrue deletes them in batches of 100 after requests).
const sqlCleanUpSAMLStates = `with rs as (
		delete from auth.saml_relay_states where id in (select id from auth.saml_relay_states
			where created_at < $1 limit 100 for update skip locked) returning 1)
	delete from auth.flow_state where id in (select id from auth.flow_state
		where authentication_method = 'sso/saml' and created_at < $1 limit 100 for update skip locked)`

// cleanUpSAMLStates removes sign-ins started over a day ago and never
// finished, so they do not pile up; a failure only is logged.
func (s *Server) cleanUpSAMLStates(ctx context.Context, now time.Time) {
	if _, err := s.pool.Exec(ctx, sqlCleanUpSAMLStates, now.Add(-samlStateLifetime)); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "clean up abandoned SAML sign-ins", "error", err)
	}
}

func scanSAMLFlowState(row pgx.Row) (*samlFlowState, error) {
	var f samlFlowState
	if err := row.Scan(&f.ID, &f.AuthCode, &f.Challenge, &f.ChallengeMethod, &f.UserID, &f.AuthMethod, &f.ProviderType, &f.CreatedAt); err != nil {
		return nil, err
	}
	return &f, nil
}

func insertSAMLFlowState(ctx context.Context, q querier, f *samlFlowState, referrer string, now time.Time) error {
	_, err := q.Exec(ctx, sqlInsertSAMLFlowState, f.ID, f.AuthCode, f.ChallengeMethod, f.Challenge, f.ProviderType, now, f.AuthMethod, referrer)
	if err != nil {
		return fmt.Errorf("insert flow state: %w", err)
	}
	return nil
}

// samlRelayState is a taken row of auth.saml_relay_states.
type samlRelayState struct {
	ProviderID, RequestID, RedirectTo, FlowStateID string
	CreatedAt                                      time.Time
}

// takeRelayState deletes and returns the relay state id; errNotFound when
// there is none (never made, already used, or its provider deleted).
func takeSAMLRelayState(ctx context.Context, q querier, id string) (*samlRelayState, error) {
	var rs samlRelayState
	err := q.QueryRow(ctx, sqlTakeRelayState, id).Scan(&rs.ProviderID, &rs.RequestID, &rs.RedirectTo, &rs.CreatedAt, &rs.FlowStateID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("take saml relay state: %w", err)
	}
	return &rs, nil
}
