package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sfp-dev/sfp/internal/logtest"
)

// seen is what an echo upstream reports about the request it received.
type seen struct {
	Upstream string      `json:"upstream"`
	Method   string      `json:"method"`
	Path     string      `json:"path"` // escaped
	Query    string      `json:"query"`
	Host     string      `json:"host"`
	Header   http.Header `json:"header"`
	Body     string      `json:"body"`
	BodyErr  string      `json:"body_err,omitempty"`
}

// echo is a small real upstream: it answers every request with a JSON
// description of what it received, and upgrades WebSocket requests to an
// echo socket whose first message is that description.
func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Upstream: name, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Host: r.Host, Header: r.Header}
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			ctx := r.Context()
			b, _ := json.Marshal(s)
			if err := c.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
			for {
				typ, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				if err := c.Write(ctx, typ, append([]byte("echo:"), msg...)); err != nil {
					return
				}
			}
		}
		body, err := io.ReadAll(r.Body)
		s.Body = string(body)
		if err != nil {
			s.BodyErr = err.Error()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(s)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Range", "0-0/1")
		_ = json.NewEncoder(w).Encode(s)
	})
}

// testEnv are the variables the test configurations use.
var testEnv = map[string]string{
	"ANON":       "anon-key-123",
	"SERVICE":    "service-key-456",
	"DASH_USER":  "supabase",
	"DASH_PASS":  "s3cret-pass",
	"UNUSED_VAR": "x",
}

// newGateway builds the gateway for yml with testEnv's variables.
func newGateway(t testing.TB, yml string, opts Options) *Gateway {
	t.Helper()
	cfg, err := Parse([]byte(yml), "test.yml", testEnv)
	require.NoError(t, err)
	g, err := New(cfg, opts)
	require.NoError(t, err)
	return g
}

// repoGateway builds the gateway for the repository's kong.yml with env.
func repoGateway(t testing.TB, env map[string]string, opts Options) *Gateway {
	t.Helper()
	cfg, err := Load(repoKongYML, env)
	require.NoError(t, err)
	g, err := New(cfg, opts)
	require.NoError(t, err)
	return g
}

// serveHandler serves h on a real socket until the test ends.
func serveHandler(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// serve starts the gateway for yml on a real socket.
func serve(t *testing.T, yml string, opts Options) *httptest.Server {
	t.Helper()
	return serveHandler(t, newGateway(t, yml, opts))
}

// wsURL is the WebSocket address of path on srv.
func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// dialEcho opens a WebSocket to path on srv through an echo upstream and
// reads the first message, the upstream's description of the upgrade
// request it received. The caller closes the connection.
func dialEcho(ctx context.Context, t *testing.T, srv *httptest.Server, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, seen) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, wsURL(srv, path), opts)
	require.NoError(t, err, path)
	_, first, err := c.Read(ctx)
	require.NoError(t, err, path)
	var s seen
	require.NoError(t, json.Unmarshal(first, &s), "first message: %s", first)
	return c, resp, s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r response) seen(t *testing.T) seen {
	t.Helper()
	var s seen
	require.NoError(t, json.Unmarshal(r.body, &s), "status %d body: %s", r.status, r.body)
	return s
}

// call sends one request; header pairs are name, value, name, value…
func call(t *testing.T, srv *httptest.Server, method, path string, body io.Reader, header ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func get(t *testing.T, srv *httptest.Server, path string, header ...string) response {
	t.Helper()
	return call(t, srv, http.MethodGet, path, nil, header...)
}

func newLogger(l *logtest.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// assertKongError checks a Kong 3 error answer (kong.response.error): JSON
// with the message and the request id the response carries.
func assertKongError(t *testing.T, r response, msg string) {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"), "body: %s", r.body)
	m := r.json(t)
	require.Equal(t, msg, m["message"], "body: %s", r.body)
	require.NotEmpty(t, r.header.Get("X-Request-Id"))
	require.Equal(t, r.header.Get("X-Request-Id"), m["request_id"], "body: %s", r.body)
	require.Len(t, m, 2, "body: %s", r.body)
}
