package rest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	sfp "github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/server/rest/pgexec"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The benchmarks measure the path: a client sends GET
// /rest/v1/… with the anon key as apikey and a member's own bearer token to
// the gateway (the repository's kong.yml: cors, key-auth, acl,
// request-transformer), which hands it to the REST server in-process; one
// HTTP listener on loopback, 16 concurrent keep-alive clients. The baseline
// is the fastest pgx execution of the same transaction on the same
// database and pool (role and claims set_config, then the same select, in
// one pipeline), and the REST server alone (no gateway) is measured too.
// The three sides run interleaved in chunks in one run, so machine noise
// hits them alike:
//
//	go test -run '^$' -bench . -benchtime 10000x ./pkg/server/rest/
//
// ratio is gateway+REST throughput over pgx throughput (the goal:
// ≥ 0.5); rest_ratio is the REST server alone over pgx. Every response is
// checked (status and body) on both sides.
//
// The load generator shares the machine (and its CPUs) with the servers
// and PostgreSQL, so it is kept cheap: one TCP connection per client, the
// request written with one write, the response read by a minimal HTTP/1.1
// parser into a reused buffer; no net/http client machinery.

const benchClients = 16

type loadResult struct {
	perSec   float64
	p50, p99 time.Duration
	// CPU time per request of this process (load generator, gateway, REST
	// server, pgx) and of the PostgreSQL backends serving the pool.
	goCPU, pgCPU time.Duration
}

// sample accumulates the time, latencies and CPU time of several load runs.
type sample struct {
	n            int
	el           time.Duration
	lat          []time.Duration
	goCPU, pgCPU time.Duration
}

func (s *sample) result() loadResult {
	slices.Sort(s.lat)
	r := loadResult{perSec: float64(s.n) / s.el.Seconds()}
	if s.n > 0 {
		r.goCPU, r.pgCPU = s.goCPU/time.Duration(s.n), s.pgCPU/time.Duration(s.n)
	}
	if len(s.lat) > 0 {
		r.p50 = s.lat[len(s.lat)/2]
		r.p99 = s.lat[len(s.lat)*99/100]
	}
	return r
}

// op is one request of client c (0 ≤ c < benchClients); i numbers requests.
type op func(c, i int) error

