package rest

import (
	"context"
	"encoding/json"
	"github.com/sfp-dev/sfp/internal/pgtest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// singleConnEnv serves the fixture from a pool of one connection, so that
// a test can look at the connection the requests ran on.
func singleConnEnv(t *testing.T) (*env, *pgxpool.Pool) {
	t.Helper()
	db := newPgDB(t)
	db.Exec(t, librarySQL)
	pool := authenticatorPool(t, db, 1)
	return startEnv(t, db, func(c *Config) { c.Pool = pool }), pool
}

// authenticatorPool is a pool of at most maxConns connections as
// authenticator, closed when the test ends.
func authenticatorPool(t *testing.T, db *pgtestDB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL("authenticator"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// preparedStatements lists this package's statements prepared on the
// pool's only connection.
func preparedStatements(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	return pgtest.Strings(t, pool, `select statement from pg_prepared_statements where name like 'sfp\_rest\_%' order by statement`)
}

// TestStatementsPreparedOncePerShape: repeating a query shape with other
// values reuses the connection's prepared statements; a new shape adds one.
func TestStatementsPreparedOncePerShape(t *testing.T) {
	e, pool := singleConnEnv(t)
	for _, id := range []string{"1", "2", "3", "999"} {
		r := e.do("GET", "/books?select=id&id=eq."+id, e.anon, "")
		if r.status != 200 {
			t.Fatalf("GET id=%s: %d %s", id, r.status, r.body)
		}
	}
	e.do("GET", "/books?select=id&id=eq.3", userJWT(uidReader), "").expect(t, "as a user", 200, `[{"id":3}]`)
	// The read-only setup (anon and authenticated have the same number of
	// role settings) and one statement for the shape.
	if got := preparedStatements(t, pool); len(got) != 2 {
		t.Fatalf("prepared after one shape: %d statements, want 2:\n%s", len(got), strings.Join(got, "\n"))
	}
	e.do("GET", "/books?select=title&id=eq.3", e.anon, "").expect(t, "another shape", 200, `[{"title":"Guards! Guards!"}]`)
	if got := preparedStatements(t, pool); len(got) != 3 {
		t.Fatalf("prepared after two shapes: %d statements, want 3", len(got))
	}
}

// TestStatementParseErrorNotCached: a statement PostgreSQL cannot prepare
// (no operator text[] ~~ unknown) gives the same error each time, and
// leaves nothing behind that would break the next request.
func TestStatementParseErrorNotCached(t *testing.T) {
	e, pool := singleConnEnv(t)
	for i := 0; i < 2; i++ {
		e.do("GET", "/books?genres=like.x", e.anon, "").expectErr(t, "like on an array", 404, "42883")
	}
	for _, s := range preparedStatements(t, pool) {
		if strings.Contains(s, `"genres" like`) {
			t.Fatalf("failed statement still listed as prepared: %s", s)
		}
	}
	e.do("GET", "/books?select=id&id=eq.2", e.anon, "").expect(t, "after the error", 200, `[{"id":2}]`)
}

// TestStatementsLostOnServer: when something else deallocates the
// connection's statements, the request prepares them again instead of
// failing (reads and writes).
func TestStatementsLostOnServer(t *testing.T) {
	e, pool := singleConnEnv(t)
	svc := e.svc
	e.do("GET", "/books?select=id&id=eq.1", svc, "").expect(t, "first read", 200, `[{"id":1}]`)
	e.do("PATCH", "/books?id=eq.1&select=pages", svc, `{"pages":184}`, "Prefer", "return=representation").
		expect(t, "first write", 200, `[{"pages":184}]`)
	if _, err := pool.Exec(context.Background(), "deallocate all"); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/books?select=id&id=eq.1", svc, "").expect(t, "read after deallocate all", 200, `[{"id":1}]`)
	if _, err := pool.Exec(context.Background(), "deallocate all"); err != nil {
		t.Fatal(err)
	}
	e.do("PATCH", "/books?id=eq.1&select=pages", svc, `{"pages":185}`, "Prefer", "return=representation").
		expect(t, "write after deallocate all", 200, `[{"pages":185}]`)
	e.do("GET", "/books?select=pages&id=eq.1", svc, "").expect(t, "the write committed once", 200, `[{"pages":185}]`)
}

// TestParseTextArray reads text[] values as PostgreSQL writes them.
func TestParseTextArray(t *testing.T) {
	e := newEnv(t)
	want := []string{"a", "b c", `"q"`, `back\slash`, "", "NULL", "x,y", "{}", "é"}
	var raw string
	if err := e.db.Pool(t, "authenticator").QueryRow(context.Background(),
		`select $1::text[]::text`, want).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	got, err := parseTextArray([]byte(raw))
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("parse %s (-want +got):\n%s", raw, d)
	}
	for _, in := range []string{"{}", ""} {
		got, err := parseTextArray([]byte(in))
		if in == "" {
			if err == nil {
				t.Errorf("%q: no error", in)
			}
			continue
		}
		if err != nil || len(got) != 0 {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if got, err := parseTextArray(nil); got != nil || err != nil {
		t.Errorf("NULL: %v %v", got, err)
	}
	for _, bad := range []string{"{a", `{"a}`, `{a,NULL}`, `{"a"b}`, `{"a\`} {
		if _, err := parseTextArray([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestCanonicalQuery: the fast path agrees with url.ParseQuery's.
func TestCanonicalQuery(t *testing.T) {
	for _, raw := range []string{"&", "a=1", "b=2&a=1&b=1", "select=id,title,author:authors!fk(name)&order=id&limit=100&offset=5",
		"id=eq.1&id=neq.2&a", "a=&=b&c", "x=(1,2)&y=a.b.c&x=z", "&&a=1&&", "name=eq.Le Guin", "q=é&p=*"} {
		if got, want := canonicalQuery(raw), canonicalQuerySlow(raw); got != want {
			t.Errorf("%q: got %q, want %q", raw, got, want)
		}
	}
	if got := canonicalQuery("select=id&order=id.desc&id=eq.1"); got != "?id=eq.1&order=id.desc&select=id" {
		t.Errorf("sorted: %q", got)
	}
}

// TestHeadersJSON: names lowered, values escaped, the last value wins.
func TestHeadersJSON(t *testing.T) {
	h := http.Header{
		"X-Mixed-Case": {"first", `second "quoted" \ back`},
		"Ctl":          {"a\x01b\tc\nd"},
		"Unicode":      {"é ü"},
		"Empty":        {""},
		"None":         {},
	}
	var got map[string]string
	if err := json.Unmarshal(headersJSON(h), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, headersJSON(h))
	}
	want := map[string]string{"x-mixed-case": `second "quoted" \ back`, "ctl": "a\x01b\tc\nd", "unicode": "é ü", "empty": ""}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if s := string(headersJSON(http.Header{})); s != "{}" {
		t.Errorf("no headers: %s", s)
	}
}

// TestNegotiateSingleType: single media types (the fast path) answer as
// the general negotiation does.
func TestNegotiateSingleType(t *testing.T) {
	for in, want := range map[string]mediaType{
		"application/json": mtJSON, " */* ": mtJSON, "application/*": mtJSON, "Application/JSON": mtJSON,
		"application/vnd.pgrst.object+json": mtSingular, "application/vnd.pgrst.object": mtSingular,
		"application/json;q=1": mtJSON, "text/csv": mtCSV,
	} {
		acc, err := negotiate(http.Header{"Accept": {in}})
		if err != nil || acc.media != want {
			t.Errorf("%q: %+v %v", in, acc, err)
		}
	}
	if _, err := negotiate(http.Header{"Accept": {"image/png"}}); err == nil || err.Status != 406 {
		t.Errorf("image/png: %v", err)
	}
}

// TestBackendTerminated: a backend killed during a request answers 503
// with PostgreSQL's error (57P01), and the next request gets a new
// connection.
func TestBackendTerminated(t *testing.T) {
	e := newEnv(t, `create function public.slow_one() returns int language sql volatile as $$ select pg_sleep(30); select 1 $$;
		grant execute on function public.slow_one() to anon;`)
	done := make(chan *resp, 1)
	go func() { done <- e.do("POST", "/rpc/slow_one", e.anon, "") }()
	admin := e.db.Admin(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(context.Background(),
			`select count(pg_terminate_backend(pid)) from pg_stat_activity where query like '%slow_one%' and pid <> pg_backend_pid() and usename = 'authenticator'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request's backend never showed up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := <-done
	r.expectErr(t, "terminated backend", 503, "57P01")
	e.do("GET", "/books?select=id&id=eq.1", e.anon, "").expect(t, "next request", 200, `[{"id":1}]`)
}
