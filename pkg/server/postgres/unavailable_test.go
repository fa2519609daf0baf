package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	_, refused := pgconn.Connect(context.Background(), "postgres://x@127.0.0.1:1/db?connect_timeout=5")
	badPassword := fmt.Errorf("%w", &pgconn.PgError{Severity: "FATAL", Code: "28P01"})
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused connect", refused, true},
		{"shutdown", pg("57P01"), true},
		{"crash of another backend", pg("57P02"), true},
		{"recovery", pg("57P03"), true},
		{"too many clients", pg("53300"), true},
		{"connection exception", pg("08006"), true},
		{"bad password", badPassword, false},
		{"unique violation", pg("23505"), false},
		{"statement timeout", pg("57014"), false},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"closed conn", pgconn.ErrConnClosed, true},
		{"deadline", context.DeadlineExceeded, false},
		{"other", errors.New("statement returned 2 rows"), false},
	}
	for _, c := range cases {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