// load runs n operations over benchClients goroutines and adds them to s
// (when s is not nil).
func load(s *sample, n int, f op) error {
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := range benchClients {
		lat[c] = make([]time.Duration, 0, n/benchClients*2+1)
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := f(c, i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
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

// side is one way of running the benchmark's request.
type side struct {
	name string
	op   op
	s    sample
}

// cpuClock reads the CPU time used so far by this process and by the
// PostgreSQL backends of the pool (from /proc/<pid>/schedstat, in ns), so
// that each side's cost per request can be told apart from the noise of
// other jobs on the machine.
type cpuClock struct{ backends []int }

func (cc *cpuClock) read() (goCPU, pgCPU time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		goCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, pid := range cc.backends {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
		if err != nil {
			continue
		}
		f, _, _ := strings.Cut(string(raw), " ")
		ns, _ := strconv.ParseInt(f, 10, 64)
		pgCPU += time.Duration(ns)
	}
	return goCPU, pgCPU
}

// backendPIDs opens all of the pool's connections and returns their
// server process ids.
func backendPIDs(b *testing.B, pool *pgxpool.Pool) []int {
	ctx := context.Background()
	var conns []*pgxpool.Conn
	var pids []int
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		var pid int
		if err := c.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
			b.Fatal(err)
		}
		pids = append(pids, pid)
	}
	for _, c := range conns {
		c.Release()
	}
	return pids
}

// compare runs n operations of each side, interleaved in chunks (rotating
// which side goes first) so that all see the same machine.
//
// REST_BENCH_SIDES=gw (a comma-separated list of side names) runs only
// those sides, for profiling one of them with -cpuprofile.
func compare(b *testing.B, be *benchEnv, n int, sides ...*side) {
	if only := os.Getenv("REST_BENCH_SIDES"); only != "" {
		sides = slices.DeleteFunc(slices.Clone(sides), func(sd *side) bool {
			return !slices.Contains(strings.Split(only, ","), sd.name)
		})
	}
	var pids []int
	for _, p := range []*pgxpool.Pool{be.pool, be.pgxPool, be.sharedPool} {
		pids = append(pids, backendPIDs(b, p)...)
	}
	clock := &cpuClock{backends: pids}
	const chunk = 500
	for _, sd := range sides { // warm connections and statement caches
		if err := load(nil, 2*benchClients*4, sd.op); err != nil {
			b.Fatalf("%s: %v", sd.name, err)
		}
	}
	b.ResetTimer()
	for k, done := 0, 0; done < n; k, done = k+1, done+chunk {
		m := min(chunk, n-done)
		for j := range sides {
			sd := sides[(j+k)%len(sides)]
			g0, p0 := clock.read()
			if err := load(&sd.s, m, sd.op); err != nil {
				b.Fatalf("%s: %v", sd.name, err)
			}
			g1, p1 := clock.read()
			sd.s.goCPU += g1 - g0
			sd.s.pgCPU += p1 - p0
		}
	}
	b.StopTimer()
}

// report writes req/s, p50 and p99 of each side and the ratios to the
// first (the pgx baseline): "ratio" for the gateway, "<name>_ratio" for
// the others.
func report(b *testing.B, base *side, others ...*side) {
	br := base.s.result()
	put := func(name string, r loadResult) {
		b.ReportMetric(r.perSec, name+"_req/s")
		b.ReportMetric(float64(r.p50.Microseconds()), name+"_p50_µs")
		b.ReportMetric(float64(r.p99.Microseconds()), name+"_p99_µs")
		b.ReportMetric(float64(r.goCPU.Nanoseconds())/1e3, name+"_go_cpu_µs/req")
		b.ReportMetric(float64(r.pgCPU.Nanoseconds())/1e3, name+"_pg_cpu_µs/req")
	}
	if base.s.n > 0 { // REST_BENCH_SIDES may leave sides out
		put(base.name, br)
	}
	for _, o := range others {
		if o.s.n == 0 {
			continue
		}
		r := o.s.result()
		put(o.name, r)
		if base.s.n == 0 {
			continue
		}
		if o.name == "gw" {
			b.ReportMetric(r.perSec/br.perSec, "ratio")
		} else {
			b.ReportMetric(r.perSec/br.perSec, o.name+"_ratio")
		}
	}
	b.ReportMetric(0, "ns/op")
}

// benchEnv is the fixture (plus 300 books) behind the REST server and the
// repository's kong.yml gateway, and a pool of benchClients connections
// that the REST server and the pgx baseline share.
type benchEnv struct {
	*env
	pool       *pgxpool.Pool // the REST server's
	pgxPool    *pgxpool.Pool // the baseline's
	sharedPool *pgxpool.Pool // the shared-connection baseline's
	gwAddr     string        // gateway listener
	anonKey    string        // the apikey, signed as a tenant's keys are
	gatewayCfg *gateway.Config
}

func newBenchEnv(b *testing.B, extraSQL ...string) *benchEnv {
	b.Helper()
	db := pgtest.NewDB(b)
	db.Exec(b, librarySQL)
	db.Exec(b, `insert into public.books (author_id, title, pages)
		select 1 + (g % 3), 'Book ' || g, g from generate_series(1, 300) g`)
	for _, s := range extraSQL {
		db.Exec(b, s)
	}
	db.Exec(b, `vacuum analyze`)
	newPool := func(env string) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(db.URL("authenticator"))
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = benchClients
		if v, err := strconv.Atoi(os.Getenv(env)); err == nil {
			cfg.MaxConns = int32(v)
		}
		cfg.MinConns = cfg.MaxConns
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		return pool
	}
	pool, pgxPool, sharedPool := newPool("REST_BENCH_POOL"), newPool("REST_BENCH_PGX_POOL"), newPool("REST_BENCH_SHARED_POOL")
	e := startEnv(b, db, func(c *Config) {
		c.Pool = pool
		c.AggregatesEnabled = true // BenchmarkList100Aggregate
		if v, err := strconv.Atoi(os.Getenv("REST_BENCH_SHARED")); err == nil {
			c.SharedReadConns = v
		}
		if v, err := strconv.Atoi(os.Getenv("REST_BENCH_DEPTH")); err == nil {
			c.SharedReadDepth = v
		}
	})

	now := time.Now()
	anon, err := tenant.SignAPIKey([]byte(testSecret), "anon", now, tenant.KeyLifetime)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := tenant.SignAPIKey([]byte(testSecret), "service_role", now, tenant.KeyLifetime)
	if err != nil {
		b.Fatal(err)
	}
	vars := jwttest.NewTenant(b).KongEnv()
	vars["SUPABASE_ANON_KEY"], vars["SUPABASE_SERVICE_KEY"] = anon, svc
	gcfg, err := gateway.Parse(sfp.KongConfig(), "kong.yml", vars)
	if err != nil {
		b.Fatal(err)
	}
	gwAddr := serveBenchGateway(b, gcfg, gateway.Options{Upstreams: map[string]http.Handler{"rest": e.srv}})
	return &benchEnv{env: e, pool: pool, pgxPool: pgxPool, sharedPool: sharedPool, gwAddr: gwAddr, anonKey: anon, gatewayCfg: gcfg}
}

