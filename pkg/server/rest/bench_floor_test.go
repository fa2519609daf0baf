package rest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// floorSide is the HTTP exchange alone, as a side of the benchmarks named
// "http": the same load generator, sending the gateway clients' headers to
// a net/http server set up as the gateway's, whose handler answers each
// target with the body the pgx baseline's statement (sql with args(i))
// returned for it, fetched once before the run; it touches no database
// while measured. Its Go CPU per request is what an answer over HTTP/1.1
// on loopback costs on its own (the client's and the server's system
// calls, net/http's per-request work), a cost the pgx baseline does not
// pay; gw_go_cpu minus http_go_cpu is what the gateway, the REST server
// and the database protocol add. The n distinct targets are target(0) …
// target(n-1); the load repeats them as i grows. (The REST server is not
// asked for the bodies: its shared connections would then hold pool
// connections before compare counts the backends.)
func (be *benchEnv) floorSide(b *testing.B, tok string, target func(i int) string, n int,
	sql string, args func(i int) []string, check func(i int, body []byte) error) *side {
	b.Helper()
	bodies := make(map[string][]byte, n)
	fetch := pgxOp(be.pgxPool, userClaims(uidReader), sql, args, func(i int, body []byte) error {
		bodies[target(i)] = bytes.Clone(body)
		return check(i, body)
	})
	for i := range n {
		if err := fetch(0, i); err != nil {
			b.Fatalf("floor: body of %s: %v", target(i), err)
		}
	}
	jsonType := []string{"application/json; charset=utf-8"}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.RequestURI]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header()["Content-Type"] = jsonType
		_, _ = w.Write(body)
	}))
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 2 * time.Minute
	hs.Start()
	b.Cleanup(hs.Close)
	cs := clients(strings.TrimPrefix(hs.URL, "http://"), "apikey", be.anonKey, "Authorization", "Bearer "+tok,
		"Accept", "application/json", "X-Client-Info", "supabase-js-node/2.109.0")
	return &side{name: "http", op: getOp(cs, target, check)}
}
