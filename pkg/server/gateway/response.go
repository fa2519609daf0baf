package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// The responses going out: those the gateway writes itself (reply, Kong's
// error pages) and the writer every response passes through (response
// filters, the access log's figures, the body limit's 413 and 408).

// reply is a response produced by the gateway itself: a body as given, or
// (message set) Kong's error page, rendered when it is written (errors.go).
type reply struct {
	status  int
	header  http.Header
	body    []byte
	message string
}

// kongError is Kong 3's error response (kong.response.error): the message
// and the request id, as JSON unless the request's Accept asks for HTML,
// XML or plain text.
func kongError(status int, msg string) *reply {
	return &reply{status: status, header: http.Header{}, message: msg}
}

// responseWriter applies the route's response filters (cors) to whatever
// response goes out, records status and size for the access log, and turns
// an upstream's answer into 413 or 408 when the body limit or deadline cut
// the request short.
type responseWriter struct {
	http.ResponseWriter
	x           *exchange
	status      int
	bytes       int64
	wroteHeader bool
	discard     bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	h := w.Header()
	if rep := w.x.body.failure(); rep != nil && code != rep.status {
		// The upstream answered a truncated body; the client gets Kong's
		// 413, or 408 for a body that did not arrive in time.
		id := h.Get("X-Request-Id")
		clear(h)
		h.Set("X-Request-Id", id)
		body := w.render(rep)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.writeFiltered(rep.status)
		_, _ = w.ResponseWriter.Write(body)
		w.bytes += int64(len(body))
		w.discard = true
		return
	}
	w.writeFiltered(code)
}

func (w *responseWriter) writeFiltered(code int) {
	if w.x.route != nil {
		for _, f := range w.x.route.filters {
			f.filterResponse(w.x, w.Header())
		}
	}
	w.wroteHeader, w.status = true, code
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// reply writes a response produced by the gateway.
func (w *responseWriter) reply(rep *reply) {
	body := w.render(rep)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	if len(body) > 0 && w.x.r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// render copies a reply's headers to the response and returns its body:
// the one given, or Kong's error page for the request.
func (w *responseWriter) render(rep *reply) []byte {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.message == "" {
		return rep.body
	}
	contentType, body := errorPage(w.x.r.Header.Values("Accept"), rep.message, h.Get("X-Request-Id"))
	h.Set("Content-Type", contentType)
	return body
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack lets WebSocket upgrades through, for in-process upstreams and the
// reverse proxy alike. The connection leaves with no deadline: the
// WebSocket manages its own (a body deadline must not end it).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		_ = c.SetDeadline(time.Time{})
	}
	return c, brw, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitedBody enforces MaxBodyBytes on bodies of unknown length, and the
// body deadline (limits.go).
type limitedBody struct {
	rc        io.ReadCloser
	remaining int64
	exceeded  atomic.Bool
	timedOut  atomic.Bool
	bodyRead  func() // clears the deadline once the body is in
}

var errBodyTooLarge = errors.New("request body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.exceeded.Load() {
		return 0, errBodyTooLarge
	}
	if b.timedOut.Load() {
		return 0, errBodyTimeout
	}
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.remaining {
		b.exceeded.Store(true)
		n = int(b.remaining)
		b.remaining = 0
		return n, errBodyTooLarge
	}
	b.remaining -= int64(n)
	if err != nil {
		err = b.readFailed(err)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
