package embedded_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
)

// ready asks the admin listener's /ready; 0 when it does not answer.
func ready(t *testing.T, base string) (int, metrics.Readiness) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	var body metrics.Readiness
	resp, err := client.Get(base + "/ready")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// /ready answers 503 while PostgreSQL is down and being restarted, naming
// the failing check, and 200 again once the supervisor has it back; /live
// answers throughout; the restart is counted in /metrics.
func TestReadyFollowsPostgres(t *testing.T) {
	// A restart delay long enough that the outage cannot pass unseen
	// between two polls, however busy the machine.
	defer embedded.SetRestartBackoff(5 * time.Second)()
	r := startTenant(t, nil)
	base := r.t.Config.Monitoring.URL()
	if base == "" {
		t.Fatal("the tenant has no monitoring port")
	}
	until(t, "/ready to answer 200 after the start", func() bool { code, _ := ready(t, base); return code == http.StatusOK })

	r.killPostmaster(t)
	var down metrics.Readiness
	until(t, "/ready to answer 503 while PostgreSQL is down", func() bool {
		code, body := ready(t, base)
		down = body
		return code == http.StatusServiceUnavailable
	})
	failing := map[string]string{}
	for _, c := range down.Checks {
		if !c.OK {
			failing[c.Name] = c.Detail
		}
	}
	if _, ok := failing["postgres"]; !ok || down.Ready {
		t.Errorf("503 without a failing postgres check: %+v", down)
	}
	resp, err := http.Get(base + "/live")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/live while PostgreSQL is down: %v %v", resp, err)
	}
	resp.Body.Close()

	until(t, "/ready to answer 200 after the restart", func() bool { code, _ := ready(t, base); return code == http.StatusOK })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := metrics.Fetch(ctx, http.DefaultClient, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := sc.Value("sfp_postgres_restarts_total"); v != 1 {
		t.Errorf("sfp_postgres_restarts_total = %v, want 1", v)
	}
	if v, _ := sc.Value("sfp_postgres_up"); v != 1 {
		t.Errorf("sfp_postgres_up = %v after the restart, want 1", v)
	}
	// sfp server status reads the same figures.
	st := r.status(t)
	if !st.Running || st.Monitoring == nil || !st.Monitoring.Ready {
		t.Fatalf("status after the restart: %+v %+v", st, st.Monitoring)
	}
	found := false
	for _, x := range st.Monitoring.Metrics {
		if x.Name == "sfp_postgres_restarts_total" {
			found = true
			if x.Value != 1 {
				t.Errorf("status says sfp_postgres_restarts_total = %v, want 1", x.Value)
			}
		}
	}
	if !found {
		t.Errorf("status has no sfp_postgres_restarts_total: %+v", st.Monitoring.Metrics)
	}
}
