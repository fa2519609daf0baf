package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/logtest"
	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The fault tests run a tenant in the test process with the runtime's own
// foreground Start (Boot, the supervisor, run/state.json), kill its
// PostgreSQL or one of its backends with SIGKILL while clients work
// through the gateway, and check what the clients saw and what the
// database holds.

// runningTenant is a tenant started in this process.
type runningTenant struct {
	base    string
	t       *tenant.Tenant
	rt      *embedded.Runtime
	url     string
	cluster *postgres.Cluster // reads the postmaster's pid; does not start anything
	stop    context.CancelFunc
	exited  chan error // Start's result
	logs    *logtest.Buffer
}

// startTenant creates a tenant on ports the kernel hands out and starts it
// in the foreground in a goroutine; it is stopped at the end of the test.
func startTenant(tb *testing.T, configure func(*tenant.Config)) *runningTenant {
	tb.Helper()
	base := sfptest.BaseDir(tb)
	ports, err := pgtest.FreePorts(3)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := tenant.Create(base, tenant.CreateOptions{Name: "fault", APIPort: ports[0], PostgresPort: ports[1], MonitoringPort: ports[2]})
	if err != nil {
		tb.Fatal(err)
	}
	t.Config.Auth.Autoconfirm = true
	if configure != nil {
		configure(&t.Config)
	}
	if err := t.SaveConfig(); err != nil {
		tb.Fatal(err)
	}
	logs := &logtest.Buffer{}
	rt := embedded.New(embedded.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	rtn := &runningTenant{base: base, t: t, rt: rt, stop: cancel, exited: make(chan error, 1), logs: logs}
	ready := make(chan runtime.Info, 1)
	go func() {
		rtn.exited <- rt.Start(ctx, t, runtime.StartOptions{Ready: func(i runtime.Info) { ready <- i }})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-rtn.exited:
		case <-time.After(2 * time.Minute):
			tb.Error("the tenant did not stop within 2 minutes")
		}
		if tb.Failed() {
			tb.Logf("sfp log:\n%s", logs.String())
			if b, err := os.ReadFile(t.PostgresLog()); err == nil {
				tb.Logf("postgres log (last 8 KiB):\n%s", b[max(0, len(b)-8<<10):])
			}
		}
	})
	select {
	case info := <-ready:
		rtn.url = info.URL
	case err := <-rtn.exited:
		tb.Fatalf("start: %v\n%s", err, logs.String())
	case <-time.After(4 * time.Minute):
		tb.Fatalf("not ready after 4 minutes\n%s", logs.String())
	}
	rtn.cluster, err = postgres.New(context.Background(), postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port, LogFile: t.PostgresLog()})
	if err != nil {
		tb.Fatal(err)
	}
	return rtn
}

// waitExit waits for the tenant to stop by itself, after what, and returns
// Start's result (and leaves it for the cleanup).
func (r *runningTenant) waitExit(tb *testing.T, after string) error {
	tb.Helper()
	select {
	case err := <-r.exited:
		r.exited <- err
		return err
	case <-time.After(3 * time.Minute):
		tb.Fatalf("the tenant still runs after %s", after)
		return nil
	}
}