// serveBenchGateway serves the gateway for cfg with opts as the embedded
// runtime serves it (pkg/runtime/embedded) until the benchmark ends, and
// returns its address.
func serveBenchGateway(b *testing.B, cfg *gateway.Config, opts gateway.Options) string {
	b.Helper()
	gw, err := gateway.New(cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(gw)
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 2 * time.Minute
	hs.Start()
	b.Cleanup(hs.Close)
	return hs.Listener.Addr().String()
}

// clients returns a minimal HTTP/1.1 client per benchmark client, sending
// to addr with these extra header lines.
func clients(addr string, headers ...string) []*rawConn {
	var hdr strings.Builder
	hdr.WriteString(" HTTP/1.1\r\nHost: " + addr + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		hdr.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	hdr.WriteString("\r\n")
	out := make([]*rawConn, benchClients)
	for c := range out {
		out[c] = &rawConn{addr: addr, tail: hdr.String()}
	}
	return out
}

// gatewayClients send what supabase-js sends for a signed-in user: the
// anon key as apikey and the user's own access token.
func (be *benchEnv) gatewayClients(userToken string) []*rawConn {
	return clients(be.gwAddr, "apikey", be.anonKey, "Authorization", "Bearer "+userToken,
		"Accept", "application/json", "X-Client-Info", "supabase-js-node/2.109.0")
}

// restClients talk to the REST server directly, as the gateway would.
func (be *benchEnv) restClients(userToken string) []*rawConn {
	return clients(strings.TrimPrefix(be.http.URL, "http://"), "Authorization", "Bearer "+userToken,
		"Accept", "application/json", "X-Client-Info", "supabase-js-node/2.109.0")
}

// rawConn is one keep-alive connection of the load generator.
type rawConn struct {
	addr string
	tail string // " HTTP/1.1\r\n" and the header lines
	c    net.Conn
	r    *bufio.Reader
	req  []byte
	body []byte
}

// get sends GET target and returns the status and the body (valid until
// the next call).
func (rc *rawConn) get(target string) (int, []byte, error) {
	if rc.c == nil {
		c, err := net.Dial("tcp", rc.addr)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.r = c, bufio.NewReaderSize(c, 64<<10)
	}
	rc.req = append(append(append(rc.req[:0], "GET "...), target...), rc.tail...)
	if _, err := rc.c.Write(rc.req); err != nil {
		return rc.fail(err)
	}
	status, closeAfter, err := rc.read()
	if err != nil {
		return rc.fail(err)
	}
	if closeAfter {
		rc.c.Close()
		rc.c = nil
	}
	return status, rc.body, nil
}

func (rc *rawConn) fail(err error) (int, []byte, error) {
	rc.c.Close()
	rc.c = nil
	return 0, nil, err
}

var errNoLength = errors.New("response has neither Content-Length nor chunked encoding")

// read parses one response: status line, headers (Content-Length,
// Transfer-Encoding: chunked, Connection: close), body.
func (rc *rawConn) read() (status int, closeAfter bool, err error) {
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err = rc.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		for {
			line, err = rc.r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimRight(line, "\r\n")), 16, 64)
			if err != nil {
				return 0, false, fmt.Errorf("bad chunk size %q", line)
			}
			if err := rc.readBody(int(size) + 2); err != nil { // chunk and CRLF
				return 0, false, err
			}
			rc.body = rc.body[:len(rc.body)-2]
			if size == 0 {
				return status, closeAfter, nil
			}
		}
	case length >= 0:
		return status, closeAfter, rc.readBody(length)
	}
	return 0, false, errNoLength
}

func (rc *rawConn) readBody(n int) error {
	start := len(rc.body)
	rc.body = slices.Grow(rc.body, n)[:start+n]
	_, err := io.ReadFull(rc.r, rc.body[start:])
	return err
}

