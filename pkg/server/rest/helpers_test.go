package rest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

//go:embed testdata/library.sql
var librarySQL string

const testSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

// Users of the fixture.
const (
	uidUrsula = "00000000-0000-0000-0000-00000000000a"
	uidTerry  = "00000000-0000-0000-0000-00000000000b"
	uidReader = "00000000-0000-0000-0000-00000000000c"
)

type env struct {
	t      testing.TB
	db     *pgtest.DB
	srv    *Server
	http   *httptest.Server
	anon   string
	svc    string
	client *http.Client
}

func signJWT(secret string, claims map[string]any) string {
	return jwttest.Sign([]byte(secret), claims)
}

func keyJWT(role string) string { return jwttest.Key([]byte(testSecret), role, 365*24*time.Hour) }

func userJWT(uid string) string { return jwttest.User([]byte(testSecret), uid, time.Hour) }

// newEnv gives a test its own database with the library fixture (and
// anything in extraSQL), a REST server on it and an HTTP server in front.
func newEnv(t testing.TB, extraSQL ...string) *env {
	t.Helper()
	db := pgtest.NewDB(t)
	db.Exec(t, librarySQL)
	for _, s := range extraSQL {
		db.Exec(t, s)
	}
	return startEnv(t, db, nil)
}

func startEnv(t testing.TB, db *pgtest.DB, mod func(*Config)) *env {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("REST_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	cfg := Config{
		Pool:      db.Pool(t, "authenticator"),
		JWTSecret: []byte(testSecret),
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("rest.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &env{t: t, db: db, srv: srv, http: hs, anon: keyJWT("anon"), svc: keyJWT("service_role"), client: hs.Client()}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
	return v
}

// do sends a request to the REST server; token "" means no Authorization header.
func (e *env) do(method, path, token string, body string, headers ...string) *resp {
	e.t.Helper()
	return e.doAt(e.http.URL, method, path, token, body, headers...)
}

// doAt is do against another base URL (the gateway).
func (e *env) doAt(base, method, path, token string, body string, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if http.CanonicalHeaderKey(headers[i]) == "Content-Type" {
			req.Header.Del("Content-Type") // a test's own replaces the default
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// mustJSON decodes a JSON literal for comparisons.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad expected JSON %q: %v", s, err)
	}
	return v
}

// expect checks status and (when want != "") the JSON body.
func (r *resp) expect(t testing.TB, what string, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.body)
	}
	if want == "" {
		return
	}
	if d := cmp.Diff(mustJSON(t, want), r.json(t)); d != "" {
		t.Fatalf("%s: body mismatch (-want +got):\n%s\nbody: %s", what, d, r.body)
	}
}

// expectErr checks an error response's status and code.
func (r *resp) expectErr(t testing.TB, what string, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.body)
	}
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("%s: error body is not an object: %s", what, r.body)
	}
	for _, k := range []string{"code", "message", "details", "hint"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("%s: error body lacks %q: %s", what, k, r.body)
		}
	}
	if m["code"] != code {
		t.Fatalf("%s: code %v, want %s; body: %s", what, m["code"], code, r.body)
	}
	return m
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func requestWithToken(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "/books", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

type pgtestDB = pgtest.DB

func newPgDB(t testing.TB) *pgtest.DB { return pgtest.NewDB(t) }
