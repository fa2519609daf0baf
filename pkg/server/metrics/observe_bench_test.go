package metrics_test

import (
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
)

// BenchmarkRouteObserve is what the gateway adds to each request with
// metrics on: one counter increment and one histogram observation
// (BenchmarkGetByPKMetrics in pkg/server/rest puts it beside a whole
// request).
func BenchmarkRouteObserve(b *testing.B) {
	m := metrics.New()
	o := m.Route(&gateway.Route{Name: "rest-v1-all", Service: &gateway.Service{Name: "rest-v1"}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Observe(200, 700*time.Microsecond)
		}
	})
}
