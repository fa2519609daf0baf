package tenant

import (
	"strings"
	"testing"
)

// Every embedded tenant gets an admin listener port of its own: at
// creation, when restored under another name (not its source's, which
// may be running), and at the first start of a tenant from before.
func TestMonitoringPorts(t *testing.T) {
	base := t.TempDir()
	a := mustCreate(t, base, CreateOptions{Name: "a"})
	ma := a.Config.Monitoring
	if ma.Port == 0 || ma.Port == a.Config.API.Port || ma.Port == a.Config.Postgres.Port || ma.Host != "127.0.0.1" {
		t.Fatalf("monitoring %+v beside api %d, postgres %d", ma, a.Config.API.Port, a.Config.Postgres.Port)
	}
	b, err := Place(base, PlaceOptions{Name: "b", Config: a.Config, Secrets: a.Secrets})
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{a.Config.API.Port: true, a.Config.Postgres.Port: true, ma.Port: true, b.Config.API.Port: true, b.Config.Postgres.Port: true}
	if used[b.Config.Monitoring.Port] || b.Config.Monitoring.Port == 0 {
		t.Fatalf("restored tenant's monitoring port %d collides (%v)", b.Config.Monitoring.Port, used)
	}

	// A tenant.yaml without monitoring: (written before it existed).
	old := mustCreate(t, base, CreateOptions{Name: "old"})
	old.Config.Monitoring.Port = 0
	if err := old.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(base, "old")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := loaded.EnsureMonitoringPort(loaded.BaseDir()); err != nil || !changed || loaded.Config.Monitoring.Port == 0 {
		t.Fatalf("EnsureMonitoringPort: changed %v, port %d, err %v", changed, loaded.Config.Monitoring.Port, err)
	}
	again, err := Load(base, "old")
	if err != nil || again.Config.Monitoring.Port != loaded.Config.Monitoring.Port {
		t.Fatalf("the allocated port was not saved: %v %v", again.Config.Monitoring, err)
	}
	if changed, _ := again.EnsureMonitoringPort(base); changed {
		t.Error("a tenant with a port got another")
	}

	// Validation names the setting.
	cfg := a.Config
	cfg.Monitoring.Port = cfg.API.Port
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "monitoring.port") {
		t.Errorf("monitoring.port = api.port: %v", err)
	}
	cfg = a.Config
	cfg.Monitoring.Host = "localhost"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "monitoring.host") {
		t.Errorf("monitoring.host = localhost: %v", err)
	}
	// A docker tenant has none: its services' own endpoints are on the
	// compose network.
	d, err := Create(base, CreateOptions{Name: "d", Runtime: RuntimeDocker})
	if err != nil || d.Config.Monitoring.Port != 0 {
		t.Fatalf("docker tenant monitoring %+v, %v", d.Config.Monitoring, err)
	}
}
