package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/postgres"
)

// Error codes, as GoTrue names them (x-sb-error-code, "error_code" and, with
// X-Supabase-Api-Version 2024-01-01, "code"). Clients branch on these.
const (
	CodeUnknown                 = "unknown"
	CodeUnexpectedFailure       = "unexpected_failure"
	CodeValidationFailed        = "validation_failed"
	CodeBadJSON                 = "bad_json"
	CodeEmailExists             = "email_exists"
	CodeBadJWT                  = "bad_jwt"
	CodeNotAdmin                = "not_admin"
	CodeNoAuthorization         = "no_authorization"
	CodeUserNotFound            = "user_not_found"
	CodeSessionNotFound         = "session_not_found"
	CodeSessionExpired          = "session_expired"
	CodeRefreshTokenNotFound    = "refresh_token_not_found"
	CodeRefreshTokenAlreadyUsed = "refresh_token_already_used"
	CodeSignupDisabled          = "signup_disabled"
	CodeUserBanned              = "user_banned"
	CodeBadOAuthState           = "bad_oauth_state"
	CodeBadOAuthCallback        = "bad_oauth_callback"
	CodePhoneProviderDisabled   = "phone_provider_disabled"
	CodeAnonymousDisabled       = "anonymous_provider_disabled"
	CodeSAMLProviderDisabled    = "saml_provider_disabled"
	CodeEmailNotConfirmed       = "email_not_confirmed"
	CodeUserAlreadyExists       = "user_already_exists"
	CodeSamePassword            = "same_password"
	CodeOTPExpired              = "otp_expired"
	CodeWeakPassword            = "weak_password"
	CodeOverRequestRateLimit    = "over_request_rate_limit"
	CodeOverEmailSendRateLimit  = "over_email_send_rate_limit"
	CodeInvalidCredentials      = "invalid_credentials"
	CodeMFAFactorNotFound       = "mfa_factor_not_found"
	CodeFeatureDisabled         = "feature_disabled"
	CodeRequestEntityTooLarge   = "request_entity_too_large"
	CodeFlowStateNotFound       = "flow_state_not_found"
	CodeWeb3ProviderDisabled    = "web3_provider_disabled"
	CodeProviderDisabled        = "provider_disabled"
)

// MFA error codes (mfa*.go), as GoTrue names them.
const (
	CodeMFAFactorNameConflict     = "mfa_factor_name_conflict"
	CodeTooManyEnrolledMFAFactors = "too_many_enrolled_mfa_factors"
	CodeInsufficientAAL           = "insufficient_aal"
	CodeMFAIPAddressMismatch      = "mfa_ip_address_mismatch"
	CodeMFAChallengeExpired       = "mfa_challenge_expired"
	CodeMFAVerificationFailed     = "mfa_verification_failed"
	CodeMFATOTPEnrollDisabled     = "mfa_totp_enroll_not_enabled"
	CodeMFATOTPVerifyDisabled     = "mfa_totp_verify_not_enabled"
	CodeMFAPhoneEnrollDisabled    = "mfa_phone_enroll_not_enabled"
	CodeMFAWebAuthnEnrollDisabled = "mfa_webauthn_enroll_not_enabled"
	CodeMFAPhoneVerifyDisabled    = "mfa_phone_verify_not_enabled"
	CodeMFAWebAuthnVerifyDisabled = "mfa_webauthn_verify_not_enabled"
)

// apiVersionHeader selects the error format; auth-js sends 2024-01-01.
const apiVersionHeader = "X-Supabase-Api-Version"

var apiVersion20240101 = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// Error is an error answered to a client: HTTP status, GoTrue error code and
// public message. The internal cause, if any, is logged and never sent.
// CreateUser returns these too, so callers can branch on Code.
type Error struct {
	Status  int
	Code    string
	Message string
	// Reasons are the weak_password reasons ("length", "characters").
	Reasons []string
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// Is matches another *Error with the same Code, so callers can write
// errors.Is(err, &auth.Error{Code: auth.CodeEmailExists}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newError(status int, code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Status: status, Code: code, Message: msg}
}

func badRequest(code, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, code, format, args...)
}

func forbidden(code, format string, args ...any) *Error {
	return newError(http.StatusForbidden, code, format, args...)
}

func notFound(code, format string, args ...any) *Error {
	return newError(http.StatusNotFound, code, format, args...)
}

func unprocessable(code, format string, args ...any) *Error {
	return newError(http.StatusUnprocessableEntity, code, format, args...)
}

