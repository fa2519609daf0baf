package rest

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"testing"

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
	addr := serveBenchGateway(b, be.gatewayCfg, gateway.Options{Upstreams: map[string]http.Handler{"rest": be.srv}, Observer: m})

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
	instrumented := clients(addr, "apikey", be.anonKey, "Authorization", "Bearer "+tok,
		"Accept", "application/json", "X-Client-Info", "supabase-js-node/2.109.0")
	plain := &side{name: "gw", op: getOp(be.gatewayClients(tok), target, check)}
	withMetrics := &side{name: "gwmetrics", op: getOp(instrumented, target, check)}
	compare(b, be, b.N, plain, withMetrics)
	report(b, plain, withMetrics)
}
