package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sfp-dev/sfp/pkg/server/postgres"
)

// apiError is an error answered to the client as PostgREST's error JSON:
// {"code","message","details","hint"}. Codes and messages follow
// PostgREST v13 (src/PostgREST/Error.hs).
type apiError struct {
	Status  int
	Code    string
	Message string
	Details *string
	Hint    *string
	// Header holds extra response headers (WWW-Authenticate, or those of a
	// RAISE SQLSTATE 'PGRST').
	Header http.Header
	// Cause is logged, never sent.
	Cause error
	// rawDetails replaces Details when the details are not a string
	// (the candidate relationships of PGRST201).
	rawDetails any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func strp(s string) *string { return &s }

func newErr(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func (e *apiError) withDetails(d string) *apiError { e.Details = strp(d); return e }
func (e *apiError) withHint(h string) *apiError    { e.Hint = strp(h); return e }

// Error codes of PostgREST that this server produces.
const (
	codeParse          = "PGRST100"
	codeInvalidRPC     = "PGRST101"
	codeInvalidBody    = "PGRST102"
	codeInvalidRange   = "PGRST103"
	codeInvalidFilters = "PGRST105"
	codeSchema         = "PGRST106"
	codeMediaType      = "PGRST107"
	codeNotEmbedded    = "PGRST108"
	codePutLimit       = "PGRST114"
	codePutMatchingPK  = "PGRST115"
	codeSingular       = "PGRST116"
	codeMethod         = "PGRST117"
	codeRelatedOrder   = "PGRST118"
	codeBadEmbedFilter = "PGRST120"
	codeInvalidPrefs   = "PGRST122"
	codeAggregates     = "PGRST123"
	codeMaxAffected    = "PGRST124"
	codeInvalidPath    = "PGRST125"
	codeNoRel          = "PGRST200"
	codeAmbiguousRel   = "PGRST201"
	codeNoRPC          = "PGRST202"
	codeAmbiguousRPC   = "PGRST203"
	codeColumnNotFound = "PGRST204"
	codeTableNotFound  = "PGRST205"
	codeJWTDecode      = "PGRST301"
	codeJWTClaims      = "PGRST303"
	codeConnection     = "PGRST000"
	codeNoSchemaCache  = "PGRST002"
)

func (e *apiError) MarshalJSON() ([]byte, error) {
	var details any = e.Details
	if e.rawDetails != nil {
		details = e.rawDetails
	}
	return json.Marshal(struct {
		Code    string  `json:"code"`
		Details any     `json:"details"`
		Hint    *string `json:"hint"`
		Message string  `json:"message"`
	}{e.Code, details, e.Hint, e.Message})
}

// pgError maps a database error to PostgREST's response: SQLSTATE to HTTP
// status as in PostgREST's pgErrorStatus, the message, detail and hint
// passed through, and RAISE SQLSTATE 'PGRST' giving full control.
//
// A request that could not get a connection, or whose connection broke,
// is PostgREST's PGRST000; one the server ended because it cannot serve
// right now (57P01 shutdown, 57P02 another backend crashed, 57P03
// recovering, 08xxx, 53300) keeps its SQLSTATE and message as PostgREST
// shows them — both as 503 with Retry-After, never 500 (PostgREST itself
// answers 57P02 and 57P03 in a session with 500).
func pgError(err error, authed bool) *apiError {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || !errors.As(err, &pe) {
		return unavailable(err)
	}
	e := &apiError{Code: pe.Code, Message: pe.Message, Cause: err}
	if pe.Detail != "" {
		e.Details = strp(pe.Detail)
	}
	if pe.Hint != "" {
		e.Hint = strp(pe.Hint)
	}
	if pe.Code == "PGRST" {
		return raisePGRST(pe)
	}
	e.Status = pgStatus(pe.Code, pe.Message, authed)
	if postgres.Unavailable(pe) {
		e.Status = 503
		e.Header = http.Header{"Retry-After": {retryAfter}}
	}
	if e.Status == 401 {
		e.Header = http.Header{"WWW-Authenticate": {"Bearer"}}
	}
	return e
}

func pgStatus(code, msg string, authed bool) int {
	switch code {
	case "23503", "23505":
		return 409
	case "25006":
		return 405
	case "21000":
		if strings.HasSuffix(msg, "requires a WHERE clause") {
			return 400
		}
		return 500
	case "22023":
		if strings.HasPrefix(msg, "role") && strings.HasSuffix(msg, "does not exist") {
			return 401
		}
		return 400
	case "53400":
		return 500
	case "57P01":
		return 503
	case "P0001":
		return 400
	case "42883":
		if strings.HasPrefix(msg, "function xmlagg(") {
			return 406
		}
		return 404
	case "42P01":
		return 404
	case "42P17":
		return 500
	case "42501":
		if authed {
			return 403
		}
		return 401
	}
	if len(code) < 2 {
		return 400
	}
	switch code[:2] {
	case "08":
		return 503
	case "09":
		return 500
	case "0L", "0P":
		return 403
	case "25":
		return 500
	case "28":
		return 403
	case "2D", "38", "39", "3B", "40":
		return 500
	case "53":
		return 503
	case "54", "55", "57", "58", "F0", "HV", "P0", "XX":
		return 500
	case "PT":
		if n, err := strconv.Atoi(code[2:]); err == nil && n >= 100 && n <= 599 {
			return n
		}
		return 500
	}
	return 400
}

// connectionMessage is PostgREST's message for PGRST000.
const connectionMessage = "Database connection error. Retrying the connection."

// retryAfter is the Retry-After (seconds) of a 503 for an unavailable
// database: a crashed backend's recovery, or a restart of the whole server
// by the runtime's supervisor, typically takes about that long, and
// clients that retry sooner only add load while it recovers.
const retryAfter = "1"

// unavailable is the answer to a request that could not get a working
// connection (the database restarts, recovers from a crash, has no slot
// free, or the connection broke): 503 PGRST000 with Retry-After, since the
// request itself was fine. The details are the server's own message when
// it sent one ("the database system is in recovery mode"), else what
// happened to the connection; the full cause is only logged.
func unavailable(err error) *apiError {
	details := "the connection to the database was lost"
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &pe):
		details = pe.Message
	case errors.As(err, &ce):
		details = "could not connect to the database"
	}
	return &apiError{Status: 503, Code: codeConnection, Message: connectionMessage, Details: strp(details), Cause: err,
		Header: http.Header{"Retry-After": {retryAfter}}}
}

