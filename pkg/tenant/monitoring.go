package tenant

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
)

// MonitoringConfig is the tenant's admin listener (tenant.yaml, under
// monitoring:): /live, /ready and /metrics for an operator's probes and
// Prometheus, on a port of its own that the public gateway never routes
// to, as PostgREST's admin server is (docs/observability.md). The embedded
// runtime serves it; a docker tenant leaves the port unset (its services'
// own endpoints are on the compose network).
type MonitoringConfig struct {
	// Port of the admin listener; allocated at init like the tenant's
	// other ports, or at the first start of a tenant created before it
	// existed.
	Port int `yaml:"port,omitempty"`
	// Host to listen on; default 127.0.0.1. Set another address only on
	// a network Prometheus alone can reach: the figures are not secret,
	// but nothing authenticates the scraper.
	Host string `yaml:"host,omitempty"`
}

// Address is host:port of the admin listener, "" when no port is set.
func (m MonitoringConfig) Address() string {
	if m.Port == 0 {
		return ""
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
}

// URL is the admin listener's base URL for a client on this machine.
func (m MonitoringConfig) URL() string {
	if m.Port == 0 {
		return ""
	}
	host := m.Host
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(m.Port))
}

func (c *Config) monitoringDefaults() {
	if c.Monitoring.Host == "" {
		c.Monitoring.Host = "127.0.0.1"
	}
}

func (c *Config) validateMonitoring() error {
	m := c.Monitoring
	if m.Port == 0 {
		return nil
	}
	if m.Port < 1 || m.Port > 65535 {
		return fmt.Errorf("monitoring.port: %d is not a TCP port", m.Port)
	}
	if m.Port == c.API.Port || (c.Runtime == RuntimeEmbedded && m.Port == c.Postgres.Port) {
		return fmt.Errorf("monitoring.port: %d is already api.port or postgres.port", m.Port)
	}
	if net.ParseIP(m.Host) == nil {
		return fmt.Errorf("monitoring.host: %q is not an IP address", m.Host)
	}
	return nil
}

// allocateMonitoringPort picks the admin listener's port of a new (or
// restored) embedded tenant: want if set, else the first free one after
// postgres.port that no other tenant uses.
func (c *Config) allocateMonitoringPort(want int, taken map[int]bool) error {
	if c.Runtime == RuntimeDocker {
		return nil
	}
	taken[c.API.Port], taken[c.Postgres.Port] = true, true
	p, err := pickPort(want, c.Postgres.Port+1, taken)
	if err != nil {
		return fmt.Errorf("monitoring port: %w", err)
	}
	c.Monitoring.Port = p
	taken[p] = true
	return nil
}

// EnsureMonitoringPort gives an embedded tenant created before the admin
// listener existed a port for it (the first free one after postgres.port
// that no other tenant uses) and saves tenant.yaml. A tenant that has one
// is left as it is.
func (t *Tenant) EnsureMonitoringPort(base string) (bool, error) {
	if t.Config.Monitoring.Port != 0 || t.Config.Runtime != RuntimeEmbedded {
		return false, nil
	}
	taken, err := usedPorts(base)
	if err != nil {
		return false, err
	}
	if err := t.Config.allocateMonitoringPort(0, taken); err != nil {
		return false, fmt.Errorf("allocate monitoring.port of tenant %q: %w", t.Name(), err)
	}
	if err := t.SaveConfig(); err != nil {
		return false, fmt.Errorf("allocate monitoring.port of tenant %q: %w", t.Name(), err)
	}
	return true, nil
}

// BaseDir is the base directory the tenant lives under.
func (t *Tenant) BaseDir() string {
	return filepath.Dir(filepath.Dir(t.Dir))
}
