package realtimeserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// TestSlowClientIsDisconnected: a client that stops reading fills its
// bounded queue and is disconnected with a reason, while the others
// receive every change.
func TestSlowClientIsDisconnected(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.ClientQueueSize = 64 })
	fast := []<-chan realtime.Event{
		subscribe(t, env.client(t, ""), "fast", realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_open"}),
		subscribe(t, env.client(t, "", realtime.WithProtocolVersion(phoenix.V1)), "fast", realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_open"}),
	}
	slow := env.dialRaw(t, phoenix.V2, env.anon)
	ref := slow.send("realtime:slow", "phx_join", "1", joinPayload("", map[string]any{"event": "INSERT", "schema": "public", "table": "rt_open"}))
	slow.expect(wait, isReply(ref))
	slow.expect(wait, isEvent("realtime:slow", "system"))
	// From here on the slow client reads nothing until the server has
	// dropped it; then it reads what was buffered and the close frame.
	// Rows of 20 kB make the socket buffers fill quickly.
	slowEnd := make(chan error, 1)
	go func() {
		for env.srv.Stats().Connections > len(fast) {
			time.Sleep(5 * time.Millisecond)
		}
		for {
			if _, err := slow.read(wait); err != nil {
				slowEnd <- err
				return
			}
		}
	}()
	const rows = 800
	big := strings.Repeat("x", 20_000)
	// Transactions of 8 rows, each received by the fast clients before
	// the next: a queue of 64 suffices for them, not for a client that
	// reads nothing.
	for i := 1; i <= rows; i += 8 {
		env.exec(`insert into rt_open select g, $2, g from generate_series($1::int, $1::int + 7) g`, i, big)
		for n, events := range fast {
			for j := i; j < i+8; j++ {
				e := nextChange(t, events, wait)
				if id := recordOf(t, e.Record)["id"].(float64); id != float64(j) {
					t.Fatalf("fast client %d: change %d is row %v", n, j, id)
				}
			}
		}
	}
	err := <-slowEnd
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "too slow") {
		t.Fatalf("slow client's connection ended with %v, want close 1008 \"client too slow…\"", err)
	}
}

