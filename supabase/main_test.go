package supabase_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Fixed ids of supabase/tests/fixture.sql.
type fixtureAccount struct {
	Account, Project, Environment, Build, Release, Deployment, Allocation, Task, Integration string
	Owner, Member, Viewer, Extra                                                             string
}

var (
	accA     = fixtureIDs("a")
	accB     = fixtureIDs("b")
	outsider = "eeeeeeee-0000-0000-0000-000000000001"
)

// fixtureIDs are the ids of the fixture account whose ids start with the
// hex digit p: p0000000-0000-0000-0000-000000000000 the account,
// p1000000-… its project, p2… environment, p3… build, p4… release, p5…
// deployment, p6… allocation, p7… task, p8… integration; its users are
// pppppppp-0000-0000-0000-00000000000N: 1 owner, 2 member, 3 viewer, 4 extra.
func fixtureIDs(p string) fixtureAccount {
	id := func(n int) string { return fmt.Sprintf("%s%d000000-0000-0000-0000-000000000000", p, n) }
	user := func(n int) string { return fmt.Sprintf("%s-0000-0000-0000-%012d", strings.Repeat(p, 8), n) }
	return fixtureAccount{
		Account: id(0), Project: id(1), Environment: id(2), Build: id(3), Release: id(4),
		Deployment: id(5), Allocation: id(6), Task: id(7), Integration: id(8),
		Owner: user(1), Member: user(2), Viewer: user(3), Extra: user(4),
	}
}

// newFixtureDB returns a fresh database with the fixture loaded.
func newFixtureDB(t testing.TB) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t)
	raw, err := os.ReadFile("tests/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Without arguments pgx uses the simple protocol: the whole file runs as
	// one multi-statement query.
	if _, err := db.Admin(t).Exec(context.Background(), string(raw)); err != nil {
		t.Fatalf("load tests/fixture.sql: %v", err)
	}
	return db
}

// errRollback ends an AsRole transaction without committing it.
var errRollback = errors.New("rollback")

// asRole runs fn as claims (the way PostgREST runs a request) and commits.
func asRole(t testing.TB, db *pgtest.DB, claims pgtest.Claims, fn func(ctx context.Context, tx pgx.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return db.AsRole(ctx, claims, func(tx pgx.Tx) error { return fn(ctx, tx) })
}

// query runs one statement as claims, commits, and returns the first column
// of the first row scanned into dst (dst may be nil).
func query(t testing.TB, db *pgtest.DB, claims pgtest.Claims, dst any, sql string, args ...any) error {
	t.Helper()
	return asRole(t, db, claims, func(ctx context.Context, tx pgx.Tx) error {
		if dst == nil {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}
		return tx.QueryRow(ctx, sql, args...).Scan(dst)
	})
}

// mustQuery is query that fails the test on error.
func mustQuery(t testing.TB, db *pgtest.DB, claims pgtest.Claims, dst any, sql string, args ...any) {
	t.Helper()
	if err := query(t, db, claims, dst, sql, args...); err != nil {
		t.Fatalf("%s: %s: %v", claims.Role(), sql, err)
	}
}

// adminScan runs a query as supabase_admin, outside any request.
func adminScan(t testing.TB, db *pgtest.DB, dst any, sql string, args ...any) {
	t.Helper()
	if err := db.Admin(t).QueryRow(context.Background(), sql, args...).Scan(dst); err != nil {
		t.Fatalf("admin: %s: %v", sql, err)
	}
}

// sqlState returns the SQLSTATE of err, or "" when err is not a server error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// wantState fails unless err is a server error with SQLSTATE code and, when
// fragment is not empty, a message, detail or hint containing it.
func wantState(t testing.TB, what string, err error, code, fragment string) *pgconn.PgError {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("%s: want SQLSTATE %s, got %v", what, code, err)
		return nil
	}
	if pgErr.Code != code {
		t.Fatalf("%s: want SQLSTATE %s, got %s: %s (%s)", what, code, pgErr.Code, pgErr.Message, pgErr.Detail)
	}
	text := strings.Join([]string{pgErr.Message, pgErr.Detail, pgErr.Hint}, "\n")
	if fragment != "" && !strings.Contains(text, fragment) {
		t.Fatalf("%s: SQLSTATE %s as expected, but %q does not mention %q", what, code, text, fragment)
	}
	return pgErr
}

// refusal is a case of a table of statements the database refuses: who
// runs sql, and the SQLSTATE code and message fragment it fails with.
type refusal struct {
	name     string
	claims   pgtest.Claims
	sql      string
	code     string
	fragment string
}

func user(id string) pgtest.Claims { return pgtest.User(id) }

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
