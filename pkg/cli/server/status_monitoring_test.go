package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
)

func monitoredStatus(requests float64) *runtime.Status {
	return &runtime.Status{Tenant: "acme", Runtime: "embedded", Running: true, URL: "http://127.0.0.1:54321",
		Monitoring: &runtime.Monitoring{URL: "http://127.0.0.1:54323", Ready: false,
			Checks: []runtime.Check{{Name: "postgres", Detail: "restarting after a crash"}, {Name: "schema_cache", OK: true}},
			Metrics: []runtime.Sample{
				{Name: "sfp_http_requests_total", Labels: map[string]string{"service": "rest-v1", "route": "rest-v1-all", "code": "2xx"}, Value: requests},
				{Name: "sfp_http_requests_total", Labels: map[string]string{"service": "rest-v1", "route": "rest-v1-all", "code": "5xx"}, Value: 2},
				{Name: "sfp_postgres_pool_max_connections", Labels: map[string]string{"pool": "rest"}, Value: 24},
				{Name: "sfp_postgres_pool_connections", Labels: map[string]string{"pool": "rest", "state": "in_use"}, Value: 3},
				{Name: "sfp_postgres_restarts_total", Value: 1},
				{Name: "sfp_realtime_replication_last_lag_seconds", Value: 0.0125},
				{Name: "sfp_realtime_dispatch_behind_seconds", Value: 12.5},
				{Name: "sfp_realtime_max_dispatch_lag_seconds", Value: 10},
				{Name: "sfp_realtime_changes_dropped_total", Value: 42},
				{Name: "sfp_realtime_lag_notices_total", Value: 3},
			}}}
}

// --watch draws a frame per interval until the context ends; each frame
// shows readiness and the figures; --json gives one document per line.
func TestWatchStatus(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		ios, _, out, _ := cmdutil.Test()
		opts := &StatusOptions{tenantJSONInputs: tenantJSONInputs{tenantInputs{IO: ios}, asJSON}, Watch: true, Interval: time.Millisecond}
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := watchStatus(ctx, opts, func(context.Context) (*runtime.Status, error) {
			calls++
			if calls == 3 {
				cancel()
			}
			return monitoredStatus(float64(calls * 10)), nil
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if asJSON {
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("--watch --json wrote %d lines, want 3:\n%s", len(lines), out)
			}
			var st runtime.Status
			if err := json.Unmarshal([]byte(lines[2]), &st); err != nil || st.Monitoring.Metrics[0].Value != 30 {
				t.Fatalf("third document %s: %v", lines[2], err)
			}
			continue
		}
		text := out.String()
		for _, want := range []string{"Ready:    no (postgres: restarting after a crash; schema_cache ok)",
			"rest-v1 2xx 10, rest-v1 5xx 2", "rest-v1 2xx 30, rest-v1 5xx 2", "rest 3/24 in use", "restarts 1", "0.013s",
			"12.500s behind (bound 10s), 42 changes skipped, 3 channel notices"} {
			if !strings.Contains(text, want) {
				t.Errorf("watch output lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, clearScreen) {
			t.Error("cleared the screen of something that is not a terminal")
		}
	}
}

func TestWatchRejectsNonPositiveInterval(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	err := watchStatus(context.Background(), &StatusOptions{tenantJSONInputs: tenantJSONInputs{tenantInputs: tenantInputs{IO: ios}}, Watch: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "--interval") {
		t.Fatalf("err = %v", err)
	}
}