// internalError is a 500 whose public message says what failed, with the
// cause kept for the log.
func internalError(cause error, format string, args ...any) *Error {
	e := newError(http.StatusInternalServerError, CodeUnexpectedFailure, format, args...)
	e.cause = cause
	return e
}

// retryAfter is the Retry-After (seconds) of a 503 for an unavailable
// database: about how long crash recovery, or a restart of the server by
// the runtime's supervisor, takes.
const retryAfter = "1"

// databaseUnavailable answers a request that failed because the database
// cannot serve right now (restarting, recovering from a crash, out of
// connection slots, connection lost): 503, which auth-js and the sfp client
// retry, rather than GoTrue's 500 for any database error. The code stays
// GoTrue's generic one; the status says it is worth retrying.
func databaseUnavailable(cause error) *Error {
	e := newError(http.StatusServiceUnavailable, CodeUnexpectedFailure, "Database unavailable, please retry shortly")
	e.cause = cause
	return e
}

func (e *Error) withCause(err error) *Error {
	e.cause = err
	return e
}

// errorBodyInitial is GoTrue's original error body.
type errorBodyInitial struct {
	Code      int    `json:"code"`
	ErrorCode string `json:"error_code,omitempty"`
	Msg       string `json:"msg"`
	ErrorID   string `json:"error_id,omitempty"`
	Weak      *weak  `json:"weak_password,omitempty"`
}

// errorBody20240101 is the body clients opt into with
// X-Supabase-Api-Version: 2024-01-01.
type errorBody20240101 struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Weak    *weak  `json:"weak_password,omitempty"`
}

type weak struct {
	Reasons []string `json:"reasons,omitempty"`
}

// wantsAPI20240101 reports whether the request asked for the 2024-01-01
// error format: a date on or after it. A malformed date means the original
// format, as GoTrue does.
func wantsAPI20240101(r *http.Request) bool {
	v := r.Header.Get(apiVersionHeader)
	if v == "" {
		return false
	}
	d, err := time.ParseInLocation("2006-01-02", v, time.UTC)
	return err == nil && !d.Before(apiVersion20240101)
}

// writeError answers err in the format the request asked for. Errors that
// are not *Error become a 500 whose cause is logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if oe := (*oauthError)(nil); errors.As(err, &oe) {
		// OAuth2 errors (the id_token grant's) are plain RFC 6749 bodies.
		s.log.InfoContext(r.Context(), "auth request refused", "method", r.Method, "path", r.URL.Path,
			"error", oe.Err, "description", oe.Description, "cause", oe.cause)
		writeJSON(w, http.StatusBadRequest, oe)
		return
	}
	var e *Error
	isErr := errors.As(err, &e)
	switch {
	case (!isErr || e.Status >= 500) && postgres.Unavailable(err):
		cause := err
		if isErr && e.cause != nil {
			cause = fmt.Errorf("%s: %w", e.Message, e.cause) // what failed, without the 500 it no longer is
		}
		e = databaseUnavailable(cause)
		w.Header().Set("Retry-After", retryAfter)
	case !isErr:
		e = internalError(err, "Unexpected failure, please check server logs for more information")
	}
	if e.Status == http.StatusServiceUnavailable {
		s.unavailableLog.Warn(s.log, "database unavailable; answering 503", "method", r.Method, "path", r.URL.Path, "error", e.cause)
	} else if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "auth request failed", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "code", e.Code, "message", e.Message, "error", e.cause)
	} else if e.cause != nil {
		s.log.InfoContext(r.Context(), "auth request refused", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "code", e.Code, "error", e.cause)
	}
	code := e.Code
	if code == "" {
		code = CodeUnknown
		if e.Status == http.StatusInternalServerError {
			code = CodeUnexpectedFailure
		}
	}
	var wk *weak
	if code == CodeWeakPassword {
		wk = &weak{Reasons: e.Reasons}
	}
	var body any
	if wantsAPI20240101(r) {
		w.Header().Set(apiVersionHeader, "2024-01-01")
		// GoTrue leaves x-sb-error-code off its 2024-01-01 weak password body.
		if code != CodeWeakPassword {
			w.Header().Set("x-sb-error-code", code)
		}
		body = errorBody20240101{Code: code, Message: e.Message, Weak: wk}
	} else {
		w.Header().Set("x-sb-error-code", code)
		b := errorBodyInitial{Code: e.Status, ErrorCode: code, Msg: e.Message, Weak: wk}
		if e.Status >= 500 {
			b.ErrorID = requestID(r)
		}
		body = b
	}
	writeJSON(w, e.Status, body)
}

// writeJSON sends v as the whole response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		slog.Error("auth: encode response", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
