package postgres

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err says the server cannot serve right now
// but may shortly: it is down or restarting (connection refused, the
// connection broke), recovering from a crash or starting up (57P03
// cannot_connect_now), terminating sessions for a shutdown or after another
// process crashed (57P01, 57P02), out of connection slots (53300), or any
// other connection exception (class 08). The API servers answer these with
// 503 and Retry-After rather than 500: the request was not wrong, and
// retrying a moment later is the right thing for a client to do.
//
// Errors the server reports about the request itself — including a refused
// login (28P01), which retrying would not cure — are not unavailability.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	return errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &ne) && !ne.Timeout())
}

// LogLimiter writes at most one warning a second and counts the ones it
// left out: while the database is down every request fails the same way,
// and one line a second says so without burying the rest of the log.
// The zero value is ready to use.
type LogLimiter struct {
	last       atomic.Int64 // unix ns of the last line written
	suppressed atomic.Int64
}

// Warn writes msg with args at warning level unless a line was written in
// the last second.
func (l *LogLimiter) Warn(log *slog.Logger, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		args = append(args, "similar_lines_suppressed", n)
	}
	log.Warn(msg, args...)
}
