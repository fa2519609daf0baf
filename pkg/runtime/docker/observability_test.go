package docker

import (
	"testing"
)

// The official services' own metrics endpoints are switched on with their
// upstream variable names and reachable on the compose network only:
// PostgREST's admin server (rest:3001), GoTrue's Prometheus exporter
// (auth:9100), Realtime's /metrics (realtime:4000, behind a JWT signed with
// METRICS_JWT_SECRET). Nothing but kong publishes a port.
func TestComposeExposesMetricsInternally(t *testing.T) {
	root := repoRoot(t)
	tn := dockerTenant(t, Options{})
	p := loadProject(t, root, tn)
	env := envOf(t, tn)
	want := map[string]map[string]string{
		"rest": {"PGRST_ADMIN_SERVER_PORT": "3001", "PGRST_ADMIN_SERVER_HOST": "0.0.0.0"},
		"auth": {"GOTRUE_METRICS_ENABLED": "true", "GOTRUE_METRICS_EXPORTER": "prometheus",
			"OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0", "OTEL_EXPORTER_PROMETHEUS_PORT": "9100"},
		"realtime": {"METRICS_JWT_SECRET": env["JWT_SECRET"]},
	}
	for svc, vars := range want {
		s, ok := p.Services[svc]
		if !ok {
			t.Fatalf("no %s service", svc)
		}
		for k, v := range vars {
			if got := deref(s.Environment[k]); got != v || v == "" {
				t.Errorf("%s: %s = %q, want %q", svc, k, got, v)
			}
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s publishes %v: its metrics must stay on the compose network", svc, s.Ports)
		}
	}
	// The merge with the shared GoTrue settings keeps them all.
	auth, migrations := p.Services["auth"], p.Services["auth-migrations"]
	for k, v := range migrations.Environment {
		if deref(auth.Environment[k]) != deref(v) {
			t.Errorf("auth lost the shared setting %s", k)
		}
	}
	if _, ok := migrations.Environment["GOTRUE_METRICS_ENABLED"]; ok {
		t.Error("auth-migrations (a one-shot `auth migrate`) got the metrics exporter too")
	}
}
