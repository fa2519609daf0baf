package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The deadlines in these tests are short so that the tests take a second
// or two; nothing asserts how long anything took.

const wsYML = `_format_version: "2.1"
services:
  - name: ws
    url: http://wsup/socket
    routes: [{name: ws, paths: [/realtime/v1/]}]
  - name: alpha
    url: http://alpha/
    routes: [{name: alpha, paths: [/a]}]
  - name: beta
    url: http://beta/
    routes: [{name: beta, paths: [/b]}]
`

// serveLimited runs the gateway behind a real http.Server with the
// runtime's settings: a header deadline and a connection cap.
func serveLimited(t *testing.T, opts Options, headerTimeout time.Duration, maxConns int) string {
	t.Helper()
	g := newGateway(t, wsYML, opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if maxConns > 0 {
		l = LimitListener(l, maxConns, nil)
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: headerTimeout}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// rawConn is a client connection speaking HTTP/1.1 by hand.
type rawHTTP struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialHTTP(t *testing.T, addr string) *rawHTTP {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	// A safety net against a hung test, not a measurement.
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	return &rawHTTP{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawHTTP) write(s string) error {
	_, err := io.WriteString(r.c, s)
	return err
}

func (r *rawHTTP) response() (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	require.NoError(r.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	resp.Body.Close()
	return resp, string(b)
}

func (r *rawHTTP) get(path string) (*http.Response, string) {
	r.t.Helper()
	require.NoError(r.t, r.write("GET "+path+" HTTP/1.1\r\nHost: tenant\r\n\r\n"))
	return r.response()
}

// closed reports whether the server closed the connection (after any
// response already read).
func (r *rawHTTP) closed() bool {
	_, err := r.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// dribble sends the body one byte at a time, every interval, until the
// connection refuses or stop is closed.
func (r *rawHTTP) dribble(interval time.Duration, stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			if r.write("x") != nil {
				return
			}
		}
	}()
}

// A body sent slower than the deadline allows gets Kong's 408 and the
// connection is closed: in-process and proxied upstreams, known length or
// chunked.
func TestSlowBodyGets408(t *testing.T) {
	backend := serveHandler(t, echo("backend"))
	bu, _ := url.Parse(backend.URL)
	addr := serveLimited(t, Options{
		Upstreams:   map[string]http.Handler{"alpha": echo("alpha")},
		URLs:        map[string]*url.URL{"beta": bu},
		BodyTimeout: 500 * time.Millisecond,
	}, time.Second, 0)
	for _, path := range []string{"/a/x", "/b/x"} {
		for _, framing := range []string{"Content-Length: 100000", "Transfer-Encoding: chunked"} {
			t.Run(path+" "+framing, func(t *testing.T) {
				c := dialHTTP(t, addr)
				require.NoError(t, c.write("POST "+path+" HTTP/1.1\r\nHost: tenant\r\nContent-Type: application/json\r\n"+framing+"\r\n\r\n"))
				if strings.HasPrefix(framing, "Transfer") {
					require.NoError(t, c.write("10000\r\n")) // a chunk of 64 kB, never finished
				}
				stop := make(chan struct{})
				defer close(stop)
				c.dribble(100*time.Millisecond, stop)
				resp, body := c.response()
				assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, body)
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(body), &m), body)
				assert.Equal(t, "Request timeout", m["message"], body)
				assert.Equal(t, resp.Header.Get("X-Request-Id"), m["request_id"], body)
				assert.True(t, resp.Close, "408 says Connection: close")
				assert.True(t, c.closed(), "the connection is closed after the 408")
			})
		}
	}
	// A body sent in time passes.
	c := dialHTTP(t, addr)
	require.NoError(t, c.write("POST /a/x HTTP/1.1\r\nHost: tenant\r\nContent-Length: 2\r\n\r\n{}"))
	resp, body := c.response()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}

// Headers sent slower than the header deadline: the connection is closed.
func TestSlowHeadersAreCutOff(t *testing.T) {
	addr := serveLimited(t, Options{Upstreams: map[string]http.Handler{"alpha": echo("alpha")}}, 500*time.Millisecond, 0)
	c := dialHTTP(t, addr)
	require.NoError(t, c.write("GET /a/x HTTP/1.1\r\nHost: tenant\r\n"))
	for {
		if c.write("X-Slow: y\r\n") != nil {
			break // the server closed the connection
		}
		if _, err := c.br.Peek(1); err != nil {
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server held the connection for 30 s")
			break
		}
	}
}

// Once its body is in, a request is not cut off by the body deadline
// however long its handler works, and WebSockets live past both
// deadlines.
func TestDeadlinesSpareLongHandlersAndWebSockets(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(time.Second) // past the body deadline
		if err := r.Context().Err(); err != nil {
			http.Error(w, "request context ended: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "read %d bytes", len(b))
	})
	addr := serveLimited(t, Options{
		Upstreams:   map[string]http.Handler{"alpha": slow, "wsup": echo("ws")},
		BodyTimeout: 300 * time.Millisecond,
	}, 300*time.Millisecond, 0)

	c := dialHTTP(t, addr)
	require.NoError(t, c.write("POST /a/x HTTP/1.1\r\nHost: tenant\r\nContent-Length: 5\r\n\r\nhello"))
	resp, body := c.response()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "read 5 bytes", body)
	// The connection is kept alive for the next request.
	require.NoError(t, c.write("POST /a/x HTTP/1.1\r\nHost: tenant\r\nContent-Length: 2\r\n\r\nhi"))
	resp, body = c.response()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/realtime/v1/websocket", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	_, _, err = ws.Read(ctx) // the echo's greeting
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond) // idle, past both deadlines
	for i := 0; i < 3; i++ {
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("ping")))
		_, got, err := ws.Read(ctx)
		require.NoError(t, err, "the WebSocket was cut off")
		assert.Equal(t, "echo:ping", string(got))
	}
}

// Connections beyond the cap are answered 503 with a clear message and
// closed, while the admitted ones (a WebSocket among them) keep working;
// a connection closed makes room.
func TestConnectionCap(t *testing.T) {
	addr := serveLimited(t, Options{Upstreams: map[string]http.Handler{"alpha": echo("alpha"), "wsup": echo("ws")}}, time.Second, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/realtime/v1/websocket", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	_, _, err = ws.Read(ctx)
	require.NoError(t, err)
	var admitted []*rawHTTP
	for i := 0; i < 2; i++ {
		c := dialHTTP(t, addr)
		resp, body := c.get("/a/x")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		admitted = append(admitted, c)
	}

	refused := dialHTTP(t, addr)
	resp, body := refused.get("/a/x")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.JSONEq(t, `{"message":"Too many connections: this tenant serves at most 3 at once; try again later"}`, body)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.True(t, refused.closed())

	for _, c := range admitted {
		resp, body := c.get("/a/y")
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	}
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("still here")))
	_, got, err := ws.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "echo:still here", string(got))

	// Closing the WebSocket frees its place.
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
	for deadline := time.Now().Add(20 * time.Second); ; {
		c := dialHTTP(t, addr)
		resp, body := c.get("/a/z")
		if resp.StatusCode == http.StatusOK {
			break
		}
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
		require.True(t, time.Now().Before(deadline), "no room after a connection closed")
		time.Sleep(20 * time.Millisecond)
	}
}
