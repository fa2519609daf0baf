package metrics_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/logtest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
	"github.com/sfp-dev/sfp/supabase"
)

// logs collects the stack's log lines (JSON), for the request id tests.
var logs = &logtest.Buffer{}

// The lease expiry runs through REST in the background; an hour keeps it
// from moving the counters the tests measure.
func TestMain(m *testing.M) {
	stacktest.MainWith(m, stacktest.Options{ExpiryInterval: time.Hour, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
}

// sharedStack returns the package's stack and a context that ends after d
// or with the test.
func sharedStack(t *testing.T, d time.Duration) (*stacktest.Stack, context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return stacktest.Shared(), ctx
}

func scrape(t *testing.T, s *stacktest.Stack) metrics.Scrape {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := metrics.Fetch(ctx, http.DefaultClient, s.MonitoringURL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// series names one series: a metric and label pairs.
type series struct {
	name   string
	labels []string
}

func (x series) String() string {
	b, _ := json.Marshal(x.labels)
	return x.name + string(b)
}

// A known workload through the gateway moves each counter by exactly
// what it did, as Prometheus' own parser reads /metrics.
func TestWorkloadMovesCounters(t *testing.T) {
	s := stacktest.Shared()
	u := s.NewUser(t)
	var account string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "Metrics", "slug": "metrics-" + u.ID[:8]}, http.StatusOK, &account)

	restOK := series{"sfp_http_requests_total", []string{"service", "rest-v1", "route", "rest-v1-all", "code", "2xx"}}
	restTime := series{"sfp_http_request_duration_seconds", []string{"service", "rest-v1", "route", "rest-v1-all"}}
	auth2xx := series{"sfp_http_requests_total", []string{"service", "auth-v1", "code", "2xx"}}
	auth4xx := series{"sfp_http_requests_total", []string{"service", "auth-v1", "code", "4xx"}}
	reads := series{"sfp_rest_transactions_total", []string{"access", "read", "result", "ok"}}
	event := func(e string) series { return series{"sfp_auth_events_total", []string{"event", e}} }
	all := []series{restOK, restTime, auth2xx, auth4xx, reads,
		event("sign_in"), event("sign_in_failed"), event("token_refresh"), event("logout")}
	before := scrape(t, s)

	for range 5 {
		s.Do(t, http.MethodGet, "/rest/v1/accounts?select=id&id=eq."+account, u.AccessToken, nil, http.StatusOK, nil)
	}
	for range 3 {
		s.Do(t, http.MethodPost, "/auth/v1/token?grant_type=password", "", map[string]any{"email": u.Email, "password": "wrong-" + u.Password}, http.StatusBadRequest, nil)
	}
	var session struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	for range 2 {
		s.Do(t, http.MethodPost, "/auth/v1/token?grant_type=password", "", map[string]any{"email": u.Email, "password": u.Password}, http.StatusOK, &session)
	}
	s.Do(t, http.MethodPost, "/auth/v1/token?grant_type=refresh_token", "", map[string]any{"refresh_token": session.RefreshToken}, http.StatusOK, &session)
	s.Do(t, http.MethodPost, "/auth/v1/logout", session.AccessToken, nil, http.StatusNoContent, nil)

	after := scrape(t, s)
	expect := map[string]float64{
		restOK.String(): 5, restTime.String(): 5, reads.String(): 5,
		auth4xx.String(): 3, auth2xx.String(): 4,
		event("sign_in").String(): 2, event("sign_in_failed").String(): 3,
		event("token_refresh").String(): 1, event("logout").String(): 1,
	}
	for _, x := range all {
		b, _ := before.Value(x.name, x.labels...)
		a, ok := after.Value(x.name, x.labels...)
		if !ok {
			t.Errorf("%s: no such series after the workload", x)
			continue
		}
		if got := a - b; got != expect[x.String()] {
			t.Errorf("%s moved by %v, want %v", x, got, expect[x.String()])
		}
	}
}

// The database figures, the pools and the Go runtime and process
// collectors are there, with the values the tenant has.
func TestStaticFigures(t *testing.T) {
	s := stacktest.Shared()
	sc := scrape(t, s)
	ms, err := migrate.Load(supabase.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version
	checks := []struct {
		name   string
		labels []string
		test   func(float64) bool
		what   string
	}{
		{"sfp_postgres_up", nil, func(v float64) bool { return v == 1 }, "1"},
		{"sfp_postgres_restarts_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"sfp_migrations_applied_total", nil, func(v float64) bool { return v == float64(len(ms)) }, "every migration (a new tenant)"},
		{"sfp_schema_version", nil, func(v float64) bool { return formatVersion(v) == latest }, "the newest migration " + latest},
		{"sfp_realtime_replication_streaming", nil, func(v float64) bool { return v == 1 }, "1"},
		{"sfp_realtime_slot_retained_wal_bytes", nil, func(v float64) bool { return v >= 0 }, ">= 0"},
		{"sfp_backup_last_failure_timestamp_seconds", nil, func(v float64) bool { return v == 0 }, "0 (no failed backup)"},
		{"sfp_wal_archive_last_success_timestamp_seconds", nil, func(v float64) bool { return v == 0 }, "0 (archive_mode is off)"},
		{"sfp_wal_archive_failures_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"sfp_postgres_pool_max_connections", []string{"pool", "rest"}, func(v float64) bool { return v == 24 }, "24"},
		{"sfp_postgres_pool_max_connections", []string{"pool", "auth"}, func(v float64) bool { return v == 8 }, "8"},
		{"sfp_postgres_pool_max_connections", []string{"pool", "realtime"}, func(v float64) bool { return v == 10 }, "10"},
		{"sfp_realtime_refusals_total", []string{"code", "ConnectionRateLimitReached"}, func(v float64) bool { return v == 0 }, "0"},
		{"go_goroutines", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{"process_cpu_seconds_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
	}
	for _, c := range checks {
		v, ok := sc.Value(c.name, c.labels...)
		if !ok {
			t.Errorf("%s%v: missing", c.name, c.labels)
			continue
		}
		if !c.test(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.what)
		}
	}
}

func formatVersion(v float64) string {
	b, _ := json.Marshal(int64(v))
	return string(b)
}

// A realtime subscriber and a change it receives move the socket, join,
// delivery and lag figures.
func TestRealtimeFigures(t *testing.T) {
	s, ctx := sharedStack(t, 2*time.Minute)
	u := s.NewUser(t)
	var account string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "Watch", "slug": "watch-" + u.ID[:8]}, http.StatusOK, &account)
	var created []struct{ ID string }
	s.Do(t, http.MethodPost, "/rest/v1/task_executions?select=id", s.ServiceKey, map[string]any{
		"account_id": account, "resource_type": "deployment", "resource_id": "3f2b6a7e-1111-4222-8333-000000000001", "kind": "deploy",
	}, http.StatusCreated, &created, "Prefer", "return=representation")
	before := scrape(t, s)

	c, err := realtime.New(s.URL, s.AnonKey, realtime.WithAccessToken(func(context.Context) (string, error) { return u.AccessToken, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan struct{}, 10)
	ch := c.Channel("metrics-"+created[0].ID).OnPostgresChanges(realtime.PostgresChangesFilter{
		Event: realtime.Update, Schema: "public", Table: "task_executions", Filter: "id=eq." + created[0].ID,
	}, func(*realtime.PostgresChangeEvent) { got <- struct{}{} })
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	s.Do(t, http.MethodPatch, "/rest/v1/task_executions?id=eq."+created[0].ID, s.ServiceKey, map[string]any{"progress": 40}, http.StatusNoContent, nil)
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("no change received")
	}
	after := scrape(t, s)
	delta := func(name string, labels ...string) float64 {
		b, _ := before.Value(name, labels...)
		a, ok := after.Value(name, labels...)
		if !ok {
			t.Errorf("%s: missing", name)
		}
		return a - b
	}
	if d := delta("sfp_realtime_sockets"); d != 1 {
		t.Errorf("sockets moved by %v, want 1", d)
	}
	if d := delta("sfp_realtime_channels"); d != 1 {
		t.Errorf("channels moved by %v, want 1", d)
	}
	if d := delta("sfp_realtime_joins_total"); d != 1 {
		t.Errorf("joins moved by %v, want 1", d)
	}
	// A change is counted once queued to the socket, which may be after
	// the client has it.
	for deadline := time.Now().Add(time.Minute); ; {
		b, _ := before.Value("sfp_realtime_changes_delivered_total")
		a, _ := scrape(t, s).Value("sfp_realtime_changes_delivered_total")
		if a-b == 1 {
			break
		}
		if a-b > 1 || time.Now().After(deadline) {
			t.Fatalf("changes delivered moved by %v, want 1", a-b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The join's reply, the subscription's system message, the change: a
	// frame is counted once its write returns, which may be after the
	// client has read it.
	for deadline := time.Now().Add(time.Minute); ; {
		b, _ := before.Value("sfp_realtime_messages_sent_total")
		a, _ := scrape(t, s).Value("sfp_realtime_messages_sent_total")
		if a-b >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages sent moved by %v, want at least 3", a-b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing fell behind its bound: nothing skipped, nobody told.
	if d := delta("sfp_realtime_changes_dropped_total"); d != 0 {
		t.Errorf("changes dropped moved by %v, want 0", d)
	}
	if d := delta("sfp_realtime_lag_notices_total"); d != 0 {
		t.Errorf("lag notices moved by %v, want 0", d)
	}
	if v, ok := after.Value("sfp_realtime_max_dispatch_lag_seconds"); !ok || v != 10 {
		t.Errorf("max dispatch lag = %v (present %v), want the default 10 s", v, ok)
	}
	if _, ok := after.Value("sfp_realtime_dispatch_behind_seconds"); !ok {
		t.Error("sfp_realtime_dispatch_behind_seconds: missing")
	}
	if d := delta("sfp_realtime_replication_lag_seconds"); d < 1 {
		t.Errorf("the lag histogram observed %v transactions, want at least the one delivered", d)
	}
	// A WebSocket is counted when it ends: the gateway's request lasts
	// as long as the socket.
	if d := delta("sfp_http_requests_total", "service", "realtime-v1-ws", "code", "1xx"); d != 0 {
		t.Errorf("an open WebSocket counted %v times, want 0 until it closes", d)
	}
	c.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		sc := scrape(t, s)
		b, _ := before.Value("sfp_http_requests_total", "service", "realtime-v1-ws", "code", "1xx")
		a, _ := sc.Value("sfp_http_requests_total", "service", "realtime-v1-ws", "code", "1xx")
		if a-b == 1 {
			break
		}
		if a-b > 1 || time.Now().After(deadline) {
			t.Fatalf("the closed WebSocket counted %v times, want 1", a-b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// /live answers while the tenant runs; /ready lists every check, all
// passing.
func TestLiveAndReady(t *testing.T) {
	s := stacktest.Shared()
	for _, path := range []string{"/live", "/ready"} {
		resp, err := http.Get(s.MonitoringURL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body metrics.Readiness
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %+v", path, resp.StatusCode, body)
		}
		if path == "/ready" {
			names := map[string]bool{}
			for _, c := range body.Checks {
				names[c.Name] = c.OK
			}
			for _, n := range []string{"postgres", "migrations", "schema_cache", "replication"} {
				if !names[n] {
					t.Errorf("/ready check %s missing or failing: %+v", n, body)
				}
			}
		}
	}
	// The public gateway does not route to the admin listener's paths:
	// /metrics falls to kong.yml's dashboard route, behind basic auth.
	s.Do(t, http.MethodGet, "/metrics", "", nil, http.StatusUnauthorized, nil)
}
