package realtimeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// BenchmarkFanout measures postgres_changes fan-out: N WebSocket clients,
// each a different authenticated user whom row-level security lets see the
// rows (through a membership table, as the tenant schema's policies do),
// subscribe to inserts; a writer commits rows at increasing rates. Each step
// reports delivered messages per second and commit-to-client latency
// (commit_timestamp to receipt, same machine) p50/p95/p99. A step is
// sustainable when at least 99.9% of the messages arrive and p95 < 250 ms.
// The same steps then run with row-level security disabled, and
// rls/norls is the ratio of the highest sustainable throughputs.
//
// The default run is short. The full run:
//
//	RT_BENCH_CLIENTS=500 RT_BENCH_RATES=20,40,60,80,100,120 RT_BENCH_STEP=10s \
//	  go test -run '^$' -bench Fanout -benchtime 1x ./pkg/server/realtimeserver/
//
// RT_BENCH_MODES picks the modes, in order (default rls,norls; rls-old is
// the visibility checks without loop functions and dedup, the baseline
// they are measured against; norls must come last). RT_BENCH_CURVE=1 runs the steps for each subscriber count of
// RT_BENCH_CURVE_CLIENTS (default 100,500,1000,2000) instead, and
// RT_BENCH_OUT=path writes every step as JSON (bench_curve_test.go).
//
// The load generator (clients, writer) runs in the same process: the
// figures are for the whole machine.
func BenchmarkFanout(b *testing.B) {
	rates := envInts("RT_BENCH_RATES", []int{20, 60})
	step := envDuration("RT_BENCH_STEP", 3*time.Second)
	counts := []int{envInt("RT_BENCH_CLIENTS", 100)}
	if os.Getenv("RT_BENCH_CURVE") == "1" {
		counts = envInts("RT_BENCH_CURVE_CLIENTS", []int{100, 500, 1000, 2000})
	}
	var all []fanoutResult
	for i := 0; i < b.N; i++ {
		if i > 0 {
			break // one measured run, whatever b.N
		}
		for _, n := range counts {
			all = append(all, runFanout(b, n, rates, step)...)
		}
	}
	b.StopTimer()
	reportFanout(b, all, len(counts) > 1)
	if path := os.Getenv("RT_BENCH_OUT"); path != "" {
		writeFanoutJSON(b, path, all)
	}
}

