package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors. Every error the client returns for a refused request is
// an *Error; these sentinels let callers branch with errors.Is without
// reading status codes or message text.
var (
	// ErrNotFound: the resource does not exist or the caller cannot see it
	// (row-level security hides rows rather than refusing them).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a duplicate, a reference to another account's data, a
	// state that forbids the change, or a version conflict.
	ErrConflict = errors.New("conflict")
	// ErrVersionConflict: an optimistic update was sent with a stale
	// version. The *Error carries the current version when the server says
	// it. errors.Is(err, ErrConflict) holds too.
	ErrVersionConflict = errors.New("version conflict")
	// ErrForbidden: the caller is signed in but its role does not allow
	// the operation.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid credentials (missing or wrong API key,
	// wrong password, an expired session that could not be refreshed).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrSessionExpired: the session's refresh token was refused, so the
	// user has to sign in again. errors.Is(err, ErrUnauthenticated) holds.
	ErrSessionExpired = errors.New("session expired")
	// ErrValidation: the request was malformed or its values were refused
	// (bad argument, check constraint, invalid status transition).
	ErrValidation = errors.New("invalid request")
	// ErrUnavailable: the server answered 503 (a service is down or
	// overloaded) even after retries.
	ErrUnavailable = errors.New("service unavailable")
	// ErrUnreachable: no HTTP answer at all (connection refused, DNS, TLS,
	// reset). The error is an *UnreachableError naming the URL tried.
	ErrUnreachable = errors.New("server unreachable")
	// ErrNoSession: a method that needs a signed-in user was called
	// without a session.
	ErrNoSession = errors.New("not signed in")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client closed")
)

// Error is a request the server refused: the HTTP status and the
// PostgREST or GoTrue error fields, kept as the server sent them.
type Error struct {
	// Op is what the client was doing, e.g. "update project".
	Op string
	// Method and URL of the request (the URL without its query string).
	Method, URL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is PostgREST's code (a SQLSTATE such as 42501 or PT409, or
	// PGRSTxxx) or GoTrue's error_code (e.g. invalid_credentials).
	Code string
	// Message, Details and Hint are the server's fields.
	Message, Details, Hint string
	// CurrentVersion is the stored version named by a version conflict
	// ("current version is N"); 0 when unknown or the row does not exist.
	CurrentVersion int64
	// RequiredRole and CallerRole explain a refusal by role when the
	// client could tell: the account role the operation needs and the
	// caller's role in that account ("" for no membership).
	RequiredRole, CallerRole string
	// Account names the account the refusal is about (slug or id), when
	// known.
	Account string
}

// Error is Describe followed by the HTTP status and the code, e.g.
// "[HTTP 403 42501]": programs and logs keep them.
func (e *Error) Error() string {
	code := ""
	if e.Code != "" {
		code = " " + e.Code
	}
	return fmt.Sprintf("%s [HTTP %d%s]", e.Describe(), e.StatusCode, code)
}

// Describe says what failed in words: the operation, the server's message,
// details and hint, and the role a refusal needs — without the HTTP status
// and protocol code, for people (the CLI prints it).
func (e *Error) Describe() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.StatusCode))
	}
	b.WriteString(msg)
	if e.Details != "" && e.Code != "PGRST116" {
		b.WriteString(" (")
		b.WriteString(e.Details)
		b.WriteString(")")
	}
	if e.RequiredRole != "" {
		fmt.Fprintf(&b, "; this needs the %s role", e.RequiredRole)
		if e.Account != "" {
			fmt.Fprintf(&b, " in account %s", e.Account)
		}
		if e.CallerRole != "" {
			fmt.Fprintf(&b, " and your role is %s", e.CallerRole)
		} else {
			b.WriteString(" and you are not a member")
		}
	}
	if e.Hint != "" {
		b.WriteString("; hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is maps the status and code to the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || e.Code == "PT404" ||
			(e.Code == "PGRST116" && strings.Contains(e.Details, " 0 rows"))
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrVersionConflict:
		return e.Code == "PT409" && isVersionDetail(e.Details)
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden && !e.isBadJWT()
	case ErrUnauthenticated:
		return e.StatusCode == http.StatusUnauthorized || e.isBadJWT() || e.isSessionGone() ||
			e.Code == "invalid_credentials"
	case ErrSessionExpired:
		return e.isSessionGone()
	case ErrValidation:
		if e.Code == "invalid_credentials" || e.isSessionGone() {
			return false
		}
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity ||
			(e.StatusCode == http.StatusNotAcceptable && e.Code != "PGRST116")
	case ErrUnavailable:
		return e.StatusCode == http.StatusServiceUnavailable
	}
	return false
}

func (e *Error) isBadJWT() bool {
	return e.Code == "bad_jwt" || e.Code == "PGRST301" || e.Code == "PGRST303"
}

func (e *Error) isSessionGone() bool {
	switch e.Code {
	case "refresh_token_not_found", "refresh_token_already_used", "session_not_found", "session_expired":
		return true
	}
	return false
}

var currentVersionRE = regexp.MustCompile(`current version is (\d+)`)

func isVersionDetail(d string) bool {
	return currentVersionRE.MatchString(d) || strings.Contains(d, "does not exist")
}

// UnreachableError is a request that got no HTTP answer.
type UnreachableError struct {
	// URL is the server URL tried (without query string).
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the server at %s: %v", e.URL, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) hold.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// errorBody is the union of PostgREST's, GoTrue's and the gateway's error
// JSON.
type errorBody struct {
	Code        json.RawMessage `json:"code"`
	ErrorCode   string          `json:"error_code"`
	Message     string          `json:"message"`
	Msg         string          `json:"msg"`
	Details     json.RawMessage `json:"details"`
	Hint        *string         `json:"hint"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
}

// newError turns a refused response into an *Error. It is the one place
// that reads error bodies.
func newError(op, method, rawURL string, status int, header http.Header, body []byte) *Error {
	e := &Error{Op: op, Method: method, URL: stripQuery(rawURL), StatusCode: status}
	var eb errorBody
	if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &eb) == nil {
		// PostgREST and new GoTrue: "code" is a string; old GoTrue: a number
		// with "error_code" beside it.
		var s string
		if json.Unmarshal(eb.Code, &s) == nil {
			e.Code = s
		}
		if eb.ErrorCode != "" {
			e.Code = eb.ErrorCode
		}
		e.Message = firstNonEmpty(eb.Message, eb.Msg, eb.Description, eb.Error)
		e.Details = rawString(eb.Details)
		if eb.Hint != nil {
			e.Hint = *eb.Hint
		}
	} else if len(body) > 0 {
		e.Message = strings.TrimSpace(truncate(string(body), 300))
	}
	if e.Code == "" && header != nil {
		e.Code = header.Get("X-Sb-Error-Code")
	}
	if m := currentVersionRE.FindStringSubmatch(e.Details); m != nil && e.Code == "PT409" {
		e.CurrentVersion, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return e
}

func rawString(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
