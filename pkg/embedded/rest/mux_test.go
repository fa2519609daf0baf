package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// muxSQL adds a read-only function that reports what the request's
// transaction sees (role, claims, headers, method, path, the Prefer
// timezone) and one that fails after setting a local GUC, to look for
// anything leaking from one pipeline into the next on a shared connection.
const muxSQL = `
create function public.probe() returns json language sql stable as $$
  select json_build_object(
    'role', current_user,
    'sub', auth.uid(),
    'probe', current_setting('request.headers', true)::json->>'x-probe',
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'timezone', current_setting('timezone'),
    'leak', current_setting('sfp.leak', true),
    'pid', pg_backend_pid())
$$;
create function public.fail_after_set() returns int language plpgsql stable as $$
begin
  perform set_config('sfp.leak', 'leaked', true);
  raise exception 'probe failure' using errcode = 'P0001';
end $$;
create function public.slow_probe(seconds float8) returns int language plpgsql stable as $$
begin
  perform pg_sleep(seconds);
  return 1;
end $$;
create function public.forget_all() returns int language plpgsql volatile as $$
begin
  execute 'deallocate all';
  return 1;
end $$;
grant execute on function public.probe(), public.fail_after_set(), public.slow_probe(float8), public.forget_all()
  to anon, authenticated;
`

// sharedEnv serves the fixture with reads sharing conns connections of a
// pool of 8.
func sharedEnv(t *testing.T, conns, depth int) *env {
	t.Helper()
	db := newPgDB(t)
	db.Exec(t, librarySQL)
	db.Exec(t, muxSQL)
	pool := authenticatorPool(t, db, 8)
	return startEnv(t, db, func(c *Config) {
		c.Pool = pool
		c.SharedReadConns = conns
		c.SharedReadDepth = depth
	})
}

