package authserver

import "errors"

// Event is an outcome the tenant's metrics count
// (sfp_auth_events_total{event}); the set is fixed, so the label stays
// bounded.
type Event string

// The events.
const (
	// EventSignIn is a sign-in that issued a session: a password, or the
	// code of an OAuth or SSO flow (pkce), or a provider's ID token.
	EventSignIn Event = "sign_in"
	// EventSignInFailed is such a sign-in refused (wrong credentials,
	// unconfirmed, banned, an unknown flow, bad request) or failed.
	EventSignInFailed Event = "sign_in_failed"
	// EventRefresh is a refresh token exchanged for a new session token.
	EventRefresh Event = "token_refresh"
	// EventRefreshFailed is a refresh refused (unknown, expired or reused
	// token) or failed.
	EventRefreshFailed Event = "token_refresh_failed"
	// EventSessionRevoked is a session revoked because a refresh token was
	// reused after the reuse interval (GoTrue's token theft detection).
	EventSessionRevoked Event = "session_revoked"
	// EventLogout is a sign-out (POST /logout, any scope).
	EventLogout Event = "logout"
	// EventRateLimited is a request refused by a per-IP rate limit (429
	// over_request_rate_limit).
	EventRateLimited Event = "rate_limited"
)

// Events lists every Event, for metrics that show each from zero.
var Events = []Event{EventSignIn, EventSignInFailed, EventRefresh, EventRefreshFailed,
	EventSessionRevoked, EventLogout, EventRateLimited}

func (s *Server) event(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// grantEvent counts the outcome of a POST /token grant.
func (s *Server) grantEvent(grant string, err error) {
	var aerr *Error
	signIn := grant == "password" || grant == "pkce" || grant == "id_token"
	switch {
	case signIn && err == nil:
		s.event(EventSignIn)
	case signIn:
		s.event(EventSignInFailed)
	case grant == "refresh_token" && err == nil:
		s.event(EventRefresh)
	case grant == "refresh_token":
		if errors.As(err, &aerr) && aerr.Code == CodeRefreshTokenAlreadyUsed {
			s.event(EventSessionRevoked)
		}
		s.event(EventRefreshFailed)
	}
}

// errorEvent counts the errors that are events of their own.
func (s *Server) errorEvent(err error) {
	var aerr *Error
	if errors.As(err, &aerr) && aerr.Code == CodeOverRequestRateLimit {
		s.event(EventRateLimited)
	}
}
