package realtimeserver

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// The fan-out benchmarks (BenchmarkFanout, BenchmarkFanoutBroadcast,
// BenchmarkClientFanout) measure the same thing from different sides, so
// they share one harness: the watched table and its membership policy,
// the knobs read from the environment, a writer at a fixed rate and the
// measurement of one step. Their subscribers are in bench_subscribers_test.go.

// fanoutSchema creates the watched table: rows a user may see through a
// membership table, as the tenant schema's policies do, published for
// postgres_changes.
const fanoutSchema = `
		create table public.rt_bench_members (account int not null, user_id uuid not null, primary key (account, user_id));
		create table public.rt_bench (id bigint generated always as identity primary key, account int not null default 1,
			payload text not null, created_at timestamptz not null default now());
		alter table public.rt_bench enable row level security;
		create policy rt_bench_members_read on public.rt_bench for select to authenticated
			using (exists (select 1 from public.rt_bench_members m where m.account = rt_bench.account and m.user_id = auth.uid()));
		grant select on public.rt_bench, public.rt_bench_members to authenticated;
		alter publication supabase_realtime add table public.rt_bench;`

// fanoutParams are the knobs every fan-out benchmark reads:
// RT_BENCH_CLIENTS, RT_BENCH_RATES and RT_BENCH_STEP. The defaults make a
// short run.
type fanoutParams struct {
	clients int
	rates   []int
	step    time.Duration
}

// runOnce makes a fan-out benchmark's one measured run with the knobs from
// the environment, whatever b.N: a run takes seconds to minutes and
// reports its own figures.
func runOnce(b *testing.B, run func(*testing.B, fanoutParams)) {
	p := fanoutParams{
		clients: envInt("RT_BENCH_CLIENTS", 100),
		rates:   envInts("RT_BENCH_RATES", []int{20, 60}),
		step:    envDuration("RT_BENCH_STEP", 3*time.Second),
	}
	for i := 0; i < b.N; i++ {
		if i > 0 {
			break
		}
		run(b, p)
	}
}

// newFanoutDB gives a fan-out benchmark its own database with fanoutSchema
// and n new users, all members of the account the writer writes to.
func newFanoutDB(b *testing.B, n int) (*pgtest.DB, []string) {
	db := newTestDB(b, pgtest.Shared())
	db.Exec(b, fanoutSchema)
	users := make([]string, n)
	for i := range users {
		users[i] = newID()
	}
	db.Exec(b, `insert into public.rt_bench_members select 1, u::uuid from unnest($1::text[]) u`, users)
	return db, users
}

// userTokens signs a token for each user, valid for longer than any run.
func userTokens(users []string) []string {
	tokens := make([]string, len(users))
	for i, u := range users {
		tokens[i] = userToken(u, 24*time.Hour)
	}
	return tokens
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

// measureStep writes at rate for step and collects what the nClients
// subscribers of bc got: one step of a fan-out benchmark. The mode and the
// server's counters are the caller's to fill in.
func measureStep(b *testing.B, bc *benchClients, writer *pgxpool.Pool, nClients, rate int, step time.Duration) fanoutResult {
	start := time.Now()
	rows := writeAtRate(b, writer, rate, step)
	end := time.Now()
	// Wait for stragglers (up to 5 s), so late messages count in the
	// latencies instead of looking lost.
	for deadline := time.Now().Add(5 * time.Second); bc.count(start, end) < rows*int64(nClients) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	lat, delivered := bc.collect(start, end)
	secs := end.Sub(start).Seconds()
	r := fanoutResult{Clients: nClients, Rate: rate, Delivered: delivered, Expected: rows * int64(nClients),
		MsgsPerSec: float64(delivered) / secs, StepSeconds: secs}
	r.P50, r.P95, r.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	r.Sustainable = r.Expected > 0 && float64(delivered) >= 0.999*float64(r.Expected) && r.P95 < 250
	return r
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
