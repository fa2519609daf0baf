package realtimeserver

import (
	"os"
	"slices"
	"testing"
)

// BenchmarkFanoutBroadcast runs BenchmarkFanout's fan-out twice in one run,
// on the same database, users and write rates: first as postgres_changes
// (N clients, each a different user whom row-level security lets see the
// rows through a membership table, subscribed to inserts), then as
// Broadcast from Database (the same N users join one private topic,
// authorised once at join by a SELECT policy on realtime.messages through
// the same membership table; a row trigger calls realtime.send for each
// inserted row). Each step reports delivered messages per second and
// latency p50/p95/p99; a step is sustainable when 99.9% of the messages
// arrive with p95 < 250 ms. broadcast/changes is the ratio of the highest
// sustainable throughputs.
//
// Latency: postgres_changes is measured from the commit timestamp;
// broadcast from the inserting transaction's now() (its start), carried in
// the payload, which overstates it by the transaction's duration.
//
// The default run is short. The full run:
//
//	RT_BENCH_CLIENTS=500 RT_BENCH_RATES=20,40,60,80,100,120 RT_BENCH_STEP=10s \
//	  go test -run '^$' -bench FanoutBroadcast -benchtime 1x ./pkg/server/realtimeserver/
//
// RT_BENCH_MODES=broadcast runs the broadcast steps only (default
// changes,broadcast); RT_BENCH_OUT=path writes every step as JSON in
// BenchmarkFanout's format (mode "rls" for postgres_changes, "broadcast"),
// so one curve plots both (go run ./internal/benchplot/cmd/benchplot -fanout).
func BenchmarkFanoutBroadcast(b *testing.B) { runOnce(b, runFanoutBroadcast) }

func runFanoutBroadcast(b *testing.B, p fanoutParams) {
	nClients, rates, step := p.clients, p.rates, p.step
	db, users := newFanoutDB(b, nClients)
	db.Exec(b, `
		create policy rt_bench_topic_read on realtime.messages for select to authenticated
			using ((select realtime.topic()) = 'bench'
			  and exists (select 1 from public.rt_bench_members m where m.account = 1 and m.user_id = auth.uid()));`)
	// The default limits (200 sockets, 100 joins/s) would refuse the
	// benchmark's own clients.
	env := startEnv(b, db, func(c *Config) {
		c.Limits = Limits{MaxConcurrentUsers: nClients + 100, MaxJoinsPerSecond: 100000, MaxEventsPerSecond: 100000}
	})
	writer := db.Pool(b, "supabase_admin")
	b.ResetTimer()

	best := map[string]*fanoutResult{}
	var steps []fanoutResult
	measure := func(mode string, bc *benchClients) {
		for _, rate := range rates {
			r := measureStep(b, bc, writer, nClients, rate, step)
			r.Mode = mode
			if mode == "changes" {
				r.Mode = "rls"
			}
			steps = append(steps, r)
			b.Logf("%-9s %4d changes/s × %d clients: %8.0f msgs/s delivered %d/%d  p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  sustainable %v",
				mode, rate, nClients, r.MsgsPerSec, r.Delivered, r.Expected, r.P50, r.P95, r.P99, r.Sustainable)
			if r.Sustainable && (best[mode] == nil || r.MsgsPerSec > best[mode].MsgsPerSec) {
				best[mode] = &r
			}
		}
	}
	modes := envStrings("RT_BENCH_MODES", []string{"changes", "broadcast"})
	if slices.Contains(modes, "changes") {
		bc := connectBenchClients(b, env, users)
		measure("changes", bc)
		bc.close()
	}
	if !slices.Contains(modes, "broadcast") {
		b.StopTimer()
		reportBroadcast(b, best, steps, nClients)
		return
	}

	db.Exec(b, `
		create function public.rt_bench_broadcast() returns trigger language plpgsql as $$
		begin
		  perform realtime.send(pg_catalog.jsonb_build_object('id', new.id,
		    'commit_timestamp', pg_catalog.to_char(pg_catalog.now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
		    'INSERT', 'bench', true);
		  return null;
		end $$;
		create trigger rt_bench_broadcast after insert on public.rt_bench for each row execute function public.rt_bench_broadcast();`)
	bc := connectBroadcastClients(b, env, users)
	measure("broadcast", bc)
	bc.close()
	b.StopTimer()
	reportBroadcast(b, best, steps, nClients)
}

func reportBroadcast(b *testing.B, best map[string]*fanoutResult, steps []fanoutResult, nClients int) {
	if path := os.Getenv("RT_BENCH_OUT"); path != "" {
		writeFanoutJSON(b, path, steps)
	}
	for _, mode := range []string{"changes", "broadcast"} {
		if r := best[mode]; r != nil {
			b.ReportMetric(r.MsgsPerSec, mode+"-msgs/s")
			b.ReportMetric(float64(r.Rate), mode+"-changes/s")
			b.ReportMetric(r.P95, mode+"-p95-ms")
		} else {
			b.ReportMetric(0, mode+"-msgs/s")
		}
	}
	if best["changes"] != nil && best["broadcast"] != nil {
		b.ReportMetric(best["broadcast"].MsgsPerSec/best["changes"].MsgsPerSec, "broadcast/changes")
	}
	b.ReportMetric(float64(nClients), "clients")
}

// connectBroadcastClients joins every user to the private topic "bench"
// with the same lightweight clients as connectBenchClients.
func connectBroadcastClients(b *testing.B, env *testEnv, users []string) *benchClients {
	bc, err := dialBenchClients(benchSocketURL(env.baseURL(), env.anon), userTokens(users), broadcastSubscription)
	if err != nil {
		b.Fatal(err)
	}
	return bc
}
