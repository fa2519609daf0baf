package tenant

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// APILimits bound what a client can hold of the tenant's one HTTP server
// (tenant.yaml, under api:): how long it may take to send a request, and
// how many connections all clients may hold at once. docs/operations.md
// ("Limits") explains them.
type APILimits struct {
	// ReadHeaderTimeout bounds reading a request's headers; a client that
	// has not sent them all by then is disconnected. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout,omitempty"`
	// ReadBodyTimeout bounds reading a request's body, from the end of its
	// headers; a client still sending then gets 408 and is disconnected.
	// Default 30s: 10 MB (the default max_body_bytes) at 350 kB/s.
	ReadBodyTimeout Duration `yaml:"read_body_timeout,omitempty"`
	// MaxConnections caps the client connections open at once, WebSockets
	// included; beyond it a connection is answered 503 and closed.
	// Default 10000.
	MaxConnections int `yaml:"max_connections,omitempty"`
}

// RealtimeConfig are the tenant's realtime limits (tenant.yaml, under
// realtime:), named as Supabase Realtime's tenant settings and with their
// defaults; docs/realtime.md ("Limits") says what a client sees at each.
type RealtimeConfig struct {
	// MaxConcurrentUsers caps the realtime sockets open at once.
	MaxConcurrentUsers int `yaml:"max_concurrent_users"`
	// MaxChannelsPerClient caps the channels one socket has joined.
	MaxChannelsPerClient int `yaml:"max_channels_per_client"`
	// MaxJoinsPerSecond caps channel joins across the tenant.
	MaxJoinsPerSecond int `yaml:"max_joins_per_second"`
	// MaxEventsPerSecond caps the messages clients send (broadcast,
	// presence, the broadcast API) across the tenant.
	MaxEventsPerSecond int `yaml:"max_events_per_second"`
	// MaxDispatchLag bounds how far postgres_changes delivery may fall
	// behind the commits: older transactions are skipped and their
	// subscribers told (docs/realtime.md, "Overload").
	MaxDispatchLag Duration `yaml:"max_dispatch_lag"`
	// MessageRetention is how long Broadcast from Database messages stay
	// in realtime.messages before their daily partition is dropped.
	MessageRetention Duration `yaml:"message_retention"`
}

// Defaults of the limits. The realtime ones are Supabase Realtime's
// (TENANT_MAX_* in its config/runtime.exs), so a tenant behaves the same on
// the docker runtime's official image.
const (
	DefaultReadHeaderTimeout    = Duration(10 * time.Second)
	DefaultReadBodyTimeout      = Duration(30 * time.Second)
	DefaultMaxConnections       = 10000
	DefaultMaxConcurrentUsers   = 200
	DefaultMaxChannelsPerClient = 100
	DefaultMaxJoinsPerSecond    = 100
	DefaultMaxEventsPerSecond   = 100
	// The realtime server's own defaults (realtimeserver.DefaultMaxDispatchLag
	// and DefaultMessageRetention), written into tenant.yaml so an operator
	// finds them.
	DefaultMaxDispatchLag   = Duration(10 * time.Second)
	DefaultMessageRetention = Duration(72 * time.Hour)
)

func (c *Config) limitDefaults() {
	setDefault(&c.API.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&c.API.ReadBodyTimeout, DefaultReadBodyTimeout)
	setDefault(&c.API.MaxConnections, DefaultMaxConnections)
	setDefault(&c.Realtime.MaxConcurrentUsers, DefaultMaxConcurrentUsers)
	setDefault(&c.Realtime.MaxChannelsPerClient, DefaultMaxChannelsPerClient)
	setDefault(&c.Realtime.MaxJoinsPerSecond, DefaultMaxJoinsPerSecond)
	setDefault(&c.Realtime.MaxEventsPerSecond, DefaultMaxEventsPerSecond)
	setDefault(&c.Realtime.MaxDispatchLag, DefaultMaxDispatchLag)
	setDefault(&c.Realtime.MessageRetention, DefaultMessageRetention)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Bounds of the limits: a deadline shorter than minTimeout would cut off
// healthy clients on a busy machine, a longer one than maxTimeout would not
// bound anything.
const (
	minTimeout = 100 * time.Millisecond
	maxTimeout = time.Hour
	maxCount   = 10_000_000
)

func (c *Config) validateLimits() error {
	for _, d := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"api.read_header_timeout", time.Duration(c.API.ReadHeaderTimeout), minTimeout, maxTimeout},
		{"api.read_body_timeout", time.Duration(c.API.ReadBodyTimeout), minTimeout, maxTimeout},
		// Under a second the bound would skip changes of any brief busy
		// spell; over an hour it would bound nothing a client waits for.
		{"realtime.max_dispatch_lag", time.Duration(c.Realtime.MaxDispatchLag), time.Second, time.Hour},
		// At least an hour: the partitions are daily and maintained hourly.
		{"realtime.message_retention", time.Duration(c.Realtime.MessageRetention), time.Hour, 366 * 24 * time.Hour},
	} {
		if d.v < d.min || d.v > d.max {
			return fmt.Errorf("%s: %s is outside %s..%s", d.name, d.v, d.min, d.max)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"api.max_connections", c.API.MaxConnections},
		{"realtime.max_concurrent_users", c.Realtime.MaxConcurrentUsers},
		{"realtime.max_channels_per_client", c.Realtime.MaxChannelsPerClient},
		{"realtime.max_joins_per_second", c.Realtime.MaxJoinsPerSecond},
		{"realtime.max_events_per_second", c.Realtime.MaxEventsPerSecond},
	} {
		if n.v < 1 || n.v > maxCount {
			return fmt.Errorf("%s: %d is outside 1..%d", n.name, n.v, maxCount)
		}
	}
	return nil
}

// Duration is a time.Duration in tenant.yaml: written with a unit ("30s",
// "1m30s"); a bare number is seconds, as jwt_expiry is.
type Duration time.Duration

// UnmarshalYAML reads "30s" or 30.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Tag != "!!str" {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it with a unit, e.g. 30s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration with its unit.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// String is the duration with its unit.
func (d Duration) String() string { return time.Duration(d).String() }
