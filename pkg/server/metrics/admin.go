package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one condition of readiness.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Readiness is /ready's answer.
type Readiness struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// ReadyFunc runs the readiness checks.
type ReadyFunc func(context.Context) []Check

// readyTimeout bounds the checks of one /ready request: a probe wants an
// answer, and a database that does not answer within it is not ready.
const readyTimeout = 5 * time.Second

// Handler serves the admin listener, as PostgREST's admin server does:
//
//	GET /live     200 while the process serves at all
//	GET /ready    200 when every check passes, else 503; a JSON body
//	              lists the checks either way
//	GET /metrics  the registry in Prometheus' text format
//
// It is meant for a listener of its own (tenant.yaml monitoring.port), never
// behind the public gateway.
func Handler(m *Metrics, ready ReadyFunc) http.Handler {
	if ready == nil {
		ready = func(context.Context) []Check { return nil }
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "live"})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		res := Evaluate(ready(ctx))
		status := http.StatusOK
		if !res.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, res)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		// A collector that fails (PostgreSQL down) leaves its metrics
		// out; the rest is still served.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// Evaluate is ready when every check passed.
func Evaluate(checks []Check) Readiness {
	res := Readiness{Ready: true, Checks: checks}
	for _, c := range checks {
		if !c.OK {
			res.Ready = false
		}
	}
	return res
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
