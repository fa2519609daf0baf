package rest

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Database errors that say the database cannot serve right now answer 503
// with Retry-After, never 500; errors about the request keep PostgREST's
// status.
func TestDatabaseUnavailableIs503(t *testing.T) {
	connectErr := func(cause error) error {
		// pgconn's ConnectError wraps what went wrong while connecting;
		// connecting to a closed port produces one.
		_, err := pgconn.Connect(t.Context(), "postgres://x@127.0.0.1:1/db?connect_timeout=5")
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("no ConnectError from a closed port: %v", err)
		}
		if cause == nil {
			return ce
		}
		return fmt.Errorf("%w (%w)", ce, cause)
	}
	pg := func(code, msg string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg} }
	cases := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{"connection refused", connectErr(nil), 503, "PGRST000", true},
		{"recovering at connect", connectErr(pg("57P03", "the database system is in recovery mode")), 503, "PGRST000", true},
		{"connection lost", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), 503, "PGRST000", true},
		{"connection reset", fmt.Errorf("write: %w", syscall.ECONNRESET), 503, "PGRST000", true},
		{"closed connection", pgconn.ErrConnClosed, 503, "PGRST000", true},
		{"shutdown", pg("57P01", "terminating connection due to administrator command"), 503, "57P01", true},
		{"another backend crashed", pg("57P02", "terminating connection because of crash of another server process"), 503, "57P02", true},
		{"recovering", pg("57P03", "the database system is in recovery mode"), 503, "57P03", true},
		{"connection failure", pg("08006", "connection failure"), 503, "08006", true},
		{"no slots", pg("53300", "sorry, too many clients already"), 503, "53300", true},
		{"query canceled", pg("57014", "canceling statement due to statement timeout"), 500, "57014", false},
		{"unique", pg("23505", "duplicate key"), 409, "23505", false},
		{"disk full", pg("53100", "could not extend file"), 503, "53100", false},
	}
	for _, c := range cases {
		e := pgError(c.err, true)
		if e.Status != c.status || e.Code != c.code || (e.Header.Get("Retry-After") != "") != c.retryAfter {
			t.Errorf("%s: %d %s Retry-After %q, want %d %s (Retry-After: %v)", c.name, e.Status, e.Code, e.Header.Get("Retry-After"), c.status, c.code, c.retryAfter)
		}
	}
	if e := pgError(connectErr(pg("57P03", "the database system is in recovery mode")), true); e.Details == nil || *e.Details != "the database system is in recovery mode" {
		t.Errorf("PGRST000 details %v, want the server's message", e.Details)
	}
}
