package realtimeserver

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	var all []fanoutResult
	var counts []int
	runOnce(b, func(b *testing.B, p fanoutParams) {
		counts = []int{p.clients}
		if os.Getenv("RT_BENCH_CURVE") == "1" {
			counts = envInts("RT_BENCH_CURVE_CLIENTS", []int{100, 500, 1000, 2000})
		}
		for _, n := range counts {
			all = append(all, runFanout(b, n, p.rates, p.step)...)
		}
	})
	b.StopTimer()
	reportFanout(b, all, len(counts) > 1)
	if path := os.Getenv("RT_BENCH_OUT"); path != "" {
		writeFanoutJSON(b, path, all)
	}
}

// fanoutResult is one step of a fan-out benchmark.
type fanoutResult struct {
	Clients     int     `json:"clients"`
	Mode        string  `json:"mode"` // "rls", "rls-old", "norls" or "broadcast"
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
	db, users := newFanoutDB(b, nClients)
	env := startEnv(b, db, benchLimits(nClients))
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
			r := measureStep(b, bc, writer, nClients, rate, step)
			after, flowAfter := env.srv.Stats(), env.srv.Flow()
			r.Mode, r.HeapPerSub = mode, heapPerSub
			r.Checks, r.Batches = after.VisibilityChecks-before.VisibilityChecks, after.Batches-before.Batches
			r.Dropped = flowAfter.DroppedChanges - flowBefore.DroppedChanges
			results = append(results, r)
			// To stderr: a benchmark's log keeps ten lines.
			fmt.Fprintf(os.Stderr, "%-7s %4d changes/s × %d clients: %8.0f msgs/s delivered %d/%d  p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  sustainable %v  (%d batches, %d visibility statements, %d changes skipped)\n",
				mode, rate, nClients, r.MsgsPerSec, r.Delivered, r.Expected, r.P50, r.P95, r.P99, r.Sustainable, r.Batches, r.Checks, r.Dropped)
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

// connectBenchClients subscribes a raw client per user to inserts into
// rt_bench.
func connectBenchClients(b *testing.B, env *testEnv, users []string) *benchClients {
	bc, err := dialBenchClients(benchSocketURL(env.baseURL(), env.anon), userTokens(users), changesSubscription)
	if err != nil {
		b.Fatal(err)
	}
	return bc
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
