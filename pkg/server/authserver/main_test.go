package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var testSecret = []byte("super-secret-jwt-token-with-at-least-32-characters-long")

// testClock is a clock tests move by hand. It starts at the real time so
// tokens it dates are also valid for clients that look at the wall clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one auth server on its own database, mounted at /auth/v1/ of a
// real HTTP server, as the gateway exposes it.
type env struct {
	t          testing.TB
	db         *pgtest.DB
	srv        *Server
	http       *httptest.Server
	base       string // http://127.0.0.1:port/auth/v1
	clock      *testClock
	serviceKey string
	anonKey    string
}

// newEnv starts a server with autoconfirm on, a fast bcrypt cost and the
// given config changes.
func newEnv(t testing.TB, configure ...func(*Config)) *env {
	t.Helper()
	return startEnv(t, nil, configure)
}

// startEnv starts a server on its own database with the defaults of newEnv,
// then preset (which may read the server's own /auth/v1 URL, known before
// it starts), then the test's configure.
func startEnv(t testing.TB, preset func(cfg *Config, base string), configure []func(*Config)) *env {
	t.Helper()
	db := pgtest.NewDB(t)
	clock := newTestClock()
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String() + "/auth/v1"
	cfg := Config{
		Pool:              db.Pool(t, "supabase_auth_admin"),
		JWTSecret:         testSecret,
		SiteURL:           testSiteURL,
		MailerAutoconfirm: true,
		PasswordHashCost:  bcrypt.MinCost,
		Now:               clock.Now,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if preset != nil {
		preset(&cfg, base)
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := New(context.Background(), cfg)
	if err != nil {
		hs.Listener.Close()
		t.Fatalf("new auth server: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/v1/", http.StripPrefix("/auth/v1", srv))
	hs.Config.Handler = mux
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { srv.Close() })
	return &env{
		t: t, db: db, srv: srv, http: hs, base: base, clock: clock,
		serviceKey: signTestKey(t, "service_role", clock.Now()),
		anonKey:    signTestKey(t, "anon", clock.Now()),
	}
}

// newHTTPServer serves h on a real socket until the test ends.
func newHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

// signTestKey makes an anon or service key as sfp's tenant setup does.
func signTestKey(t testing.TB, role string, now time.Time) string {
	t.Helper()
	return jwttest.Sign(testSecret, keyClaims(role, now))
}

// keyClaims are the claims of an anon or service key issued at now, valid
// for a day.
func keyClaims(role string, now time.Time) map[string]any {
	return map[string]any{"role": role, "iss": "supabase", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()}
}

// noRedirects shows tests the redirects themselves.
var noRedirects = &http.Client{
	Timeout:       time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

// req sends a request to the server. body may be nil, a string (sent as
// is) or a value encoded as JSON. headers alternate name, value.
func (e *env) req(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirects.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// mustStatus fails the test unless the response has the status.
func (r response) mustStatus(t testing.TB, want int, what string) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
	}
	return r
}

// signUp creates a confirmed user through the API and returns its session.
func (e *env) signUp(email, password string) map[string]any {
	e.t.Helper()
	return e.req("POST", "/signup", map[string]any{"email": email, "password": password}).
		mustStatus(e.t, 200, "signup "+email).json(e.t)
}

func (e *env) signIn(email, password string) map[string]any {
	e.t.Helper()
	return e.req("POST", "/token?grant_type=password", map[string]any{"email": email, "password": password}).
		mustStatus(e.t, 200, "sign in "+email).json(e.t)
}

func (e *env) refresh(token string, headers ...string) response {
	e.t.Helper()
	return e.req("POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": token}, headers...)
}

// scalar runs a one-value query as supabase_admin.
func (e *env) scalar(sql string, args ...any) any {
	e.t.Helper()
	var v any
	if err := e.db.Admin(e.t).QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		e.t.Fatalf("query %q: %v", sql, err)
	}
	return v
}

// wantError checks an error answer in the original (no API version) format.
func wantError(t testing.TB, r response, status int, code, msgPart string) {
	t.Helper()
	m := wantErrorBody(t, r, status, "error_code", code, "msg", msgPart)
	if got, _ := m["code"].(float64); int(got) != status {
		t.Fatalf("code %v, want %d; body %s", m["code"], status, r.body)
	}
	if h := r.header.Get("x-sb-error-code"); h != code {
		t.Fatalf("x-sb-error-code %q, want %s", h, code)
	}
}

// wantError20240101 checks an error answer in the 2024-01-01 format.
func wantError20240101(t testing.TB, r response, status int, code, msgPart string) {
	t.Helper()
	m := wantErrorBody(t, r, status, "code", code, "message", msgPart)
	if _, ok := m["error_code"]; ok {
		t.Fatalf("2024-01-01 body has error_code: %s", r.body)
	}
	if h := r.header.Get(apiVersionHeader); h != "2024-01-01" {
		t.Fatalf("%s header %q, want 2024-01-01", apiVersionHeader, h)
	}
}

// wantErrorBody checks what both error formats hold, under the names the
// format gives them: the status, the error code and a part of the message.
// It returns the body for the checks of the format.
func wantErrorBody(t testing.TB, r response, status int, codeKey, code, msgKey, msgPart string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(t)
	if got := m[codeKey]; got != code {
		t.Fatalf("%s %v, want %s; body %s", codeKey, got, code, r.body)
	}
	if msg, _ := m[msgKey].(string); !strings.Contains(msg, msgPart) {
		t.Fatalf("%s %q does not contain %q", msgKey, msg, msgPart)
	}
	return m
}

// parseClaims verifies a token with the test secret, independently of the
// server's own parser, and returns its claims.
func parseClaims(t testing.TB, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"})).ParseWithClaims(token, claims,
		func(*jwt.Token) (any, error) { return testSecret, nil })
	if err != nil {
		t.Fatalf("access token does not verify with the JWT secret: %v", err)
	}
	return claims
}
