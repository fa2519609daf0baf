package rest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// The benchmarks compare the REST server (real socket, 16 concurrent
// clients) with the fastest pgx execution of the same transaction on the
// same database and pool, measured side by side in one run:
//
//	go test -run XXX -bench . -benchtime 20000x ./pkg/embedded/rest/
//
// Each reports req/s of both, their ratio, and p50/p99 latencies.

const benchClients = 16

type loadResult struct {
	perSec   float64
	p50, p99 time.Duration
}

// sample accumulates the time and latencies of several load runs.
type sample struct {
	n   int
	el  time.Duration
	lat []time.Duration
}

func (s *sample) result() loadResult {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	r := loadResult{perSec: float64(s.n) / s.el.Seconds()}
	if len(s.lat) > 0 {
		r.p50 = s.lat[len(s.lat)/2]
		r.p99 = s.lat[len(s.lat)*99/100]
	}
	return r
}

// load runs n operations over benchClients goroutines and adds them to s.
func load(s *sample, n int, op func(i int) error) error {
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	if s != nil {
		s.n += n
		s.el += time.Since(start)
		for _, l := range lat {
			s.lat = append(s.lat, l...)
		}
	}
	return nil
}

// compare runs n operations of each side, interleaved in chunks so that
// both see the same machine (the CI machine is shared and noisy).
func compare(b *testing.B, n int, restOp, pgxOp func(int) error) (rest, base loadResult) {
	const chunk = 500
	var rs, ps sample
	b.ResetTimer()
	for done := 0; done < n; done += chunk {
		m := min(chunk, n-done)
		if err := load(&ps, m, pgxOp); err != nil {
			b.Fatal(err)
		}
		if err := load(&rs, m, restOp); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	return rs.result(), ps.result()
}

// benchEnv serves the fixture (plus 300 books) from a pool of 16
// connections, one per client; the pgx baseline uses the same pool.
func benchEnv(b *testing.B) *env {
	b.Helper()
	db := pgtest.NewDB(b)
	db.Exec(b, librarySQL)
	db.Exec(b, `insert into public.books (author_id, title, pages)
		select 1 + (g % 3), 'Book ' || g, g from generate_series(1, 300) g`)
	cfg, err := pgxpool.ParseConfig(db.URL("authenticator"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = benchClients
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	e := startEnv(b, db, func(c *Config) { c.Pool = pool })
	e.pool = pool
	return e
}

// rawClient is a minimal keep-alive HTTP/1.1 load generator (one TCP
// connection per client goroutine, no background goroutines), so the
// benchmark measures the server rather than net/http's client machinery,
// as wrk or hey would.
type rawClient struct {
	addr  string
	mu    sync.Mutex
	conns []*rawConn
}

type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func httpClient(e *env) *rawClient {
	return &rawClient{addr: strings.TrimPrefix(e.http.URL, "http://")}
}

func (rc *rawClient) conn() (*rawConn, error) {
	rc.mu.Lock()
	if n := len(rc.conns); n > 0 {
		c := rc.conns[n-1]
		rc.conns = rc.conns[:n-1]
		rc.mu.Unlock()
		return c, nil
	}
	rc.mu.Unlock()
	c, err := net.Dial("tcp", rc.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (rc *rawClient) put(c *rawConn) {
	rc.mu.Lock()
	rc.conns = append(rc.conns, c)
	rc.mu.Unlock()
}

func (e *env) get(rc *rawClient, path, token string) error {
	c, err := rc.conn()
	if err != nil {
		return err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + rc.addr + "\r\nAuthorization: Bearer " + token + "\r\nAccept: application/json\r\n\r\n"
	if _, err := io.WriteString(c.c, req); err != nil {
		c.c.Close()
		return err
	}
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.c.Close()
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		c.c.Close()
		return err
	}
	rc.put(c)
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: status %d", path, res.StatusCode)
	}
	return nil
}

// pgxTx runs the request's transaction the fastest way pgx can: one
// pipeline (so one implicit transaction until its Sync) with the
// read-only flag, role and claims, then the query.
func pgxTx(ctx context.Context, e *env, claims, sql string, args ...any) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	bt := &pgx.Batch{}
	bt.Queue(`select set_config('transaction_read_only', 'on', true), set_config('role', 'authenticated', true),
		set_config('request.jwt.claims', $1, true)`, claims)
	bt.Queue(sql, args...)
	br := conn.SendBatch(ctx, bt)
	_, err = br.Exec()
	var body []byte
	if err == nil {
		err = br.QueryRow().Scan(&body)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(body) == 0 {
		err = fmt.Errorf("empty result")
	}
	return err
}

func report(b *testing.B, rest, base loadResult) {
	b.ReportMetric(rest.perSec, "rest_req/s")
	b.ReportMetric(base.perSec, "pgx_req/s")
	b.ReportMetric(rest.perSec/base.perSec, "ratio")
	b.ReportMetric(float64(rest.p50.Microseconds()), "rest_p50_µs")
	b.ReportMetric(float64(rest.p99.Microseconds()), "rest_p99_µs")
	b.ReportMetric(float64(base.p50.Microseconds()), "pgx_p50_µs")
	b.ReportMetric(float64(base.p99.Microseconds()), "pgx_p99_µs")
	b.ReportMetric(0, "ns/op")
}

func userClaims(uid string) string {
	return `{"sub":"` + uid + `","role":"authenticated","aud":"authenticated","email":"` + uid + `@example.test"}`
}

// BenchmarkGetByPK: GET one row by primary key as a signed-in member.
func BenchmarkGetByPK(b *testing.B) {
	e := benchEnv(b)
	tok := userJWT(uidReader)
	claims := userClaims(uidReader)
	c := httpClient(e)
	ctx := context.Background()
	restOp := func(i int) error { return e.get(c, "/books?id=eq."+strconv.Itoa(1+i%300), tok) }
	pgxOp := func(i int) error {
		return pgxTx(ctx, e, claims, `select coalesce(json_agg(t), '[]')::text from (select * from public.books where id = $1) t`, 1+i%300)
	}
	// Warm both (statement caches, connections).
	if err := load(nil, 500, restOp); err != nil {
		b.Fatal(err)
	}
	if err := load(nil, 500, pgxOp); err != nil {
		b.Fatal(err)
	}
	rest, base := compare(b, b.N, restOp, pgxOp)
	report(b, rest, base)
}

// BenchmarkList100Embed: a 100-row list with one embedded (many-to-one) relation.
func BenchmarkList100Embed(b *testing.B) {
	e := benchEnv(b)
	tok := userJWT(uidReader)
	claims := userClaims(uidReader)
	c := httpClient(e)
	ctx := context.Background()
	restOp := func(i int) error {
		return e.get(c, "/books?select=id,title,pages,author:authors!books_author_id_fkey(name)&order=id&limit=100&offset="+strconv.Itoa(i%100), tok)
	}
	pgxOp := func(i int) error {
		return pgxTx(ctx, e, claims, `select coalesce(json_agg(t), '[]')::text from (
			select b.id, b.title, b.pages, json_build_object('name', a.name) as author
			from public.books b join public.authors a on a.id = b.author_id
			order by b.id limit 100 offset $1) t`, i%100)
	}
	if err := load(nil, 200, restOp); err != nil {
		b.Fatal(err)
	}
	if err := load(nil, 200, pgxOp); err != nil {
		b.Fatal(err)
	}
	rest, base := compare(b, b.N, restOp, pgxOp)
	report(b, rest, base)
}

func rssKiB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				return v
			}
		}
	}
	return 0
}