// status is what `sfp server status` reports.
func (r *runningTenant) status(tb *testing.T) *runtime.Status {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := r.rt.Status(ctx, r.t)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// admin connects to the tenant database as supabase_admin.
func (r *runningTenant) admin(tb *testing.T) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.cluster.ConnString("supabase_admin", r.t.Secrets.PostgresPassword, "postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// killPostmaster sends the postmaster SIGKILL and returns when it is gone.
func (r *runningTenant) killPostmaster(tb *testing.T) {
	tb.Helper()
	pid, ok := r.cluster.Pid()
	if !ok {
		tb.Fatal("no postmaster running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	waitExited(tb, pid)
}

// until polls cond every 50ms until it holds; what is waited for is
// named in the failure. The bound is generous: a loaded CI machine is slow,
// and only a hang should fail.
func until(tb *testing.T, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiClient sends requests through the gateway and keeps a record of
// every answer, so the test can say what clients saw during a fault.
type apiClient struct {
	url, apikey string
	http        *http.Client

	mu        sync.Mutex
	answers   map[string]int // "rest 201", "auth 503", …
	wrong     []string       // answers a client must never see
	lastOKAt  atomic.Int64   // unix ns of the latest 2xx
	firstOK   []time.Time    // per mark: the first 2xx after it
	markAt    []time.Time
	unavailed atomic.Int64 // 503s seen
}

func newAPIClient(url, apikey string) *apiClient {
	return &apiClient{url: url, apikey: apikey, answers: map[string]int{},
		http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// mark starts a measurement: the first 2xx after it is remembered.
func (c *apiClient) mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markAt = append(c.markAt, time.Now())
	c.firstOK = append(c.firstOK, time.Time{})
}

// do sends one request as bearer and returns the status and body (0 when
// no answer came). Every answer is recorded: a 2xx, or a 503 that
// carries Retry-After and the service's error shape, is what a client may
// see while the database is down; anything else is wrong.
func (c *apiClient) do(service, method, path, bearer string, body any, headers ...string) (int, []byte) {
	req, err := stacktest.NewRequest(method, c.url+path, c.apikey, bearer, body, headers...)
	if err != nil {
		c.record(service, 0, fmt.Sprintf("%s %s %s: %v", service, method, path, err))
		return 0, nil
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.record(service, 0, fmt.Sprintf("%s %s %s: %v", service, method, path, err))
		return 0, nil
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var problem string
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == http.StatusServiceUnavailable:
		c.unavailed.Add(1)
		problem = unavailableProblem(service, resp, raw)
	default:
		problem = "unexpected status"
	}
	if problem != "" {
		problem = fmt.Sprintf("%s %s %s: %s: %d %s %s", service, method, path, problem, resp.StatusCode, resp.Header, raw)
	}
	c.record(service, resp.StatusCode, problem)
	return resp.StatusCode, raw
}

// unavailableProblem checks a 503: Retry-After, and PostgREST's or
// GoTrue's error shape.
func unavailableProblem(service string, resp *http.Response, raw []byte) string {
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		return "503 without Retry-After"
	}
	var body map[string]any
	if json.Unmarshal(raw, &body) != nil {
		return "503 body is not JSON"
	}
	switch service {
	case "rest":
		// PGRST000 when no connection could be had, else the SQLSTATE of
		// the server's refusal (57P01 shutdown, 57P02 crash of another
		// backend, 57P03 recovery, 08xxx, 53300).
		code, _ := body["code"].(string)
		_, hasDetails := body["details"]
		_, hasHint := body["hint"]
		if body["message"] == nil || !hasDetails || !hasHint {
			return "503 body is not shaped like PostgREST's"
		}
		if code != "PGRST000" && !slices.Contains([]string{"57P01", "57P02", "57P03", "53300"}, code) && !strings.HasPrefix(code, "08") {
			return "503 with a code that is not about the connection"
		}
	case "auth":
		if resp.Header.Get("X-Sb-Error-Code") == "" || body["error_code"] == nil || body["msg"] == nil || body["code"] != float64(503) {
			return "503 body is not GoTrue's"
		}
	}
	return ""
}

func (c *apiClient) record(service string, status int, problem string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers[service+" "+strconv.Itoa(status)]++
	if problem != "" && len(c.wrong) < 20 {
		c.wrong = append(c.wrong, problem)
	}
	if status >= 200 && status < 300 {
		c.lastOKAt.Store(now.UnixNano())
		for i, at := range c.markAt {
			if c.firstOK[i].IsZero() && now.After(at) {
				c.firstOK[i] = now
			}
		}
	}
}

// okSince reports whether a 2xx came after the latest mark.
func (c *apiClient) okSince() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.firstOK) > 0 && !c.firstOK[len(c.firstOK)-1].IsZero()
}

func (c *apiClient) checkAnswers(tb *testing.T) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tb.Logf("answers seen: %v", c.answers)
	for _, w := range c.wrong {
		tb.Errorf("a client saw: %s", w)
	}
}

// fixture is a user with an account and a task whose events the writers
// append to and the subscribers watch.
type fixture struct {
	token, account, task string
}

func newFixture(tb *testing.T, r *runningTenant, c *apiClient) fixture {
	tb.Helper()
	must := func(want int, service, method, path, bearer string, body any, headers ...string) []byte {
		tb.Helper()
		code, raw := c.do(service, method, path, bearer, body, headers...)
		if code != want {
			tb.Fatalf("%s %s: %d %s", method, path, code, raw)
		}
		return raw
	}
	service := r.t.Secrets.ServiceRoleKey
	must(200, "auth", http.MethodPost, "/auth/v1/admin/users", service,
		map[string]any{"email": "owner@fault.test", "password": "owner-password-1", "email_confirm": true})
	var session struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(must(200, "auth", http.MethodPost, "/auth/v1/token?grant_type=password", r.t.Secrets.AnonKey,
		map[string]any{"email": "owner@fault.test", "password": "owner-password-1"}), &session)
	var f fixture
	f.token = session.AccessToken
	json.Unmarshal(must(200, "rest", http.MethodPost, "/rest/v1/rpc/create_account", f.token,
		map[string]any{"name": "Fault", "slug": "fault"}), &f.account)
	var tasks []struct{ ID string }
	json.Unmarshal(must(201, "rest", http.MethodPost, "/rest/v1/task_executions?select=id", f.token, map[string]any{
		"account_id": f.account, "resource_type": "deployment", "resource_id": "3f2b6a7e-1111-4222-8333-444455556666", "kind": "deploy",
	}, "Prefer", "return=representation"), &tasks)
	if len(tasks) != 1 || f.account == "" || f.token == "" {
		tb.Fatalf("fixture: %+v %+v", f, tasks)
	}
	f.task = tasks[0].ID
	return f
}

// subscriber is a realtime client watching the fixture task's events.
type subscriber struct {
	mu  sync.Mutex
	ids []int64
	bad []string
}

func (s *subscriber) received() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func subscribe(tb *testing.T, ctx context.Context, r *runningTenant, f fixture, name string) *subscriber {
	tb.Helper()
	c, err := realtime.New(r.url, r.t.Secrets.AnonKey, realtime.WithAccessToken(func(context.Context) (string, error) { return f.token, nil }))
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	s := &subscriber{}
	ch := c.Channel(name).OnPostgresChanges(realtime.PostgresChangesFilter{
		Event: realtime.Insert, Schema: "public", Table: "task_events", Filter: "task_id=eq." + f.task,
	}, func(e *realtime.PostgresChangeEvent) {
		var rec struct {
			ID    int64  `json:"id"`
			Event string `json:"event"`
		}
		err := json.Unmarshal(e.Record, &rec)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err != nil || len(e.Errors) > 0:
			s.bad = append(s.bad, fmt.Sprintf("%s %v", e.Record, e.Errors))
		case rec.Event == "log":
			s.ids = append(s.ids, rec.ID)
		}
	})
	if err := ch.Subscribe(ctx); err != nil {
		tb.Fatalf("subscribe: %v", err)
	}
	return s
}

// commitOrder reads, from a logical replication slot the test created
// before the writes, the ids of the task's "log" events in the order their
// transactions committed: what every subscriber must have received, in
// that order.
func commitOrder(tb *testing.T, conn *pgx.Conn, slot, task string) []int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, `select data from pg_catalog.pg_logical_slot_peek_binary_changes($1, null, null,
		'proto_version', '1', 'publication_names', 'supabase_realtime')`, slot)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	rels := map[uint32]*pglogrepl.RelationMessage{}
	var ids []int64
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			tb.Fatal(err)
		}
		msg, err := pglogrepl.Parse(data)
		if err != nil {
			tb.Fatal(err)
		}
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			rels[m.RelationID] = m
		case *pglogrepl.InsertMessage:
			rel := rels[m.RelationID]
			if rel == nil || rel.RelationName != "task_events" {
				continue
			}
			vals := map[string]string{}
			for i, col := range m.Tuple.Columns {
				vals[rel.Columns[i].Name] = string(col.Data)
			}
			if vals["task_id"] != task || vals["event"] != "log" {
				continue
			}
			id, err := strconv.ParseInt(vals["id"], 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// The headline fault test: writers append task events through REST,
// readers read through REST and auth, and realtime subscribers watch the
// events, while the postmaster is killed with SIGKILL twice. The
// supervisor restarts it each time; meanwhile clients get 503 with
// Retry-After, never a 500; every acknowledged write is in the database;
// every subscriber receives every committed event exactly once, in commit
// order; status counts two restarts and shows the last crash.
func TestPostmasterKilledTwice(t *testing.T) {
	r := startTenant(t, nil)
	api := newAPIClient(r.url, r.t.Secrets.AnonKey)
	f := newFixture(t, r, api)
	admin := r.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const slot = "fault_test_commit_order"
	if _, err := admin.Exec(ctx, `select pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`, slot); err != nil {
		t.Fatal(err)
	}
	subs := []*subscriber{subscribe(t, ctx, r, f, "watch-a"), subscribe(t, ctx, r, f, "watch-b"), subscribe(t, ctx, r, f, "watch-c")}

	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		ackMu   sync.Mutex
		acked   []int64
		sentAt  []time.Time // of each acknowledged write
		ackedAt []time.Time
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				sent := time.Now()
				code, raw := api.do("rest", http.MethodPost, "/rest/v1/task_events?select=id", f.token, map[string]any{
					"account_id": f.account, "task_id": f.task, "event": "log", "data": map[string]int{"writer": w, "seq": i},
				}, "Prefer", "return=representation")
				if code == http.StatusCreated {
					var rows []struct{ ID int64 }
					if json.Unmarshal(raw, &rows) == nil && len(rows) == 1 {
						ackMu.Lock()
						acked = append(acked, rows[0].ID)
						sentAt = append(sentAt, sent)
						ackedAt = append(ackedAt, time.Now())
						ackMu.Unlock()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	readers := []func(){
		func() {
			api.do("rest", http.MethodGet, "/rest/v1/task_events?select=id&task_id=eq."+f.task+"&order=id.desc&limit=1", f.token, nil)
		},
		func() { api.do("auth", http.MethodGet, "/auth/v1/user", f.token, nil) },
	}
	for _, read := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				read()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	ackCount := func() int {
		ackMu.Lock()
		defer ackMu.Unlock()
		return len(acked)
	}

	var recovery []time.Duration
	for kill := 1; kill <= 2; kill++ {
		before := ackCount()
		until(t, "writes before the kill", func() bool { return ackCount() >= before+20 })
		r.killPostmaster(t)
		// Recovery is measured from the postmaster's death to the first
		// acknowledgement of a write sent after it.
		killedAt := time.Now()
		until(t, fmt.Sprintf("restart %d in status", kill), func() bool { return r.status(t).PostgresRestarts == kill })
		until(t, "a write sent after the kill to be acknowledged", func() bool {
			ackMu.Lock()
			defer ackMu.Unlock()
			for i, at := range sentAt {
				if at.After(killedAt) {
					recovery = append(recovery, ackedAt[i].Sub(killedAt))
					return true
				}
			}
			return false
		})
	}
	after := ackCount()
	until(t, "writes after the second restart", func() bool { return ackCount() >= after+20 })
	stop.Store(true)
	wg.Wait()

	// The database is the truth about what committed: acknowledged writes
	// certainly, a write answered 503 perhaps. (The first admin connection
	// died with the server.)
	admin = r.admin(t)
	var committed []int64
	rows, err := admin.Query(ctx, `select id from public.task_events where task_id = $1 and event = 'log' order by id`, f.task)
	if err != nil {
		t.Fatal(err)
	}
	committed, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if _, found := slices.BinarySearch(committed, id); !found {
			t.Errorf("write %d was acknowledged but is not in the database", id)
		}
	}
	order := commitOrder(t, admin, slot, f.task)
	if sorted := slices.Sorted(slices.Values(order)); !slices.Equal(sorted, committed) {
		t.Fatalf("the replication slot shows %d events, the table holds %d", len(order), len(committed))
	}
	for i, s := range subs {
		until(t, fmt.Sprintf("subscriber %d to receive %d events", i, len(order)), func() bool { return len(s.received()) >= len(order) })
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	for i, s := range subs {
		got := s.received()
		if !slices.Equal(got, order) {
			t.Errorf("subscriber %d received %d events, %d committed; first difference at %d", i, len(got), len(order), firstDifference(got, order))
		}
		if len(s.bad) > 0 {
			t.Errorf("subscriber %d got events with errors: %v", i, s.bad)
		}
	}
	api.checkAnswers(t)
	if api.unavailed.Load() == 0 {
		t.Error("no request was answered 503 while PostgreSQL was down")
	}

	st := r.status(t)
	if st.PostgresRestarts != 2 || st.LastPostgresCrash == nil || !strings.Contains(st.LastPostgresCrash.Error, "killed") {
		t.Errorf("status: restarts %d, last crash %+v", st.PostgresRestarts, st.LastPostgresCrash)
	}
	if !st.Running || component(*st, "postgres").State != runtime.StateUp {
		t.Errorf("status after the restarts: %+v", st)
	}
	// The CLI shows the same, in JSON and to people.
	js := sfptest.MustRun(t, r.base, nil, "server", "status", "-t", "fault", "--json").Stdout
	if !strings.Contains(js, `"postgres_restarts": 2`) || !strings.Contains(js, `"last_postgres_crash": {`) {
		t.Errorf("sfp server status --json:\n%s", js)
	}
	if human := sfptest.MustRun(t, r.base, nil, "server", "status", "-t", "fault").Stdout; !strings.Contains(human, "PostgreSQL restarted 2 times; last crash ") {
		t.Errorf("sfp server status:\n%s", human)
	}
	for _, l := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(l, "component=supervisor") || strings.Contains(l, "server that died") {
			t.Log(l)
		}
	}
	t.Logf("recovery (postmaster gone to first acknowledged write): %v; writes acknowledged %d, committed %d, delivered to each of %d subscribers %d; 503 answers %d",
		recovery, len(acked), len(committed), len(subs), len(subs[0].received()), api.unavailed.Load())
}

func firstDifference(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A PostgreSQL that keeps crashing stops the tenant: with
// postgres.restart.max_crashes 2 the first kill is restarted, the second
// stops it with an error naming the count, the window and the log.
func TestGivesUpAfterRepeatedCrashes(t *testing.T) {
	r := startTenant(t, func(c *tenant.Config) { c.Postgres.Restart.MaxCrashes = 2 })
	r.killPostmaster(t)
	until(t, "the first restart", func() bool { return r.status(t).PostgresRestarts == 1 })
	r.killPostmaster(t)
	err := r.waitExit(t, "the second crash")
	if !errors.Is(err, embedded.ErrCrashLoop) {
		t.Fatalf("start returned %v, want ErrCrashLoop", err)
	}
	for _, want := range []string{"crashed 2 times within 10m0s", "postgres.restart.max_crashes 2", r.t.PostgresLog(), "killed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if st := r.status(t); st.Running || component(*st, "postgres").State != runtime.StateDown {
		t.Errorf("status after giving up: %+v", st)
	}
}

// Finding 3: when one backend is killed, PostgreSQL ends every session and
// recovers ("the database system is in recovery mode", 57P03) while the
// postmaster lives on. Requests meanwhile get 503 with Retry-After, never
// a 500; the supervisor has nothing to do.
func TestKilledBackendGives503(t *testing.T) {
	r := startTenant(t, nil)
	api := newAPIClient(r.url, r.t.Secrets.AnonKey)
	f := newFixture(t, r, api)
	admin := r.admin(t)
	var (
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	work := []func(){
		func() {
			api.do("rest", http.MethodGet, "/rest/v1/task_events?select=id&task_id=eq."+f.task+"&order=id.desc&limit=5", f.token, nil)
		},
		func() {
			api.do("rest", http.MethodGet, "/rest/v1/accounts?select=id,name", f.token, nil)
		},
		func() {
			api.do("rest", http.MethodPost, "/rest/v1/task_events", f.token, map[string]any{
				"account_id": f.account, "task_id": f.task, "event": "log"})
		},
		func() { api.do("auth", http.MethodGet, "/auth/v1/user", f.token, nil) },
	}
	for _, w := range work {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					w()
				}
			}()
		}
	}
	defer func() { stop.Store(true); wg.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var backend int
	until(t, "a REST backend", func() bool {
		return admin.QueryRow(ctx, `select pid from pg_catalog.pg_stat_activity
			where usename = 'authenticator' and backend_type = 'client backend' limit 1`).Scan(&backend) == nil
	})
	api.mark()
	if err := syscall.Kill(backend, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	until(t, "the database to serve again", api.okSince)
	// Go on for a while after: the pools' broken connections surface on
	// their next use.
	seen := api.unavailed.Load()
	api.mark()
	until(t, "more requests", func() bool { return api.okSince() })
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	api.checkAnswers(t)
	t.Logf("503 answers: %d (%d before the database served again)", api.unavailed.Load(), seen)
	if st := r.status(t); st.PostgresRestarts != 0 || st.LastPostgresCrash != nil {
		t.Errorf("a backend crash counted as a postmaster crash: %+v", st)
	}
}

// A restart that fails counts as a crash: a server that cannot start
// again (here a setting it refuses, written while it ran) is retried with
// backoff until max_crashes, then the tenant stops naming the failure.
func TestGivesUpWhenRestartsFail(t *testing.T) {
	r := startTenant(t, func(c *tenant.Config) { c.Postgres.Restart.MaxCrashes = 3 })
	conf := r.t.DataDir() + "/postgresql.auto.conf"
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("no_such_setting = 1\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.killPostmaster(t)
	startErr := r.waitExit(t, "its restarts failed")
	if !errors.Is(startErr, embedded.ErrCrashLoop) || !strings.Contains(startErr.Error(), "crashed 3 times") ||
		!strings.Contains(startErr.Error(), "restart failed") || !strings.Contains(startErr.Error(), "no_such_setting") {
		t.Fatalf("start returned %v", startErr)
	}
	if n := strings.Count(r.logs.String(), "PostgreSQL did not start again; retrying"); n != 1 {
		t.Errorf("%d retries logged after failed restarts, want 1 (the third failure gives up)", n)
	}
}