// raisePGRST handles RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code",
// "message","details","hint"}', DETAIL = '{"status","status_text","headers"}'.
func raisePGRST(pe *pgconn.PgError) *apiError {
	var m struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
		Details *string `json:"details"`
		Hint    *string `json:"hint"`
	}
	if json.Unmarshal([]byte(pe.Message), &m) != nil || m.Code == nil || m.Message == nil {
		return newErr(500, "PGRST121", `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`).
			withDetails("Invalid JSON value for MESSAGE: '" + pe.Message + "'").
			withHint("MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.")
	}
	if pe.Detail == "" {
		return newErr(500, "PGRST121", `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`).
			withDetails("DETAIL is missing in the RAISE statement").
			withHint("DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.")
	}
	var d struct {
		Status  *int              `json:"status"`
		Headers map[string]string `json:"headers"`
	}
	if json.Unmarshal([]byte(pe.Detail), &d) != nil || d.Status == nil || d.Headers == nil {
		return newErr(500, "PGRST121", `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`).
			withDetails("Invalid JSON value for DETAIL: '" + pe.Detail + "'").
			withHint("DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.")
	}
	e := &apiError{Status: *d.Status, Code: *m.Code, Message: *m.Message, Details: m.Details, Hint: m.Hint, Header: http.Header{}}
	for k, v := range d.Headers {
		e.Header.Set(k, v)
	}
	return e
}

// writeError writes e as PostgREST does: JSON body, Content-Length, the
// Proxy-Status header naming the code, and any extra headers.
func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(e)
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Proxy-Status", "PostgREST; error="+e.Code)
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
