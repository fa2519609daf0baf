package rest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
)

// BenchmarkGetByPKMetrics: GET one row by primary key through the gateway
// with the tenant's metrics (a route observer counting the status class
// and timing the request) against the same gateway without them, side by
// side in one run. gwmetrics_ratio = instrumented req/s / plain req/s; the
// cost of the instrumentation is 1 - ratio. (REST's transaction counters
// are atomic adds both sides pay.)
func BenchmarkGetByPKMetrics(b *testing.B) {
	be := newBenchEnv(b)
	m := metrics.New()
	gw, err := gateway.New(be.gatewayCfg, gateway.Options{Upstreams: map[string]http.Handler{"rest": be.srv}, Observer: m})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(gw)
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 2 * time.Minute
	hs.Start()
	b.Cleanup(hs.Close)

	tok := userJWT(uidReader)
	id := func(i int) int { return 1 + i%300 }
	check := func(i int, body []byte) error {
		want := `[{"id":` + strconv.Itoa(id(i)) + `,`
		if !bytes.HasPrefix(body, []byte(want)) {
			return fmt.Errorf("book %d: unexpected body %.200s", id(i), body)
		}
		return nil
	}
	target := func(i int) string { return "/rest/v1/books?id=eq." + strconv.Itoa(id(i)) }
	instrumented := clients(hs.Listener.Addr().String(), "apikey", be.anonKey, "Authorization", "Bearer "+tok,
		"Accept", "application/json", "X-Client-Info", "supabase-js-node/2.109.0")
	plain := &side{name: "gw", op: getOp(be.gatewayClients(tok), target, check)}
	withMetrics := &side{name: "gwmetrics", op: getOp(instrumented, target, check)}
	compare(b, be, b.N, plain, withMetrics)
	report(b, plain, withMetrics)
}
