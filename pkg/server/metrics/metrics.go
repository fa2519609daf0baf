// Package metrics is a tenant's observability: the Prometheus registry
// with every metric the embedded runtime exports (their names and labels
// are a stable interface, listed in docs/observability.md), the hooks the
// servers call, and the admin listener's handler (/live, /ready,
// /metrics; admin.go).
//
// The servers do not import it: the gateway and auth are handed small
// interfaces or functions they define themselves, and the figures other
// servers keep anyway (REST's transactions, realtime's sockets, the
// connection pools) are read when Prometheus scrapes (sources.go), so the
// request path pays for an atomic add at most.
package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sfp-dev/sfp/pkg/server/authserver"
	"github.com/sfp-dev/sfp/pkg/server/gateway"
)

// Namespace prefixes every metric of sfp's own.
const Namespace = "sfp"

// durationBuckets are the request duration histogram's buckets, in
// seconds: from a cached REST read on loopback to a slow RPC.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// lagBuckets are the realtime replication lag histogram's buckets.
var lagBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics is one tenant's registry and the metrics the servers update
// directly. Several tenants in one process (tests) each have their own.
type Metrics struct {
	Registry *prometheus.Registry

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	authEvents *prometheus.CounterVec
	lag        prometheus.Histogram
	// backedUp and archived are the unix times (ns) of the last backup
	// and WAL segment reported through BackupSucceeded and WALArchived;
	// sources.go emits them with what the catalog and PostgreSQL say.
	backedUp, archived atomic.Int64
}

// New returns a registry holding the Go runtime and process collectors
// and sfp's own request, auth, realtime lag and backup metrics.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "Requests the gateway answered, by kong.yml service and route and status class (2xx, 4xx, ...).",
	}, []string{"service", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help:    "Time the gateway took to answer a request, by kong.yml service and route (WebSocket upgrades excluded).",
		Buckets: durationBuckets,
	}, []string{"service", "route"})
	m.authEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "auth_events_total",
		Help: "Auth outcomes: sign_in, sign_in_failed, token_refresh, token_refresh_failed, session_revoked, logout, rate_limited.",
	}, []string{"event"})
	for _, e := range authserver.Events {
		m.authEvents.WithLabelValues(string(e))
	}
	m.lag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "realtime_replication_lag_seconds",
		Help:    "Time from a transaction's commit to its changes being dispatched to realtime subscribers.",
		Buckets: lagBuckets,
	})
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.authEvents, m.lag,
	)
	return m
}

// AuthEvent counts an auth outcome (authserver.Config.OnEvent).
func (m *Metrics) AuthEvent(e authserver.Event) { m.authEvents.WithLabelValues(string(e)).Inc() }

// ObserveReplicationLag records one transaction's commit-to-dispatch time
// (realtimeserver.Config.ObserveLag).
func (m *Metrics) ObserveReplicationLag(d time.Duration) { m.lag.Observe(d.Seconds()) }

// BackupSucceeded records a successful backup finished at t (the backup
// catalog is read at each scrape as well: a backup another process took
// counts too).
func (m *Metrics) BackupSucceeded(t time.Time) { storeLater(&m.backedUp, t) }

// WALArchived records a WAL segment archived at t (the archiver calls it;
// PostgreSQL's own pg_stat_archiver is read at each scrape as well).
func (m *Metrics) WALArchived(t time.Time) { storeLater(&m.archived, t) }

// storeLater keeps the later of v and t.
func storeLater(v *atomic.Int64, t time.Time) {
	for {
		old := v.Load()
		if t.UnixNano() <= old || v.CompareAndSwap(old, t.UnixNano()) {
			return
		}
	}
}

// Route implements gateway.Observer: the route's counters for each status
// class and its histogram, looked up once.
func (m *Metrics) Route(r *gateway.Route) gateway.RequestObserver {
	service, route := gateway.ServiceLabel(r), gateway.RouteLabel(r)
	if r == nil {
		service, route = "none", "none"
	}
	o := &routeObserver{duration: m.duration.WithLabelValues(service, route)}
	for i := range o.codes {
		o.codes[i] = m.requests.WithLabelValues(service, route, strconv.Itoa(i+1)+"xx")
	}
	return o
}

type routeObserver struct {
	codes    [5]prometheus.Counter // 1xx … 5xx
	duration prometheus.Observer
}

func (o *routeObserver) Observe(status int, d time.Duration) {
	class := min(max(status/100, 1), 5)
	o.codes[class-1].Inc()
	if status != 101 { // a WebSocket's time is the socket's life
		o.duration.Observe(d.Seconds())
	}
}