// BenchmarkMemory100k sends 100k mixed requests (by key, lists with an
// embed, RPC, errors) and reports the heap in use and the resident size
// after 10k and after 100k: flat means no growth between them.
func BenchmarkMemory100k(b *testing.B) {
	e := benchEnv(b)
	tok := userJWT(uidReader)
	c := httpClient(e)
	paths := []string{
		"/books?id=eq.%d",
		"/books?select=id,title,author:authors!books_author_id_fkey(name)&limit=20&offset=%d",
		"/rpc/book_titles?min_pages=%d",
		"/authors?select=name,books!books_author_id_fkey(id)&id=eq.%d",
	}
	op := func(i int) error {
		p := fmt.Sprintf(paths[i%len(paths)], i%250)
		return e.get(c, p, tok)
	}
	measure := func() (heap, rss float64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapInuse) / (1 << 20), rssKiB() / 1024
	}
	// One pass of 100k requests whatever b.N is (-benchtime has no useful
	// meaning here).
	b.N = 1
	{
		if err := load(nil, 10_000, op); err != nil {
			b.Fatal(err)
		}
		h10, r10 := measure()
		if err := load(nil, 90_000, op); err != nil {
			b.Fatal(err)
		}
		h100, r100 := measure()
		b.ReportMetric(h10, "heap_MiB@10k")
		b.ReportMetric(h100, "heap_MiB@100k")
		b.ReportMetric(r10, "rss_MiB@10k")
		b.ReportMetric(r100, "rss_MiB@100k")
	}
}
