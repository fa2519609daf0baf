package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Deadlines and a connection cap bound what a client can hold of the
// gateway (docs/gateway.md, "Limits"):
//
//   - headers: the http.Server's ReadHeaderTimeout (set by the runtime)
//     closes a connection whose request headers are not in within it;
//   - bodies: Options.BodyTimeout bounds reading a request's body from the
//     moment its headers are in; a client still sending then gets Kong's 408
//     {"message":"Request timeout"} and the connection is closed;
//   - connections: LimitListener caps the connections open at once,
//     WebSockets included, answering the ones beyond with 503.
//
// A WebSocket upgrade has no body, so no body deadline is set on it, and
// any deadline left on a hijacked connection is cleared: from then on the
// WebSocket's own heartbeat decides how long it lives.

// guardBody wraps a request body in the size limit and the body deadline.
func (g *Gateway) guardBody(w http.ResponseWriter, r *http.Request) *limitedBody {
	b := &limitedBody{rc: r.Body, remaining: g.maxBody}
	if g.maxBody <= 0 {
		b.remaining = math.MaxInt64 - 1
	}
	if g.bodyTimeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(g.bodyTimeout)) == nil {
			// Once the body is in, the connection has no read deadline
			// again (net/http sets the next request's own): a handler
			// that works long after reading is not cut off.
			b.bodyRead = func() { _ = rc.SetReadDeadline(time.Time{}) }
		}
	}
	return b
}

var errBodyTimeout = errors.New("request body not received within the deadline")

// readFailed maps a read error of the body: a passed deadline is
// remembered, so the response becomes 408.
func (b *limitedBody) readFailed(err error) error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		b.timedOut.Store(true)
		return errBodyTimeout
	}
	if err == io.EOF && b.bodyRead != nil {
		b.bodyRead()
		b.bodyRead = nil
	}
	return err
}

// failure is the gateway's answer when the body could not be read whole:
// 413 beyond the size limit, 408 past the deadline; nil otherwise.
func (b *limitedBody) failure() *reply {
	switch {
	case b == nil:
		return nil
	case b.exceeded.Load():
		return kongError(http.StatusRequestEntityTooLarge, "Payload too large")
	case b.timedOut.Load():
		rep := kongError(http.StatusRequestTimeout, "Request timeout")
		rep.header.Set("Connection", "close")
		return rep
	}
	return nil
}

// LimitListener caps the connections accepted from l and open at once at
// max. A connection beyond it is answered, on the raw connection, with
// HTTP 503, a Retry-After and a Kong-shaped JSON message, then closed, so a
// client learns why instead of waiting in the kernel's backlog. A
// connection counts until it is closed, hijacked WebSockets included.
func LimitListener(l net.Listener, max int, logger *slog.Logger) net.Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &limitListener{Listener: l, max: int64(max), log: logger}
}

// Refusals are written by a bounded number of goroutines, each within
// refuseDeadline; beyond them a connection is closed without an answer.
const (
	maxRefusing    = 64
	refuseDeadline = 2 * time.Second
	refuseLogEvery = 10 * time.Second
)

type limitListener struct {
	net.Listener
	max      int64
	log      *slog.Logger
	open     atomic.Int64
	refusing atomic.Int64

	mu      sync.Mutex
	refused int64 // since the last log line
	lastLog time.Time
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

func (l *limitListener) refuse(c net.Conn) {
	l.mu.Lock()
	l.refused++
	if now := time.Now(); now.Sub(l.lastLog) >= refuseLogEvery {
		l.log.Warn("refusing connections: api.max_connections reached", "max_connections", l.max, "refused", l.refused)
		l.lastLog, l.refused = now, 0
	}
	l.mu.Unlock()
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		c.Close()
		return
	}
	go func() {
		defer l.refusing.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseDeadline))
		body := fmt.Sprintf(`{"message":"Too many connections: this tenant serves at most %d at once; try again later"}`, l.max)
		_, err := io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n"+
			"Content-Type: application/json; charset=utf-8\r\n"+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\n"+
			"Retry-After: 1\r\n"+
			"Connection: close\r\n\r\n"+body)
		if err != nil {
			return
		}
		// Half-close and drain what the client sent, so closing does not
		// reset the connection before the client has read the answer.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// limitConn is a counted connection; it is uncounted once, when closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite keeps net/http's graceful half-close working through the
// wrapper.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
