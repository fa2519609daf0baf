package gateway

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sfp-dev/sfp/pkg/server/requestid"
)

// The upstream's request context carries the request id the gateway
// answered with, so the servers' log lines can name it.
func TestRequestIDInUpstreamContext(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, requestid.From(r.Context()))
		mu.Unlock()
	})
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": up}})
	r := get(t, srv, "/open/x", "X-Request-Id", "client-trace-7")
	require.Equal(t, http.StatusOK, r.status)
	r2 := get(t, srv, "/open/x")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"client-trace-7", r2.header.Get("X-Request-Id")}, seen)
}

type observed struct {
	route, service string
	status         int
}

type recordingObserver struct {
	mu  sync.Mutex
	got []observed
}

func (o *recordingObserver) Route(r *Route) RequestObserver {
	return observerFunc(func(status int, _ time.Duration) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.got = append(o.got, observed{RouteLabel(r), ServiceLabel(r), status})
	})
}

type observerFunc func(int, time.Duration)

func (f observerFunc) Observe(status int, d time.Duration) { f(status, d) }

// Every request is observed once, under its route and service, with the
// status the client got — the gateway's own answers included; a request no
// route matches under empty names.
func TestObserverSeesEveryRequest(t *testing.T) {
	obs := &recordingObserver{}
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": echo("api")}, Observer: obs})
	get(t, srv, "/open/x")
	get(t, srv, "/api/x") // key-auth refuses: 401 from the gateway itself
	get(t, srv, "/nowhere")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Len(t, obs.got, 3)
	assert.Equal(t, http.StatusOK, obs.got[0].status)
	assert.NotEmpty(t, obs.got[0].route)
	assert.Equal(t, http.StatusUnauthorized, obs.got[1].status)
	assert.NotEmpty(t, obs.got[1].service)
	assert.Equal(t, observed{"", "", http.StatusNotFound}, obs.got[2])
}
