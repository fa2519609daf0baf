package platform_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/server/platform"
)

func TestMain(m *testing.M) { pgtest.MainWith(m, pgtest.Options{SkipMigrations: true}) }

// catalogDump returns the schema of db and the cluster's roles, as text.
func catalogDump(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	c := db.Cluster
	bin := c.Config().Binaries
	env := append(os.Environ(), "PGPASSWORD="+c.Passwords["supabase_admin"])
	run := func(prog string, args ...string) string {
		cmd := exec.Command(bin.Path(prog), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", prog, err, out)
		}
		return string(out)
	}
	common := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(c.Port()), "-U", "supabase_admin"}
	schema := run("pg_dump", append(common, "--schema-only", "-d", db.Name)...)
	roles := run("pg_dumpall", append(common, "--roles-only", "--no-role-passwords")...)
	return stripRestrict(schema + "\n" + roles)
}

// stripRestrict drops the \restrict lines newer pg_dump versions write with
// a random key on every run.
func stripRestrict(dump string) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "\\restrict ") || strings.HasPrefix(l, "\\unrestrict ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestApplyTwiceEqualsOnce(t *testing.T) {
	db := pgtest.NewDB(t)
	before := catalogDump(t, db)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL("supabase_admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := platform.Apply(ctx, conn); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	after := catalogDump(t, db)
	if before != after {
		t.Fatalf("applying the platform a second time changed the catalog:\n%s", diffLines(before, after))
	}
	for _, want := range []string{"CREATE TABLE auth.users", "CREATE TABLE vault.secrets", "CREATE PUBLICATION supabase_realtime",
		"CREATE TABLE supabase_migrations.schema_migrations", "CREATE FUNCTION auth.uid()", "CREATE ROLE authenticator"} {
		if !strings.Contains(before, want) {
			t.Errorf("catalog lacks %q", want)
		}
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	set := map[string]int{}
	for _, l := range al {
		set[l]++
	}
	var out []string
	for _, l := range bl {
		if set[l] > 0 {
			set[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	for l, n := range set {
		for ; n > 0; n-- {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

func TestVault(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	const plaintext = "ghp_supersecretvalue_1234567890"

	var id string
	err := db.AsRole(ctx, pgtest.Service(), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select vault.create_secret($1, 'github-token', 'a token')`, plaintext).Scan(&id)
	})
	if err != nil {
		t.Fatalf("service_role create_secret: %v", err)
	}

	var got, stored string
	err = db.AsRole(ctx, pgtest.Service(), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select decrypted_secret, secret from vault.decrypted_secrets where id = $1`, id).Scan(&got, &stored)
	})
	if err != nil {
		t.Fatalf("service_role read decrypted_secrets: %v", err)
	}
	if got != plaintext {
		t.Fatalf("decrypted secret = %q, want %q", got, plaintext)
	}
	if strings.Contains(stored, plaintext) || strings.Contains(stored, "supersecret") {
		t.Fatalf("ciphertext contains the plaintext: %q", stored)
	}
	// Nor does the raw table, read by the superuser.
	var raw string
	if err := db.Admin(t).QueryRow(ctx, `select secret::text || coalesce(nonce::text, '') from vault.secrets where id = $1`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, plaintext) {
		t.Fatal("vault.secrets holds the plaintext")
	}

	err = db.AsRole(ctx, pgtest.Service(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `select vault.update_secret($1, 'rotated-value')`, id)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `select decrypted_secret from vault.decrypted_secrets where id = $1`, id).Scan(&got)
	})
	if err != nil || got != "rotated-value" {
		t.Fatalf("update_secret: got %q, err %v", got, err)
	}

	// anon and authenticated are refused on every vault object.
	statements := []string{
		`select * from vault.secrets`,
		`select * from vault.decrypted_secrets`,
		`select vault.create_secret('x')`,
		`select vault.update_secret('` + id + `', 'y')`,
		`select vault._decrypt('x', null)`,
		`select vault._root_key()`,
		`delete from vault.secrets`,
	}
	for _, claims := range []pgtest.Claims{pgtest.Anon(), pgtest.User("00000000-0000-0000-0000-000000000001")} {
		for _, stmt := range statements {
			err := db.AsRole(ctx, claims, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, stmt)
				return err
			})
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s: %q: want permission denied (42501), got %v", claims.Role(), stmt, err)
			}
		}
	}
}

func TestAuthClaimFunctions(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	uid := "5e1d7c2a-0000-4000-8000-000000000042"
	var gotUID, role, email string
	var claimsJSON map[string]any
	err := db.AsRole(ctx, pgtest.User(uid), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `select auth.uid()::text, auth.role(), auth.email(), auth.jwt()`).Scan(&gotUID, &role, &email, &claimsJSON)
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotUID != uid || role != "authenticated" || email != uid+"@example.test" || claimsJSON["sub"] != uid {
		t.Fatalf("got uid=%s role=%s email=%s jwt=%v", gotUID, role, email, claimsJSON)
	}
	// The legacy per-claim setting wins when present, as in GoTrue's definition.
	conn := db.Admin(t)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `select set_config('request.jwt.claim.sub', '11111111-1111-1111-1111-111111111111', true)`)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `select auth.uid()::text`).Scan(&gotUID)
	})
	if err != nil || gotUID != "11111111-1111-1111-1111-111111111111" {
		t.Fatalf("legacy claim: %v %s", err, gotUID)
	}
}

func TestRoles(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	type role struct {
		name                   string
		login, inherit, bypass bool
		repl, super            bool
	}
	want := []role{
		{"anon", false, true, false, false, false},
		{"authenticated", false, true, false, false, false},
		{"service_role", false, true, true, false, false},
		{"authenticator", true, false, false, false, false},
		{"supabase_admin", true, true, true, true, true},
		{"supabase_auth_admin", true, false, false, false, false},
		{"supabase_replication_admin", true, true, false, true, false},
	}
	for _, w := range want {
		var got role
		got.name = w.name
		err := db.Admin(t).QueryRow(ctx, `select rolcanlogin, rolinherit, rolbypassrls, rolreplication, rolsuper from pg_roles where rolname = $1`, w.name).
			Scan(&got.login, &got.inherit, &got.bypass, &got.repl, &got.super)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if got != w {
			t.Errorf("role %s = %+v, want %+v", w.name, got, w)
		}
	}
	var timeouts []string
	if err := db.Admin(t).QueryRow(ctx, `select array_agg(r.rolname || ':' || c order by r.rolname, c) from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) c where c like 'statement_timeout=%'`).Scan(&timeouts); err != nil {
		t.Fatal(err)
	}
	if strings.Join(timeouts, ",") != "anon:statement_timeout=3s,authenticated:statement_timeout=8s,authenticator:statement_timeout=8s" {
		t.Errorf("statement timeouts = %v", timeouts)
	}
	// Every login role authenticates with the password sfp set.
	for _, r := range platform.LoginRoles {
		conn, err := pgx.Connect(ctx, db.URL(r))
		if err != nil {
			t.Errorf("log in as %s: %v", r, err)
			continue
		}
		conn.Close(ctx)
	}
	// A wrong password is refused.
	bad := strings.Replace(db.URL("authenticator"), db.Cluster.Passwords["authenticator"], "wrong", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Error("a wrong password was accepted")
	}
}