// TestSlotAdvancesWithoutSubscribers: with nobody listening the slot's
// confirmed position keeps up with the WAL, so the slot holds no WAL back.
func TestSlotAdvancesWithoutSubscribers(t *testing.T) {
	env := newEnv(t)
	for i := 0; i < 20; i++ {
		env.exec(`insert into rt_open select g, 'x', g from generate_series($1::int * 100, $1::int * 100 + 99) g`, i)
		env.exec(`insert into rt_hidden select g, 'y' from generate_series($1::int * 100, $1::int * 100 + 99) g`, i)
	}
	var target string
	if err := env.admin.QueryRow(context.Background(), `select pg_current_wal_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var caughtUp bool
		var confirmed string
		err := env.admin.QueryRow(context.Background(), `select confirmed_flush_lsn >= $2::pg_lsn, confirmed_flush_lsn::text
			from pg_replication_slots where slot_name = $1`, "rt_"+env.db.Name, target).Scan(&caughtUp, &confirmed)
		if err != nil {
			t.Fatal(err)
		}
		if caughtUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot confirmed %s, still behind %s", confirmed, target)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPostgresRestartDuringStream: PostgreSQL is stopped abruptly (as a
// crash) and restarted while 10,000 updates are committed; every connected
// subscriber receives every committed change exactly once, in commit
// order, through row-level security checks.
func TestPostgresRestartDuringStream(t *testing.T) {
	const updates = 10_000
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	db := newTestDB(t, cluster)
	db.Exec(t, fixtureSQL+`
		create table public.rt_seq (id int primary key, owner uuid not null, n int not null);
		alter table public.rt_seq enable row level security;
		create policy rt_seq_owner on public.rt_seq for select to authenticated using (owner = auth.uid());
		grant select on public.rt_seq to authenticated;
		alter publication supabase_realtime add table public.rt_seq;`)
	owner := newID()
	db.Exec(t, `insert into public.rt_seq values (1, $1, 0)`, owner)
	// Outages, not overload: on a busy machine the 10,000 updates may
	// fall further behind than the default bound, which would skip them
	// (overload_test.go tests that).
	env := startEnv(t, db, func(c *Config) { c.MaxDispatchLag = time.Hour })

	var subs []<-chan realtime.Event
	for i := 0; i < 3; i++ {
		c := env.client(t, userToken(owner, 24*time.Hour), realtime.WithDeliveryQueue(updates+100))
		subs = append(subs, subscribe(t, c, "seq", realtime.PostgresChangesFilter{Event: realtime.Update, Table: "rt_seq", Filter: "id=eq.1"}))
	}

	// The writer commits n = 1..10000, retrying through the outage. A
	// commit whose outcome was lost is retried harmlessly: the condition
	// n < k makes the retry a no-op. The database commits synchronously
	// (newTestDB), so every acknowledged commit survives the crash (the
	// test cluster runs with fsync off, which survives a process crash).
	writer := db.Pool(t, "supabase_admin")
	writeErr := make(chan error, 1)
	go func() {
		for k := 1; k <= updates; k++ {
			for attempt := 0; ; attempt++ {
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := writer.Exec(wctx, `update public.rt_seq set n = $1 where id = 1 and n < $1`, k)
				cancel()
				if err == nil {
					break
				}
				if attempt > 600 {
					writeErr <- fmt.Errorf("update %d: %w", k, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		writeErr <- nil
	}()

	// Crash PostgreSQL a third of the way in, then start it again.
	var n int
	for {
		if err := writer.QueryRow(ctx, `select n from public.rt_seq where id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= updates/3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n >= updates {
		t.Fatalf("the writer finished (n = %d) before the crash: nothing was tested", n)
	}
	pid, ok := cluster.Pid()
	if !ok {
		t.Fatal("no postmaster pid")
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil { // immediate shutdown: no checkpoint, crash recovery on start
		t.Fatal(err)
	}
	select {
	case <-cluster.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("PostgreSQL did not stop")
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}

	for i, events := range subs {
		for want := 1; want <= updates; want++ {
			e := nextChange(t, events, 60*time.Second)
			got := int(recordOf(t, e.Record)["n"].(float64))
			if got != want {
				t.Fatalf("subscriber %d: change %d has n = %d, want %d (lost, duplicated or out of order)", i, want, got, want)
			}
		}
		noChange(t, events, 200*time.Millisecond)
	}
}

// TestServerRestartClientsRejoin: when the Realtime server goes away (an
// sfp restart) and comes back on the same address, clients reconnect,
// rejoin their channels and receive changes again.
func TestServerRestartClientsRejoin(t *testing.T) {
	db := newTestDB(t, pgtest.Shared())
	db.Exec(t, fixtureSQL)
	first := startEnv(t, db)
	addr := first.http.Listener.Addr().String()

	statuses := make(chan *realtime.StatusEvent, 16)
	c := first.client(t, "", realtime.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond))
	ch := c.Channel("watch").OnPostgresChanges(realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_open"}, nil).
		OnStatus(func(s *realtime.StatusEvent) { statuses <- s })
	events := ch.Events(64)
	sctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ch.Subscribe(sctx); err != nil {
		t.Fatal(err)
	}
	first.exec(`insert into rt_open values (1, 'before', 1)`)
	nextChange(t, events, wait)

	for len(statuses) > 0 { // the first subscription's status
		<-statuses
	}
	// Stop the server (it closes sockets with a reason), then serve a new
	// one on the same address.
	first.http.Close()
	if err := first.srv.Close(sctx); err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv2, err := New(sctx, Config{Pool: db.Pool(t, "authenticator"), ReplicationConnString: db.URL("supabase_replication_admin"),
		SlotName: "rt_" + db.Name, JWTSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: l, Config: &http.Server{Handler: gatewayMux(srv2)}}
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv2.Close(ctx)
	})

	sawError := false
	for {
		select {
		case s := <-statuses:
			if s.Status == realtime.StatusChannelError {
				sawError = true
			}
			if s.Status != realtime.StatusSubscribed {
				continue
			}
		case <-time.After(wait):
			t.Fatal("the channel was not rejoined")
		}
		break
	}
	if !sawError {
		t.Error("no CHANNEL_ERROR status while the server was away")
	}
	first.exec(`insert into rt_open values (2, 'after', 2)`)
	for {
		e := nextChange(t, events, wait)
		if recordOf(t, e.Record)["id"] == 2.0 {
			break
		}
	}
}

// TestNoGoroutineLeak: 1,000 clients connect, subscribe and disconnect;
// once the server is closed no goroutine of either side remains.
func TestNoGoroutineLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	// As fast as the machine allows: well above the default join rate.
	env := newEnv(t, func(c *Config) { c.Limits.MaxJoinsPerSecond = 1_000_000 })
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, cycles)
	for i := 0; i < cycles; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- leakCycle(env, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := env.srv.Stats().Connections; n > 8 {
		t.Logf("%d connections still closing", n)
	}
}

func leakCycle(env *testEnv, i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []realtime.Option{}
	if i%2 == 1 {
		opts = append(opts, realtime.WithProtocolVersion(phoenix.V1))
	}
	c, err := realtime.New(env.baseURL(), env.anon, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("cycle %d: connect: %w", i, err)
	}
	ch := c.Channel("leak")
	if i%4 == 0 {
		ch.OnPostgresChanges(realtime.PostgresChangesFilter{Table: "rt_open"}, nil)
	}
	events := ch.Events(8)
	if err := ch.Subscribe(ctx); err != nil {
		return fmt.Errorf("cycle %d: subscribe: %w", i, err)
	}
	if i%3 == 0 {
		if err := ch.Unsubscribe(ctx); err != nil {
			return fmt.Errorf("cycle %d: unsubscribe: %w", i, err)
		}
		for range events {
		}
	}
	return c.Close()
}
