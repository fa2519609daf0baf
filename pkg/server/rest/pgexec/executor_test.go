package pgexec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// The executor needs roles, not the tenant's schema.
func TestMain(m *testing.M) { pgtest.MainWith(m, pgtest.Options{SkipMigrations: true}) }

// testSQL: a table to write, a slow read, and a read that deallocates the
// connection's prepared statements (as a function a client may call).
const testSQL = `
create table public.items (id int primary key);
create function public.slow_read(seconds float8) returns int language plpgsql stable as $$
begin
  perform pg_sleep(seconds);
  return 1;
end $$;
create function public.forget_all() returns int language plpgsql volatile as $$
begin
  execute 'deallocate all';
  return 1;
end $$;
grant all on public.items to authenticator;
grant execute on function public.slow_read(float8), public.forget_all() to authenticator;
`

// readSetup and writeSetup stand for the REST server's settings statement.
var (
	readSetup  = Statement{SQL: "select set_config('transaction_read_only', 'on', true)"}
	writeSetup = Statement{SQL: "select set_config('application_name', 'pgexec test', true)"}
)

// newDB gives a test its own database with testSQL.
func newDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t)
	db.Exec(t, testSQL)
	return db
}

// newPool is a pool of at most maxConns connections as authenticator,
// without the role's statement timeout (8 s, as on Supabase): on a loaded
// machine the slow reads these tests hold open may outlast it.
func newPool(t *testing.T, db *pgtest.DB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL("authenticator"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "0"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// sharedExecutor is an executor on a pool of 8 whose reads share conns
// connections, depth reads deep.
func sharedExecutor(t *testing.T, conns, depth int) (*Executor, *pgtest.DB) {
	t.Helper()
	db := newDB(t)
	ex := New(newPool(t, db, 8), Options{SharedConns: conns, SharedDepth: depth})
	t.Cleanup(ex.Close)
	return ex, db
}

// read runs sql (returning one row) read-only and returns its first value.
func read(ex *Executor, sql string, params ...string) (string, error) {
	var ps [][]byte
	for _, p := range params {
		ps = append(ps, []byte(p))
	}
	res, err := ex.Execute(context.Background(), Spec{ReadOnly: true, Setup: readSetup, Main: Statement{SQL: sql, Params: ps}})
	if err != nil {
		return "", err
	}
	return string(res.Row[0]), nil
}

func mustRead(t *testing.T, ex *Executor, want string, sql string, params ...string) {
	t.Helper()
	got, err := read(ex, sql, params...)
	if err != nil || got != want {
		t.Fatalf("%s %v: %q, %v; want %q", sql, params, got, err, want)
	}
}

// TestExecute: a read returns its row (NULL as nil) and the count plan; a
// write commits, or rolls back on Rollback or a failed Check; a statement
// that does not return exactly one row is an error.
func TestExecute(t *testing.T) {
	db := newDB(t)
	ex := New(newPool(t, db, 2), Options{})
	ctx := context.Background()

	res, err := ex.Execute(ctx, Spec{ReadOnly: true, Setup: readSetup,
		CountPlan: &Statement{SQL: "explain (format json) select 1 from public.items"},
		Main:      Statement{SQL: "select $1::text, null::text, ''::text, current_setting('transaction_read_only')", Params: [][]byte{[]byte("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Row) != 4 || string(res.Row[0]) != "a" || res.Row[1] != nil || res.Row[2] == nil || len(res.Row[2]) != 0 || string(res.Row[3]) != "on" {
		t.Fatalf("row %q", res.Row)
	}
	if !strings.Contains(string(res.CountPlan), `"Plan Rows"`) {
		t.Fatalf("count plan %s", res.CountPlan)
	}
	// PreRequest runs after Setup, before Main, in the same transaction.
	res, err = ex.Execute(ctx, Spec{ReadOnly: true, Setup: readSetup,
		PreRequest: &Statement{SQL: "select set_config('sfp.pre', current_setting('transaction_read_only'), true)"},
		Main:       Statement{SQL: "select current_setting('sfp.pre', true)"}})
	if err != nil || len(res.Row) != 1 || string(res.Row[0]) != "on" {
		t.Fatalf("pre-request: %q %v", res.Row, err)
	}
	if _, err := ex.Execute(ctx, Spec{ReadOnly: true, Setup: readSetup,
		PreRequest: &Statement{SQL: "select 1/0"}, Main: Statement{SQL: "select 1"}}); err == nil {
		t.Fatal("a failing pre-request: no error")
	}

	insert := func(id string, rollback bool, check func(*Result) error) error {
		_, err := ex.Execute(ctx, Spec{Setup: writeSetup, Rollback: rollback, Check: check,
			Main: Statement{SQL: "with w as (insert into public.items values ($1::int) returning 1) select count(*) from w", Params: [][]byte{[]byte(id)}}})
		return err
	}
	if err := insert("1", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := insert("2", true, nil); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	var checked string
	if err := insert("3", false, func(r *Result) error { checked = string(r.Row[0]); return refused }); err != refused {
		t.Fatalf("failed check: %v, want it as is", err)
	}
	if checked != "1" {
		t.Fatalf("check saw %q", checked)
	}
	var pe *pgconn.PgError
	if err := insert("1", false, nil); !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("duplicate: %v", err)
	}
	mustRead(t, ex, "{1}", "select array_agg(id order by id)::text from public.items")

	if _, err := read(ex, "select 1 from generate_series(1, 2)"); err == nil {
		t.Fatal("two rows: no error")
	}
	if _, err := read(ex, "insert into public.items values (9) returning 1"); !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("write in a read: %v", err)
	}
	mustRead(t, ex, "1", "select 1")
}

// preparedStatements lists this package's statements prepared on the
// pool's only connection.
func preparedStatements(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	return pgtest.Strings(t, pool, `select statement from pg_prepared_statements where name like 'sfp\_rest\_%' order by statement`)
}

// TestStatementsEvicted: beyond maxStatements the least recently used
// statement is closed on the server, and statements keep working.
func TestStatementsEvicted(t *testing.T) {
	old := maxStatements
	maxStatements = 3
	t.Cleanup(func() { maxStatements = old })
	pool := newPool(t, newDB(t), 1)
	ex := New(pool, Options{})
	for round := 0; round < 2; round++ {
		for _, v := range []string{"a", "b", "c", "d", "e"} {
			mustRead(t, ex, v, "select '"+v+"'::text")
		}
	}
	got := preparedStatements(t, pool)
	if len(got) > 3 {
		t.Fatalf("%d statements prepared, want at most 3:\n%s", len(got), strings.Join(got, "\n"))
	}
	// The setup (used by every transaction) survives; the latest shape is there.
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "'e'") || !strings.Contains(all, "transaction_read_only") {
		t.Fatalf("setup or latest shape not prepared:\n%s", all)
	}
}

// TestStatementsLostOnServer: when something else deallocates the
// connection's statements, the transaction prepares them again instead of
// failing (reads and writes), and a write runs once.
func TestStatementsLostOnServer(t *testing.T) {
	pool := newPool(t, newDB(t), 1)
	ex := New(pool, Options{})
	ctx := context.Background()
	write := func(id string) {
		t.Helper()
		if _, err := ex.Execute(ctx, Spec{Setup: writeSetup,
			Main: Statement{SQL: "with w as (insert into public.items values ($1::int) returning 1) select count(*) from w", Params: [][]byte{[]byte(id)}}}); err != nil {
			t.Fatal(err)
		}
	}
	mustRead(t, ex, "1", "select 1")
	write("1")
	for _, step := range []func(){func() { mustRead(t, ex, "1", "select 1") }, func() { write("2") }} {
		if _, err := pool.Exec(ctx, "deallocate all"); err != nil {
			t.Fatal(err)
		}
		step()
	}
	mustRead(t, ex, "{1,2}", "select array_agg(id order by id)::text from public.items")
}

// TestSharedReadBackendLost: when the shared connection's backend dies
// with reads queued behind a slow one, the slow read gets PostgreSQL's
// error (as on a connection of its own) and the queued reads run again on
// the pool and succeed; later reads open a new shared connection.
func TestSharedReadBackendLost(t *testing.T) {
	old := muxStall
	muxStall = time.Hour // queue behind the slow read however long it runs
	t.Cleanup(func() { muxStall = old })
	ex, db := sharedExecutor(t, 1, 8)
	mustRead(t, ex, "1", "select 1")

	slow := make(chan error, 1)
	go func() {
		_, err := read(ex, "select public.slow_read(30)")
		slow <- err
	}()
	mux, conn := ex.mux, slowReadConn(t, ex.mux)
	// The read may be in flight for its statement's preparation still; the
	// reads below queue behind it only once it sleeps in PostgreSQL (before
	// that, on a busy machine, they could slip in ahead of it and finish).
	waitUntil(t, "the slow read to sleep", func() bool {
		var n int
		err := db.Admin(t).QueryRow(context.Background(),
			`select count(*) from pg_stat_activity where query like '%slow_read(30)%' and wait_event = 'PgSleep' and pid <> pg_backend_pid()`).Scan(&n)
		return err == nil && n == 1
	})
	const queued = 3
	results := make(chan error, queued)
	for i := range queued {
		go func() {
			got, err := read(ex, "select $1::int", fmt.Sprint(i+1))
			if err == nil && got != fmt.Sprint(i+1) {
				err = fmt.Errorf("queued read %d: %s", i, got)
			}
			results <- err
		}()
	}
	waitUntil(t, "the reads to queue behind it", func() bool { return conn.inFlight.Load() == 1+queued })

	var killed int
	if err := db.Admin(t).QueryRow(context.Background(),
		`select count(pg_terminate_backend(pid)) from pg_stat_activity where query like '%slow_read%' and pid <> pg_backend_pid() and usename = 'authenticator'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the shared backend: %d, %v", killed, err)
	}
	var pe *pgconn.PgError
	if err := <-slow; !errors.As(err, &pe) || pe.Code != "57P01" {
		t.Fatalf("the read whose backend died: %v, want 57P01", err)
	}
	for range queued {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if got := ex.Stats().RetriedReads; got != queued {
		t.Errorf("%d reads run again on the pool, want %d", got, queued)
	}
	waitUntil(t, "the dead connection to leave", func() bool {
		mux.mu.Lock()
		defer mux.mu.Unlock()
		return len(mux.conns) == 0 || mux.conns[0] != conn
	})
	before := ex.Stats().SharedReads
	mustRead(t, ex, "2", "select 2")
	if ex.Stats().SharedReads != before+1 {
		t.Errorf("the next read did not run on a new shared connection")
	}
}

// TestSharedReadStalled: a connection whose oldest read has run longer
// than muxStall takes no more reads; they go to another shared connection
// or the pool.
func TestSharedReadStalled(t *testing.T) {
	old := muxStall
	muxStall = 50 * time.Millisecond
	t.Cleanup(func() { muxStall = old })
	ex, _ := sharedExecutor(t, 1, 8)
	slow := make(chan string, 1)
	go func() {
		got, err := read(ex, "select public.slow_read(0.5)")
		slow <- fmt.Sprint(got, err)
	}()
	mux, stalled := ex.mux, slowReadConn(t, ex.mux)
	waitUntil(t, "the read to stall", func() bool {
		return time.Now().UnixNano()-stalled.headAt.Load() > int64(2*muxStall)
	})
	// The only shared connection is stalled and no other may be opened:
	// the read takes a connection of its own.
	if c := mux.acquire(context.Background()); c != nil {
		mux.done(c)
		t.Fatalf("acquire gave a stalled connection (%d in flight)", c.inFlight.Load())
	}
	mustRead(t, ex, "3", "select 3")
	if stalled.inFlight.Load() != 1 {
		t.Fatalf("a read queued behind the stalled one")
	}
	if got := <-slow; got != "1<nil>" {
		t.Fatalf("slow read: %s", got)
	}
}

// slowReadConn waits for the only shared connection to carry one read
// (the test's slow one) and returns it.
func slowReadConn(t *testing.T, mux *readMux) *muxConn {
	t.Helper()
	var c *muxConn
	waitUntil(t, "the slow read to be in flight", func() bool {
		mux.mu.Lock()
		defer mux.mu.Unlock()
		if len(mux.conns) == 1 && mux.conns[0].inFlight.Load() == 1 {
			c = mux.conns[0]
		}
		return c != nil
	})
	return c
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSharedReadStatementsLost: a read that deallocates the connection's
// prepared statements (a function a client may call, in a read-only
// transaction on the shared connection) makes the next read on that shared
// connection fail to bind; that read runs again on the pool, and the
// connection is replaced.
func TestSharedReadStatementsLost(t *testing.T) {
	ex, _ := sharedExecutor(t, 1, 8)
	mustRead(t, ex, "1", "select 1")
	mux := ex.mux
	first := mux.conns[0]
	mustRead(t, ex, "1", "select public.forget_all()")
	mustRead(t, ex, "2", "select 2")
	if got := ex.Stats().RetriedReads; got != 1 {
		t.Fatalf("%d reads run again, want 1", got)
	}
	mustRead(t, ex, "3", "select 3")
	mux.mu.Lock()
	defer mux.mu.Unlock()
	if len(mux.conns) != 1 || mux.conns[0] == first {
		t.Fatalf("the connection that lost its statements is still shared")
	}
}

// TestSharedReadDiesWhileTaken: a read may take a shared connection an
// instant before the read on it finds it dead (acquire checked it alive,
// then counted itself). The dying read's done must not retire it from
// under the read that took it: that one finds it dead, runs on the pool,
// and retires it. This replays that interleaving step by step.
func TestSharedReadDiesWhileTaken(t *testing.T) {
	ex, _ := sharedExecutor(t, 1, 8)
	mustRead(t, ex, "1", "select 1")
	mux := ex.mux
	c := mux.acquire(context.Background()) // the read that will find it dead
	if c == nil {
		t.Fatal("no shared connection")
	}
	c.dead.Store(true)

	mux.mu.Lock() // a second read is inside acquire, past the dead check
	finished := make(chan struct{})
	go func() { mux.done(c); close(finished) }()
	waitUntil(t, "the first read's done to count itself out", func() bool { return c.inFlight.Load() == 0 })
	c.inFlight.Add(1) // the second read counts itself in, under mux.mu
	mux.mu.Unlock()
	<-finished

	// The second read runs on it: it must find it dead, not released.
	var p pipeline
	p.add("select 1", nil, nil)
	if err := c.run(&p); err != errMuxDead {
		t.Fatalf("run on a connection found dead: %v, want errMuxDead", err)
	}
	mux.done(c)
	mux.mu.Lock()
	left := len(mux.conns)
	mux.mu.Unlock()
	if left != 0 {
		t.Error("the dead connection is still shared")
	}
	mustRead(t, ex, "1", "select 1")
}

// TestSharedReadDiesWhileOpeningAnother: acquire lets the lock go while it
// opens another shared connection. If that fails (the database is
// restarting) and the connection it had chosen died and was retired
// meanwhile, the read must go to the pool, not onto the retired one.
func TestSharedReadDiesWhileOpeningAnother(t *testing.T) {
	ex, _ := sharedExecutor(t, 2, 8)
	mustRead(t, ex, "1", "select 1")
	mux := ex.mux
	c := mux.acquire(context.Background()) // one read in flight on the only shared connection
	if c == nil {
		t.Fatal("no shared connection")
	}
	// Hold every other pool connection, so opening another shared one
	// waits until its context ends.
	var held []*pgxpool.Conn
	for range int(mux.pool.Config().MaxConns) - 1 {
		pc, err := mux.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, pc)
	}
	defer func() {
		for _, pc := range held {
			pc.Release()
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan *muxConn, 1)
	go func() { got <- mux.acquire(ctx) }() // prefers opening a second connection to queueing
	waitUntil(t, "the second read to open a connection", func() bool {
		mux.mu.Lock()
		defer mux.mu.Unlock()
		return mux.opening == 1
	})
	c.dead.Store(true) // the first read finds it dead, and is done with it
	mux.done(c)
	cancel() // opening fails
	if mc := <-got; mc != nil {
		t.Fatalf("acquire returned a shared connection (retired: %v); want none, so the read uses the pool", mc == c)
	}
}

// TestSharedReadsShareWrites: reads that arrive while a write is under
// way on their shared connection go out together with one write after it,
// each still answered with its own row. The write under way is played by
// the test: it holds the connection's flushing flag while three reads
// queue, then flushes.
func TestSharedReadsShareWrites(t *testing.T) {
	ex, _ := sharedExecutor(t, 1, 8)
	mustRead(t, ex, "1", "select 1")
	c := ex.mux.conns[0]
	c.wmu.Lock()
	c.flushing = true
	c.wmu.Unlock()
	before := ex.Stats().SharedWrites

	const n = 3
	errs := make(chan error, n)
	for i := range n {
		go func() {
			want := strconv.Itoa(10 + i)
			got, err := read(ex, "select $1::int", want)
			if err == nil && got != want {
				err = fmt.Errorf("read %s answered %s", want, got)
			}
			errs <- err
		}()
	}
	waitUntil(t, "three reads to queue", func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return len(c.queue) == n
	})
	c.flush(c.conn.Conn().PgConn(), false)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := ex.Stats().SharedWrites - before; got != 1 {
		t.Fatalf("%d writes sent the three reads, want 1", got)
	}
	mustRead(t, ex, "4", "select 4") // the connection writes again
	if got := ex.Stats().SharedWrites - before; got != 2 {
		t.Fatalf("%d writes after one more read, want 2", got)
	}
}