// fanoutResult is one step of the fan-out benchmark.
type fanoutResult struct {
	Clients     int     `json:"clients"`
	Mode        string  `json:"mode"` // "rls" or "norls"
	Rate        int     `json:"changes_per_second"`
	MsgsPerSec  float64 `json:"msgs_per_second"`
	Delivered   int64   `json:"delivered"`
	Expected    int64   `json:"expected"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	P99         float64 `json:"p99_ms"`
	Sustainable bool    `json:"sustainable"`
	Batches     int64   `json:"batches"`
	Checks      int64   `json:"visibility_statements"`
	Dropped     int64   `json:"dropped_changes"`
	HeapPerSub  float64 `json:"heap_bytes_per_subscriber"`
	StepSeconds float64 `json:"step_seconds"`
}

func runFanout(b *testing.B, nClients int, rates []int, step time.Duration) []fanoutResult {
	db := newTestDB(b, pgtest.Shared())
	db.Exec(b, `
		create table public.rt_bench_members (account int not null, user_id uuid not null, primary key (account, user_id));
		create table public.rt_bench (id bigint generated always as identity primary key, account int not null default 1,
			payload text not null, created_at timestamptz not null default now());
		alter table public.rt_bench enable row level security;
		create policy rt_bench_members_read on public.rt_bench for select to authenticated
			using (exists (select 1 from public.rt_bench_members m where m.account = rt_bench.account and m.user_id = auth.uid()));
		grant select on public.rt_bench, public.rt_bench_members to authenticated;
		alter publication supabase_realtime add table public.rt_bench;`)
	env := startEnv(b, db, benchLimits(nClients))
	users := make([]string, nClients)
	for i := range users {
		users[i] = newID()
	}
	db.Exec(b, `insert into public.rt_bench_members select 1, u::uuid from unnest($1::text[]) u`, users)

	heapBefore := heapInUse()
	bc := connectBenchClients(b, env, users)
	defer bc.close()
	heapPerSub := float64(heapInUse()-heapBefore) / float64(nClients)
	writer := db.Pool(b, "supabase_admin")
	b.ResetTimer()

	var results []fanoutResult
	for _, mode := range envStrings("RT_BENCH_MODES", []string{"rls", "norls"}) {
		// rls-old: the checks as they were before the loop functions and
		// the dedup (a statement per group, every version judged), for a
		// side-by-side baseline.
		env.srv.disp.noLoop.Store(mode == "rls-old")
		env.srv.disp.noDedup.Store(mode == "rls-old")
		if mode == "norls" {
			db.Exec(b, `alter table public.rt_bench disable row level security`)
			time.Sleep(2 * metaTTL) // the catalog cache notices
		}
		for _, rate := range rates {
			before, flowBefore := env.srv.Stats(), env.srv.Flow()
			start := time.Now()
			rows := writeAtRate(b, writer, rate, step)
			end := time.Now()
			// Wait for stragglers (up to 5 s), so late messages count in
			// the latencies instead of looking lost.
			for deadline := time.Now().Add(5 * time.Second); bc.count(start, end) < rows*int64(nClients) && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			lat, delivered := bc.collect(start, end)
			after, flowAfter := env.srv.Stats(), env.srv.Flow()
			r := fanoutResult{Clients: nClients, Rate: rate, Mode: mode, Delivered: delivered, Expected: rows * int64(nClients),
				MsgsPerSec: float64(delivered) / end.Sub(start).Seconds(), StepSeconds: end.Sub(start).Seconds(),
				Checks: after.VisibilityChecks - before.VisibilityChecks, Batches: after.Batches - before.Batches,
				Dropped: flowAfter.DroppedChanges - flowBefore.DroppedChanges, HeapPerSub: heapPerSub}
			r.P50, r.P95, r.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
			r.Sustainable = r.Expected > 0 && float64(delivered) >= 0.999*float64(r.Expected) && r.P95 < 250
			results = append(results, r)
			// To stderr: a benchmark's log keeps ten lines.
			fmt.Fprintf(os.Stderr, "%-7s %4d changes/s × %d clients: %8.0f msgs/s delivered %d/%d  p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  sustainable %v  (%d batches, %d visibility statements, %d changes skipped)\n",
				mode, rate, nClients, r.MsgsPerSec, delivered, r.Expected, r.P50, r.P95, r.P99, r.Sustainable, r.Batches, r.Checks, r.Dropped)
		}
	}
	fmt.Fprintf(os.Stderr, "%d clients: heap %.0f bytes per subscriber (server and in-process client together)\n", nClients, heapPerSub)
	return results
}

// heapInUse is the live heap after two collections (the second empties
// sync.Pools' victim caches, buffers no connection holds).
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// benchLimits raises the tenant's realtime limits so n benchmark clients
// may connect, join and stay (the defaults allow 200 sockets and 100 joins
// a second).
func benchLimits(n int) func(*Config) {
	return func(c *Config) {
		c.Limits.MaxConcurrentUsers = n + 10
		c.Limits.MaxJoinsPerSecond = max(n, DefaultMaxJoinsPerSecond)
	}
}

// writeAtRate commits rows at rate per second for d, in small transactions
// every 10 ms, and returns how many it committed.
func writeAtRate(b *testing.B, pool *pgxpool.Pool, rate int, d time.Duration) int64 {
	ctx := context.Background()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var done int64
	for now := range tick.C {
		el := now.Sub(start)
		if el >= d {
			break
		}
		due := int64(float64(rate)*el.Seconds()) - done
		if due <= 0 {
			continue
		}
		if _, err := pool.Exec(ctx, `insert into public.rt_bench (payload) select 'row ' || g from generate_series(1, $1::int) g`, due); err != nil {
			b.Fatalf("write: %v", err)
		}
		done += due
	}
	return done
}

// benchClients are lightweight Phoenix clients (a reader goroutine each,
// no JSON decoding beyond the commit timestamp) so the load generator
// costs as little as possible.
type benchClients struct {
	conns []*websocket.Conn
	mu    sync.Mutex
	// samples per client: commit time and receive time, in ns
	samples [][][2]int64
	wg      sync.WaitGroup
	stop    chan struct{}
}

func connectBenchClients(b *testing.B, env *testEnv, users []string) *benchClients {
	bc := &benchClients{samples: make([][][2]int64, len(users)), stop: make(chan struct{})}
	url := strings.Replace(env.baseURL(), "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + env.anon
	joined := make(chan error, len(users))
	sem := make(chan struct{}, 16)
	for i, u := range users {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		cancel()
		if err != nil {
			b.Fatalf("client %d: dial: %v", i, err)
		}
		ws.SetReadLimit(8 << 20)
		bc.conns = append(bc.conns, ws)
		payload, _ := json.Marshal(joinPayload(userToken(u, 24*time.Hour), map[string]any{"event": "INSERT", "schema": "public", "table": "rt_bench"}))
		bc.wg.Add(1)
		go bc.read(i, ws, payload, joined, sem)
	}
	for range users {
		if err := <-joined; err != nil {
			b.Fatal(err)
		}
	}
	bc.wg.Add(1)
	go func() { // heartbeats
		defer bc.wg.Done()
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-bc.stop:
				return
			case <-t.C:
				for _, ws := range bc.conns {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = ws.Write(ctx, websocket.MessageText, []byte(`[null,"hb","phoenix","heartbeat",{}]`))
					cancel()
				}
			}
		}
	}()
	return bc
}

var commitKey = []byte(`"commit_timestamp":"`)

func (bc *benchClients) read(i int, ws *websocket.Conn, joinPayload []byte, joined chan<- error, sem chan struct{}) {
	defer bc.wg.Done()
	sem <- struct{}{}
	ctx := context.Background()
	join := phoenix.AppendV2(nil, phoenix.Message{JoinRef: phoenix.StringRef("1"), Ref: phoenix.StringRef("1"), Topic: "realtime:bench", Event: "phx_join", Payload: joinPayload})
	if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
		<-sem
		joined <- err
		return
	}
	subscribed := false
	for {
		_, data, err := ws.Read(ctx)
		now := time.Now().UnixNano()
		if err != nil {
			if !subscribed {
				<-sem
				joined <- fmt.Errorf("client %d: %w", i, err)
			}
			return
		}
		if !subscribed {
			if bytes.Contains(data, []byte(`"system"`)) {
				subscribed = true
				<-sem
				if bytes.Contains(data, []byte(`"status":"ok"`)) {
					joined <- nil
				} else {
					joined <- fmt.Errorf("client %d: %s", i, data)
				}
			}
			continue
		}
		k := bytes.Index(data, commitKey)
		if k < 0 {
			continue
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", string(data[k+len(commitKey):k+len(commitKey)+24]))
		if err != nil {
			continue
		}
		bc.mu.Lock()
		bc.samples[i] = append(bc.samples[i], [2]int64{ts.UnixNano(), now})
		bc.mu.Unlock()
	}
}

// count returns how many changes committed in [start, end) arrived.
func (bc *benchClients) count(start, end time.Time) int64 {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	lo, hi := start.Truncate(time.Millisecond).UnixNano(), end.UnixNano()
	var n int64
	for _, s := range bc.samples {
		for _, x := range s {
			if x[0] >= lo && x[0] < hi {
				n++
			}
		}
	}
	return n
}

// collect returns the latencies (ms) of the changes committed in
// [start, end) and how many were delivered, and forgets all samples.
func (bc *benchClients) collect(start, end time.Time) ([]float64, int64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	// Commit timestamps are truncated to the millisecond.
	lo, hi := start.Truncate(time.Millisecond).UnixNano(), end.UnixNano()
	var lat []float64
	for i, s := range bc.samples {
		for _, x := range s {
			if x[0] >= lo && x[0] < hi {
				lat = append(lat, float64(x[1]-x[0])/1e6)
			}
		}
		bc.samples[i] = bc.samples[i][:0]
	}
	sort.Float64s(lat)
	return lat, int64(len(lat))
}

func (bc *benchClients) close() {
	close(bc.stop)
	for _, ws := range bc.conns {
		ws.CloseNow()
	}
	bc.wg.Wait()
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envInts(name string, def []int) []int {
	var out []int
	for _, f := range strings.Split(os.Getenv(name), ",") {
		if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v > 0 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

func envStrings(name string, def []string) []string {
	var out []string
	for _, f := range strings.Split(os.Getenv(name), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// BenchmarkVisibility compares the batched row-level security check (one
// round trip per batch, one call per (role, table) looping over the
// (role, claims) groups: visibility_loop.go — or, when the groups have
// more than loopMaxVersions versions each, the statement per group) with the same round trip
// made of a statement per group (set_config, then the check), and, for
// small runs, with the baseline of one query per change per subscriber, on
// the same rows and policies, in the same run. It reports the cost per
// (change × subscriber) of each and their ratios. RT_BENCH_GROUPS sets the
// number of groups (default 100).
func BenchmarkVisibility(b *testing.B) {
	groups, changes := envInt("RT_BENCH_GROUPS", 100), envInt("RT_BENCH_CHANGES", 20)
	env := newEnv(b)
	env.db.Exec(b, `
		create table public.rt_bench_members (account int not null, user_id uuid not null, primary key (account, user_id));
		create table public.rt_bench (id bigint generated always as identity primary key, account int not null default 1, payload text not null);
		alter table public.rt_bench enable row level security;
		create policy rt_bench_members_read on public.rt_bench for select to authenticated
			using (exists (select 1 from public.rt_bench_members m where m.account = rt_bench.account and m.user_id = auth.uid()));
		grant select on public.rt_bench, public.rt_bench_members to authenticated;`)
	env.exec(`insert into public.rt_bench (payload) select 'x' from generate_series(1, $1::int)`, changes)
	ctx := context.Background()
	var oid uint32
	if err := env.admin.QueryRow(ctx, "select 'public.rt_bench'::regclass::oid").Scan(&oid); err != nil {
		b.Fatal(err)
	}
	metas, err := env.srv.cat.tablesFor(ctx, []uint32{oid}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	meta := metas[oid]
	var ids []string
	for i := 1; i <= changes; i++ {
		ids = append(ids, strconv.Itoa(i))
	}
	var auths []*authState
	for i := 0; i < groups; i++ {
		uid := newID()
		env.exec(`insert into public.rt_bench_members values (1, $1)`, uid)
		a, err := verifyToken(jwtkeys.LegacySet(testSecret), userToken(uid, time.Hour), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		auths = append(auths, a)
	}
	pols, err := env.srv.cat.policies(ctx, []privKey{{"authenticated", oid}}, metas, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	pol := pols[privKey{"authenticated", oid}]
	if pol == nil || pol.checkSQL == "" {
		b.Fatalf("no policy statement for rt_bench: %+v", pol)
	}
	// Each change's new version: id, account, payload, judged by the
	// policy, as an INSERT's is.
	one, x := "1", "x"
	mkGroups := func() []*checkGroup {
		out := make([]*checkGroup, groups)
		for i, a := range auths {
			rr := &checkRows{meta: meta, pol: pol, sql: pol.checkSQL, cols: make([][]*string, len(meta.columns)), index: map[any]int{}}
			for j := range ids {
				rr.cols[0] = append(rr.cols[0], &ids[j])
				rr.cols[1] = append(rr.cols[1], &one)
				rr.cols[2] = append(rr.cols[2], &x)
				rr.index[j] = j
			}
			k := checkKey{rel: oid}
			out[i] = &checkGroup{auth: a, rels: map[checkKey]*checkRows{k: rr}, relOrder: []checkKey{k}}
		}
		return out
	}
	pool := env.db.Pool(b, "authenticator")
	// check runs one batch's checks, with the loop functions or with a
	// statement per group, and verifies every row was found visible.
	check := func(noLoop bool) time.Duration {
		env.srv.disp.noLoop.Store(noLoop)
		defer env.srv.disp.noLoop.Store(false)
		g := mkGroups()
		start := time.Now()
		if err := env.srv.disp.checkVisibility(ctx, g); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		for _, grp := range g {
			for j := range ids {
				if !grp.rels[checkKey{rel: oid}].visible[j] {
					b.Fatalf("row %s not visible to a member", ids[j])
				}
			}
		}
		return took
	}
	// The per-change baseline costs a round trip per pair: only for
	// small runs.
	baseline := groups*changes <= 2000
	// Warm up: the session's loop function is created and planned on
	// first use, the statements prepared.
	check(false)
	check(true)
	b.ResetTimer()
	var batched, statements, perChange time.Duration
	for i := 0; i < b.N; i++ {
		batched += check(false)
		statements += check(true)
		if !baseline {
			continue
		}
		start := time.Now()
		for _, id := range ids {
			for _, a := range auths {
				batch := &pgx.Batch{}
				batch.Queue("begin")
				batch.Queue(setClaimsSQL, a.role, string(a.claims))
				batch.Queue(`select exists (select 1 from public.rt_bench where id = $1::bigint)`, id)
				batch.Queue("commit")
				if err := pool.SendBatch(ctx, batch).Close(); err != nil {
					b.Fatal(err)
				}
			}
		}
		perChange += time.Since(start)
	}
	pairs := float64(b.N * groups * changes)
	b.ReportMetric(float64(batched.Nanoseconds())/pairs, "batched-ns/pair")
	b.ReportMetric(float64(statements.Nanoseconds())/pairs, "per-group-ns/pair")
	b.ReportMetric(float64(statements)/float64(batched), "per-group/batched")
	if baseline {
		b.ReportMetric(float64(perChange.Nanoseconds())/pairs, "per-change-ns/pair")
		b.ReportMetric(float64(perChange)/float64(batched), "per-change/batched")
	}
}