// getOp is an op that GETs target(i) on client c and checks the answer.
func getOp(cs []*rawConn, target func(i int) string, check func(i int, body []byte) error) op {
	return func(c, i int) error {
		t := target(i)
		status, body, err := cs[c].get(t)
		if err != nil {
			return fmt.Errorf("GET %s: %w", t, err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: status %d: %s", t, status, body)
		}
		return check(i, body)
	}
}

// pgxOp runs the request's transaction the fastest way pgx offers: both
// statements prepared once per connection, then sent as one pipeline (one
// write, one implicit transaction until its Sync, one round trip) through
// pgconn with text parameters and results: the read-only flag, role and
// claims, then the query.
func pgxOp(pool *pgxpool.Pool, claims, sql string, args func(i int) []string, check func(i int, body []byte) error) op {
	var bodies [benchClients][]byte
	return func(c, i int) error {
		ctx := context.Background()
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		// Prepare is a map lookup once the connection has the statement.
		sdSetup, err := conn.Conn().Prepare(ctx, "bench_setup", baselineSetupSQL)
		if err != nil {
			return err
		}
		sdQuery, err := conn.Conn().Prepare(ctx, "bench_query", sql)
		if err != nil {
			return err
		}
		var params [4][]byte
		qp := params[:0]
		for _, a := range args(i) {
			qp = append(qp, []byte(a))
		}
		pl := conn.Conn().PgConn().StartPipeline(ctx)
		pl.SendQueryStatement(sdSetup, [][]byte{[]byte(claims)}, nil, nil)
		pl.SendQueryStatement(sdQuery, qp, nil, nil)
		err = pl.Sync()
		for k := 0; k < 3 && err == nil; k++ {
			var r any
			if r, err = pl.GetResults(); err != nil {
				break
			}
			if rr, ok := r.(*pgconn.ResultReader); ok {
				for rr.NextRow() {
					if k == 1 {
						bodies[c] = append(bodies[c][:0], rr.Values()[0]...)
					}
				}
				_, err = rr.Close()
			}
		}
		if cerr := pl.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return check(i, bodies[c])
	}
}

// sharedOp runs the baseline's transaction the way the REST server runs
// reads (pgexec): its pipeline sent on one of a few connections shared by
// all clients, back to back with the others' (on a pool connection of its
// own when no shared one has room, as the server's reads). It shows how
// much of the REST server's figure comes from sharing connections, which
// pgx's API (a connection per transaction) does not offer.
func sharedOp(b *testing.B, pool *pgxpool.Pool, claims, sql string, args func(i int) []string, check func(i int, body []byte) error) op {
	ex := pgexec.New(pool, pgexec.Options{SharedConns: runtime.GOMAXPROCS(0), SharedDepth: 8})
	b.Cleanup(ex.Close)
	setup := pgexec.Statement{SQL: baselineSetupSQL, Params: [][]byte{[]byte(claims)}}
	return func(c, i int) error {
		var params [4][]byte
		qp := params[:0]
		for _, a := range args(i) {
			qp = append(qp, []byte(a))
		}
		res, err := ex.Execute(context.Background(), pgexec.Spec{ReadOnly: true, Setup: setup, Main: pgexec.Statement{SQL: sql, Params: qp}})
		if err != nil {
			return err
		}
		return check(i, res.Row[0])
	}
}

// The baselines' statements.
const (
	// baselineSetupSQL is the baselines' transaction context: read-only,
	// role and claims.
	baselineSetupSQL = `select set_config('transaction_read_only', 'on', true), set_config('role', 'authenticated', true),
		set_config('request.jwt.claims', $1, true)`
	byPKSQL = `select coalesce(json_agg(t), '[]')::text from (select * from public.books where id = $1) t`
	// The lateral join takes the page first and then its authors: in
	// pgbench a quarter faster than joining all books before the limit.
	listSQL = `select coalesce(json_agg(t), '[]')::text from (
		select b.id, b.title, b.pages, a.j as author
		from public.books b left join lateral (
			select row_to_json(r) as j from (select a.name from public.authors a where a.id = b.author_id) r) a on true
		order by b.id limit 100 offset $1) t`
)

func userClaims(uid string) string {
	return `{"sub":"` + uid + `","role":"authenticated","aud":"authenticated","email":"` + uid + `@example.test"}`
}

// BenchmarkGetByPK: GET one row by primary key as a signed-in user.
func BenchmarkGetByPK(b *testing.B) {
	be := newBenchEnv(b)
	tok := userJWT(uidReader)
	id := func(i int) int { return 1 + i%300 }
	check := func(i int, body []byte) error {
		want := `[{"id":` + strconv.Itoa(id(i)) + `,`
		if !bytes.HasPrefix(body, []byte(want)) || !bytes.HasSuffix(body, []byte("}]")) {
			return fmt.Errorf("book %d: unexpected body %.200s", id(i), body)
		}
		return nil
	}
	target := func(prefix string) func(int) string {
		return func(i int) string { return prefix + "/books?id=eq." + strconv.Itoa(id(i)) }
	}
	base := &side{name: "pgx", op: pgxOp(be.pgxPool, userClaims(uidReader),
		byPKSQL,
		func(i int) []string { return []string{strconv.Itoa(id(i))} }, check)}
	shared := &side{name: "pgxshared", op: sharedOp(b, be.sharedPool, userClaims(uidReader),
		byPKSQL,
		func(i int) []string { return []string{strconv.Itoa(id(i))} }, check)}
	gw := &side{name: "gw", op: getOp(be.gatewayClients(tok), target("/rest/v1"), check)}
	rest := &side{name: "rest", op: getOp(be.restClients(tok), target(""), check)}
	floor := be.floorSide(b, tok, target(""), 300, byPKSQL,
		func(i int) []string { return []string{strconv.Itoa(id(i))} }, check)
	compare(b, be, b.N, base, gw, rest, shared, floor)
	report(b, base, gw, rest, shared, floor)
}

// BenchmarkList100Embed: a 100-row list with one embedded (many-to-one)
// relation.
func BenchmarkList100Embed(b *testing.B) {
	be := newBenchEnv(b)
	tok := userJWT(uidReader)
	check := func(i int, body []byte) error {
		if !bytes.HasPrefix(body, []byte(`[{"id":`)) || bytes.Count(body, []byte(`"author":{`)) != 100 {
			return fmt.Errorf("list at offset %d: unexpected body %.200s", i%100, body)
		}
		return nil
	}
	target := func(prefix string) func(int) string {
		return func(i int) string {
			return prefix + "/books?select=id,title,pages,author:authors!books_author_id_fkey(name)&order=id&limit=100&offset=" + strconv.Itoa(i%100)
		}
	}
	base := &side{name: "pgx", op: pgxOp(be.pgxPool, userClaims(uidReader),
		listSQL,
		func(i int) []string { return []string{strconv.Itoa(i % 100)} }, check)}
	shared := &side{name: "pgxshared", op: sharedOp(b, be.sharedPool, userClaims(uidReader),
		listSQL,
		func(i int) []string { return []string{strconv.Itoa(i % 100)} }, check)}
	gw := &side{name: "gw", op: getOp(be.gatewayClients(tok), target("/rest/v1"), check)}
	rest := &side{name: "rest", op: getOp(be.restClients(tok), target(""), check)}
	floor := be.floorSide(b, tok, target(""), 100, listSQL,
		func(i int) []string { return []string{strconv.Itoa(i % 100)} }, check)
	compare(b, be, b.N, base, gw, rest, shared, floor)
	report(b, base, gw, rest, shared, floor)
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

// BenchmarkMemory100k sends 100k mixed requests through the gateway (by
// key, lists with an embed, RPC, one-to-many embeds) and reports the live
// heap (after a GC), the heap in use and the resident size of the process
// after 10k, 50k and 100k: flat means no growth between them.
func BenchmarkMemory100k(b *testing.B) {
	be := newBenchEnv(b)
	cs := be.gatewayClients(userJWT(uidReader))
	paths := []string{
		"/rest/v1/books?id=eq.%d",
		"/rest/v1/books?select=id,title,author:authors!books_author_id_fkey(name)&limit=20&offset=%d",
		"/rest/v1/rpc/book_titles?min_pages=%d",
		"/rest/v1/authors?select=name,books!books_author_id_fkey(id)&id=eq.%d",
	}
	f := getOp(cs, func(i int) string { return fmt.Sprintf(paths[i%len(paths)], i%250) },
		func(int, []byte) error { return nil })
	measure := func() (live, heap, rss float64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20), float64(ms.HeapInuse) / (1 << 20), rssKiB() / 1024
	}
	// One pass of 100k requests whatever b.N is (-benchtime has no useful
	// meaning here).
	b.N = 1
	steps := []struct {
		n    int
		name string
	}{{10_000, "10k"}, {40_000, "50k"}, {50_000, "100k"}}
	for _, st := range steps {
		if err := load(nil, st.n, f); err != nil {
			b.Fatal(err)
		}
		l, h, r := measure()
		b.ReportMetric(l, "live_MiB@"+st.name)
		b.ReportMetric(h, "heap_MiB@"+st.name)
		b.ReportMetric(r, "rss_MiB@"+st.name)
	}
}
