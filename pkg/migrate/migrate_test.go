package migrate_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

func TestMain(m *testing.M) { pgtest.MainWith(m, pgtest.Options{SkipMigrations: true}) }

var sample = fstest.MapFS{
	// Deliberately listed out of order: the runner sorts by version.
	"20240301000000_third.sql":  {Data: []byte("insert into applied_log (file) values ('third');\n")},
	"20240101000000_first.sql":  {Data: []byte("-- the log table\ncreate table applied_log (n serial primary key, file text not null);\ninsert into applied_log (file) values ('first');\n")},
	"20240201000000_second.sql": {Data: []byte("insert into applied_log (file) values ('second');\ncreate function twice(x int) returns int language sql as $$ select x * 2; $$;\n")},
	"README.md":                 {Data: []byte("not a migration")},
}

func connect(t *testing.T, db *pgtest.DB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.URL("supabase_admin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func runner(t *testing.T, fsys fstest.MapFS) *migrate.Runner {
	t.Helper()
	r, err := migrate.NewRunner(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestApplyOrderAndHistory(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	r := runner(t, sample)

	applied, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 3 {
		t.Fatalf("applied %d migrations, want 3", len(applied))
	}
	var files []string
	if err := conn.QueryRow(ctx, `select array_agg(file order by n) from applied_log`).Scan(&files); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first", "second", "third"}, files); diff != "" {
		t.Fatalf("application order (-want +got):\n%s", diff)
	}

	// The history table has the Supabase CLI's shape ...
	type column struct{ Name, Type, Nullable string }
	rows, _ := conn.Query(ctx, `select column_name, data_type, is_nullable from information_schema.columns
		where table_schema = 'supabase_migrations' and table_name = 'schema_migrations' order by ordinal_position`)
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []column{{"version", "text", "NO"}, {"statements", "ARRAY", "YES"}, {"name", "text", "YES"}}
	if diff := cmp.Diff(wantCols, cols); diff != "" {
		t.Errorf("history columns (-want +got):\n%s", diff)
	}
	// ... and rows as the CLI writes them: statements split and trimmed.
	type hist struct {
		Version    string
		Name       string
		Statements []string
	}
	rows, _ = conn.Query(ctx, `select version, name, statements from supabase_migrations.schema_migrations order by version`)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[hist])
	if err != nil {
		t.Fatal(err)
	}
	want := []hist{
		{"20240101000000", "first", []string{"-- the log table\ncreate table applied_log (n serial primary key, file text not null)", "insert into applied_log (file) values ('first')"}},
		{"20240201000000", "second", []string{"insert into applied_log (file) values ('second')", "create function twice(x int) returns int language sql as $$ select x * 2; $$"}},
		{"20240301000000", "third", []string{"insert into applied_log (file) values ('third')"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history rows (-want +got):\n%s", diff)
	}

	// Re-running is a no-op.
	again, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil || len(again) != 0 {
		t.Fatalf("re-run applied %d, err %v; want 0, nil", len(again), err)
	}
	var n int
	conn.QueryRow(ctx, `select count(*) from applied_log`).Scan(&n)
	if n != 3 {
		t.Fatalf("log has %d rows after re-run, want 3", n)
	}

	status, err := r.Status(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.State != migrate.StateApplied {
			t.Errorf("status %+v, want applied", s)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	pending, err := runner(t, sample).Apply(ctx, conn, migrate.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 3 || pending[0].Version != "20240101000000" {
		t.Fatalf("dry run listed %+v", pending)
	}
	var exists bool
	conn.QueryRow(ctx, `select to_regclass('public.applied_log') is not null`).Scan(&exists)
	if exists {
		t.Fatal("dry run created a table")
	}
}

func TestConcurrentRunnersApplyEachFileOnce(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	r := runner(t, sample)
	const runners = 4
	var wg sync.WaitGroup
	counts := make([]int, runners)
	errs := make([]error, runners)
	for i := 0; i < runners; i++ {
		conn := connect(t, db)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			applied, err := r.Apply(ctx, conn, migrate.Options{})
			counts[i], errs[i] = len(applied), err
		}(i)
	}
	wg.Wait()
	total := 0
	for i := range counts {
		if errs[i] != nil {
			t.Fatalf("runner %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != 3 {
		t.Fatalf("runners applied %v (total %d), want 3 in all", counts, total)
	}
	var n int
	connect(t, db).QueryRow(ctx, `select count(*) from applied_log`).Scan(&n)
	if n != 3 {
		t.Fatalf("log has %d rows, want 3", n)
	}
}

func TestBrokenMigrationRolledBack(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	fsys := fstest.MapFS{
		"20240101000000_good.sql":   {Data: []byte("create table good (id int);\n")},
		"20240102000000_broken.sql": {Data: []byte("create table half (id int);\n\ninsert into half values (1);\nselect *\n  from half\n  wher id = 1;\n")},
		"20240103000000_later.sql":  {Data: []byte("create table later (id int);\n")},
	}
	applied, err := runner(t, fsys).Apply(ctx, conn, migrate.Options{})
	var me *migrate.Error
	if !errors.As(err, &me) {
		t.Fatalf("want *migrate.Error, got %v", err)
	}
	if me.File != "20240102000000_broken.sql" || me.Index != 3 || me.Line != 6 || me.Col != 8 {
		t.Errorf("error located at %s statement %d line %d col %d; want broken.sql statement 3 line 6 col 8", me.File, me.Index, me.Line, me.Col)
	}
	msg := err.Error()
	for _, want := range []string{"20240102000000_broken.sql", "line 6, column 8", "syntax error", "  wher id = 1\n       ^"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error message lacks %q:\n%s", want, msg)
		}
	}
	if len(applied) != 1 || applied[0].Name != "good" {
		t.Errorf("applied before failure = %+v", applied)
	}
	var good, half, later bool
	conn.QueryRow(ctx, `select to_regclass('public.good') is not null, to_regclass('public.half') is not null, to_regclass('public.later') is not null`).Scan(&good, &half, &later)
	if !good || half || later {
		t.Errorf("tables good=%v half=%v later=%v; want the failed file rolled back whole and nothing after it", good, half, later)
	}
	var versions []string
	conn.QueryRow(ctx, `select array_agg(version order by version) from supabase_migrations.schema_migrations`).Scan(&versions)
	if diff := cmp.Diff([]string{"20240101000000"}, versions); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestUnknownNewerVersionRefused(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	if _, err := runner(t, sample).Apply(ctx, conn, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `insert into supabase_migrations.schema_migrations (version, name, statements) values ('29991231235959', 'from_the_future', '{}')`); err != nil {
		t.Fatal(err)
	}
	withNew := fstest.MapFS{}
	for k, v := range sample {
		withNew[k] = v
	}
	withNew["20240401000000_fourth.sql"] = &fstest.MapFile{Data: []byte("create table fourth (id int);")}
	_, err := runner(t, withNew).Apply(ctx, conn, migrate.Options{})
	var ue *migrate.UnknownVersionsError
	if !errors.As(err, &ue) || len(ue.Versions) != 1 || ue.Versions[0] != "29991231235959" {
		t.Fatalf("want UnknownVersionsError for 29991231235959, got %v", err)
	}
	if !strings.Contains(err.Error(), "upgrade sfp") {
		t.Errorf("message does not say what to do: %v", err)
	}
	var exists bool
	conn.QueryRow(ctx, `select to_regclass('public.fourth') is not null`).Scan(&exists)
	if exists {
		t.Fatal("a pending migration was applied to a database with unknown versions")
	}
	status, _ := runner(t, withNew).Status(ctx, conn)
	last := status[len(status)-1]
	if last.Version != "29991231235959" || last.State != migrate.StateUnknown || last.Name != "from_the_future" {
		t.Errorf("status last row = %+v", last)
	}
}

func TestOutOfOrderPendingRefused(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	if _, err := runner(t, fstest.MapFS{"20240301000000_b.sql": {Data: []byte("select 1;")}}).Apply(ctx, conn, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	_, err := runner(t, fstest.MapFS{
		"20240301000000_b.sql": {Data: []byte("select 1;")},
		"20240101000000_a.sql": {Data: []byte("select 1;")},
	}).Apply(ctx, conn, migrate.Options{})
	var oe *migrate.OutOfOrderError
	if !errors.As(err, &oe) || oe.Pending != "20240101000000" {
		t.Fatalf("want OutOfOrderError, got %v", err)
	}
}

func TestNotifiesSchemaReload(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listener := connect(t, db)
	if _, err := listener.Exec(ctx, "listen pgrst"); err != nil {
		t.Fatal(err)
	}
	if _, err := runner(t, sample).Apply(ctx, connect(t, db), migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != "pgrst" || n.Payload != "reload schema" {
		t.Fatalf("notification %s %q", n.Channel, n.Payload)
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"short version":     {"2024_x.sql": {}},
		"no name":           {"20240101000000.sql": {}},
		"duplicate version": {"20240101000000_a.sql": {}, "20240101000000_b.sql": {}},
	} {
		if _, err := migrate.Load(fsys); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
}

// The tenant schema shipped in the binary applies to a fresh cluster (with the
// platform SQL) and re-applies as a no-op.
func TestEmbeddedMigrationsApplyAndReapply(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	conn := connect(t, db)
	r, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(r.Migrations) {
		t.Fatalf("applied %d of %d", len(applied), len(r.Migrations))
	}
	again, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil || len(again) != 0 {
		t.Fatalf("re-apply: %d applied, err %v", len(again), err)
	}
}

// A runner that dies in the middle of a migration (its connection is cut)
// leaves nothing half-applied: the file was one transaction. The next run
// applies it whole.
func TestCrashMidMigrationLeavesNothingHalfDone(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"20240101000000_first.sql": {Data: []byte("create table first_t (id int);\n")},
		"20240102000000_slow.sql":  {Data: []byte("create table slow_t (id int);\ninsert into slow_t values (1);\nselect pg_sleep(30);\ncreate table after_sleep (id int);\n")},
	}
	victim := connect(t, db)
	var pid int
	if err := victim.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := runner(t, fsys).Apply(ctx, victim, migrate.Options{})
		done <- err
	}()
	admin := connect(t, db)
	// Wait until the slow file is sleeping, then cut the runner's connection.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		admin.QueryRow(ctx, `select exists (select 1 from pg_stat_activity where pid = $1 and wait_event = 'PgSleep')`, pid).Scan(&waiting)
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow migration never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := admin.Exec(ctx, "select pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("the runner did not notice its connection was cut")
	}
	var first, slow bool
	admin.QueryRow(ctx, `select to_regclass('public.first_t') is not null, to_regclass('public.slow_t') is not null`).Scan(&first, &slow)
	if !first || slow {
		t.Fatalf("after the crash: first_t=%v slow_t=%v; want the first file applied and nothing of the second", first, slow)
	}
	var versions []string
	admin.QueryRow(ctx, `select array_agg(version order by version) from supabase_migrations.schema_migrations`).Scan(&versions)
	if len(versions) != 1 || versions[0] != "20240101000000" {
		t.Fatalf("history after the crash: %v", versions)
	}
	// The next run applies the second file whole (without the sleep).
	fsys["20240102000000_slow.sql"] = &fstest.MapFile{Data: []byte("create table slow_t (id int);\ninsert into slow_t values (1);\ncreate table after_sleep (id int);\n")}
	applied, err := runner(t, fsys).Apply(ctx, admin, migrate.Options{})
	if err != nil || len(applied) != 1 {
		t.Fatalf("re-run: %v, %d applied", err, len(applied))
	}
}

// A file goes to the server as one query: a statement that ends in a
// line comment must not swallow the separator (and with it the next
// statement), and the whole file is still one transaction.
func TestFileWithTrailingLineComments(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"20240101000000_comments.sql": {Data: []byte("create table c1 (id int) -- the first\n;\ncreate table c2 (id int); -- the second\ninsert into c2 values (1) -- last, no semicolon\n")},
	}
	conn := connect(t, db)
	if _, err := runner(t, fsys).Apply(ctx, conn, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	var both bool
	if err := conn.QueryRow(ctx, "select to_regclass('public.c1') is not null and to_regclass('public.c2') is not null").Scan(&both); err != nil || !both {
		t.Fatalf("both tables exist: %v, %v", both, err)
	}
	var rows int
	conn.QueryRow(ctx, "select count(*) from c2").Scan(&rows)
	if rows != 1 {
		t.Fatalf("c2 has %d rows, want the inserted one", rows)
	}
}