// get is a request that may run off the test's goroutine: errors are
// returned, not reported.
func (e *env) get(path, token string, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest("GET", e.http.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type probeOut struct {
	Role, Sub, Probe, Method, Path, Timezone string
	Leak                                     *string
	PID                                      int
}

// TestSharedReadsStayApart: hundreds of concurrent reads from different
// users, with different headers and timezones, some failing after setting
// a GUC, on one shared connection: every answer is its own request's, and
// nothing of one transaction is seen by the next.
func TestSharedReadsStayApart(t *testing.T) {
	e := sharedEnv(t, 1, 8)
	users := []string{uidUrsula, uidTerry, uidReader}
	zones := []string{"UTC", "Europe/Amsterdam", "America/New_York"}
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if i%5 == 4 {
				status, body, err := e.get("/rpc/fail_after_set", userJWT(users[i%3]))
				switch {
				case err != nil:
					errs <- err
				case status != 400 || !strings.Contains(string(body), `"P0001"`):
					errs <- fmt.Errorf("failing read %d: %d %s", i, status, body)
				}
				return
			}
			tok, role, sub := userJWT(users[i%3]), "authenticated", users[i%3]
			if i%7 == 0 {
				tok, role, sub = e.anon, "anon", ""
			}
			probe := fmt.Sprintf("req-%d", i)
			zone := zones[i%3]
			status, body, err := e.get("/rpc/probe", tok, "X-Probe", probe, "Prefer", "timezone="+zone)
			if err != nil {
				errs <- err
				return
			}
			var got probeOut
			if status != 200 || json.Unmarshal(body, &got) != nil {
				errs <- fmt.Errorf("read %d: %d %s", i, status, body)
				return
			}
			if got.Role != role || got.Sub != sub || got.Probe != probe || got.Method != "GET" ||
				got.Path != "/rpc/probe" || got.Timezone != zone || (got.Leak != nil && *got.Leak != "") {
				errs <- fmt.Errorf("read %d (%s, %s, %s) saw %s", i, role, probe, zone, body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	shared := e.srv.mux.shared.Load()
	if shared == 0 {
		t.Fatalf("no read ran on the shared connection")
	}
	t.Logf("%d of %d reads ran on the shared connection", shared, n)
	// Writes never share: an insert and its read-back still work.
	e.do("POST", "/authors", userJWT(uidReader), `{"id": 99, "name": "Shared", "user_id": "`+uidReader+`"}`,
		"Prefer", "return=minimal").expect(t, "write", 201, "")
	e.do("GET", "/authors?select=name&id=eq.99", e.anon, "").expect(t, "read back", 200, `[{"name":"Shared"}]`)
}

// TestSharedReadBackendLost: when the shared connection's backend dies
// with reads queued behind a slow one, the slow read gets PostgreSQL's
// error (as on a connection of its own) and the queued reads run again on
// the pool and succeed; later reads open a new shared connection.
func TestSharedReadBackendLost(t *testing.T) {
	old := muxStall
	muxStall = time.Hour // queue behind the slow read however long it runs
	t.Cleanup(func() { muxStall = old })
	e := sharedEnv(t, 1, 8)
	e.do("GET", "/rpc/probe", e.anon, "").expect(t, "warm up", 200, "")

	slow := make(chan *resp, 1)
	go func() {
		status, body, err := e.get("/rpc/slow_probe?seconds=30", e.svc)
		if err != nil {
			body = []byte(err.Error())
		}
		slow <- &resp{status: status, body: body}
	}()
	mux, conn := e.srv.mux, slowReadConn(t, e.srv.mux)
	const queued = 3
	results := make(chan error, queued)
	for i := range queued {
		go func() {
			status, body, err := e.get("/books?select=id&id=eq."+fmt.Sprint(i+1), e.anon)
			if err == nil && (status != 200 || string(body) != fmt.Sprintf(`[{"id":%d}]`, i+1)) {
				err = fmt.Errorf("queued read %d: %d %s", i, status, body)
			}
			results <- err
		}()
	}
	waitUntil(t, "the reads to queue behind it", func() bool { return conn.inFlight.Load() == 1+queued })

	var killed int
	if err := e.db.Admin(t).QueryRow(context.Background(),
		`select count(pg_terminate_backend(pid)) from pg_stat_activity where query like '%slow_probe%' and pid <> pg_backend_pid() and usename = 'authenticator'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the shared backend: %d, %v", killed, err)
	}
	r := <-slow
	r.expectErr(t, "the read whose backend died", 503, "57P01")
	for range queued {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if got := mux.retried.Load(); got != queued {
		t.Errorf("%d reads run again on the pool, want %d", got, queued)
	}
	waitUntil(t, "the dead connection to leave", func() bool {
		mux.mu.Lock()
		defer mux.mu.Unlock()
		return len(mux.conns) == 0 || mux.conns[0] != conn
	})
	before := mux.shared.Load()
	e.do("GET", "/books?select=id&id=eq.2", e.anon, "").expect(t, "after", 200, `[{"id":2}]`)
	if mux.shared.Load() != before+1 {
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
	e := sharedEnv(t, 1, 8)
	slow := make(chan string, 1)
	go func() {
		status, body, err := e.get("/rpc/slow_probe?seconds=0.5", e.anon)
		slow <- fmt.Sprint(status, " ", string(body), err)
	}()
	mux, stalled := e.srv.mux, slowReadConn(t, e.srv.mux)
	waitUntil(t, "the read to stall", func() bool {
		return time.Now().UnixNano()-stalled.headAt.Load() > int64(2*muxStall)
	})
	// The only shared connection is stalled and no other may be opened:
	// the read takes a connection of its own.
	if c := mux.acquire(context.Background()); c != nil {
		mux.done(c)
		t.Fatalf("acquire gave a stalled connection (%d in flight)", c.inFlight.Load())
	}
	e.do("GET", "/books?select=id&id=eq.3", e.anon, "").expect(t, "read beside a stalled one", 200, `[{"id":3}]`)
	if stalled.inFlight.Load() != 1 {
		t.Fatalf("a read queued behind the stalled one")
	}
	if got := <-slow; got != "200 1<nil>" {
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

// TestSharedReadStatementsLost: a function that deallocates the
// connection's prepared statements (called by GET, so in a read-only
// transaction on the shared connection) makes the next read on that shared
// connection fail to bind; that read runs again on the pool, and the
// connection is replaced.
func TestSharedReadStatementsLost(t *testing.T) {
	e := sharedEnv(t, 1, 8)
	e.do("GET", "/books?select=id&id=eq.1", e.anon, "").expect(t, "warm up", 200, `[{"id":1}]`)
	mux := e.srv.mux
	first := mux.conns[0]
	e.do("GET", "/rpc/forget_all", e.anon, "").expect(t, "deallocate", 200, `1`)
	e.do("GET", "/books?select=id&id=eq.2", e.anon, "").expect(t, "after", 200, `[{"id":2}]`)
	if got := mux.retried.Load(); got != 1 {
		t.Fatalf("%d reads run again, want 1", got)
	}
	e.do("GET", "/books?select=id&id=eq.3", e.anon, "").expect(t, "on a new connection", 200, `[{"id":3}]`)
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
	e := sharedEnv(t, 1, 8)
	e.do("GET", "/rpc/probe", e.anon, "").expect(t, "warm up", 200, "")
	mux := e.srv.mux
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
	e.do("GET", "/books?select=id&id=eq.1", e.anon, "").expect(t, "a read after", 200, `[{"id":1}]`)
}

// TestSharedReadDiesWhileOpeningAnother: acquire lets the lock go while it
// opens another shared connection. If that fails (the database is
// restarting) and the connection it had chosen died and was retired
// meanwhile, the read must go to the pool, not onto the retired one.
func TestSharedReadDiesWhileOpeningAnother(t *testing.T) {
	e := sharedEnv(t, 2, 8)
	e.do("GET", "/rpc/probe", e.anon, "").expect(t, "warm up", 200, "")
	mux := e.srv.mux
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
