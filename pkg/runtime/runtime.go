// Package runtime starts, stops, inspects and upgrades tenants. A tenant runs
// on one of two runtimes, chosen at `sfp server init`:
//
//   - embedded (pkg/runtime/embedded): one sfp process serving the gateway,
//     auth, REST and realtime, plus a PostgreSQL cluster it supervises;
//   - docker (pkg/runtime/docker): the official Supabase images under docker
//     compose, one compose project per tenant.
//
// The `sfp server` commands speak to this interface only.
package runtime

import (
	"context"
	"io"
	"time"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Runtime runs tenants of one kind.
type Runtime interface {
	// Init prepares what this runtime needs in a freshly created tenant
	// directory (the docker runtime adds its compose settings to .env).
	Init(ctx context.Context, t *tenant.Tenant) error
	// Start starts the tenant. In the foreground it returns when ctx is done
	// (SIGINT/SIGTERM) after stopping everything cleanly; with Detach it
	// returns once the tenant is ready in the background.
	Start(ctx context.Context, t *tenant.Tenant, opts StartOptions) error
	// Stop stops a running tenant. Stopping a stopped tenant is not an error
	// (Stopped reports false).
	Stop(ctx context.Context, t *tenant.Tenant) (stopped bool, err error)
	// Status reports each component.
	Status(ctx context.Context, t *tenant.Tenant) (*Status, error)
	// Logs writes the tenant's logs to w; with Follow it keeps writing until
	// ctx is done.
	Logs(ctx context.Context, t *tenant.Tenant, opts LogOptions, w io.Writer) error
	// Update stops the services, applies pending migrations and starts them
	// again. If a migration fails the previous services come back and the
	// error is returned with what was applied before it.
	Update(ctx context.Context, t *tenant.Tenant, opts UpdateOptions) (*UpdateResult, error)
}

// KeyApplier is a Runtime that can make a running tenant take changed keys
// without a restart (the embedded runtime; a docker tenant takes them when
// `sfp server start` recreates its containers).
type KeyApplier interface {
	// ApplyKeys makes the running tenant use the keys its .env and
	// tenant.yaml hold now. applied is false, without an error, for a
	// stopped tenant: it takes them at its next start.
	ApplyKeys(ctx context.Context, t *tenant.Tenant) (applied bool, err error)
}

// StartOptions change Start.
type StartOptions struct {
	Detach bool
	// Progress receives one line per step ("Starting PostgreSQL").
	Progress func(step string)
	// Ready is called once the tenant serves requests (foreground only).
	Ready func(Info)
}

// Info describes a started tenant.
type Info struct {
	Tenant    string    `json:"tenant"`
	Runtime   string    `json:"runtime"`
	URL       string    `json:"url"`
	PID       int       `json:"pid,omitempty"`
	EnvFile   string    `json:"env_file"`
	LogFile   string    `json:"log_file,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// Applied lists migrations applied during this start.
	Applied []string `json:"applied_migrations"`
}

// LogOptions change Logs.
type LogOptions struct {
	Follow bool
	Tail   int    // last N lines; 0 = all
	Source string // "sfp" (default), "postgres"; docker: a service name
}

// UpdateOptions change Update.
type UpdateOptions struct {
	Progress func(step string)
}

// UpdateResult reports an update.
type UpdateResult struct {
	Applied    []migrate.Migration
	WasRunning bool
	Restarted  bool
}

// Component states.
const (
	StateUp   = "up"
	StateDown = "down"
)

// Status is a tenant's state.
type Status struct {
	Tenant        string     `json:"tenant"`
	Runtime       string     `json:"runtime"`
	Running       bool       `json:"running"`
	PID           int        `json:"pid,omitempty"`
	URL           string     `json:"url"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	UptimeSeconds int64      `json:"uptime_seconds,omitempty"`
	SchemaVersion string     `json:"schema_version,omitempty"`
	// PostgresRestarts counts the restarts of a crashed PostgreSQL since
	// the tenant started (embedded runtime; the docker runtime leaves
	// restarts to docker).
	PostgresRestarts int `json:"postgres_restarts"`
	// LastPostgresCrash is the latest crash since the tenant started:
	// PostgreSQL exiting on its own, or a failed attempt to restart it.
	LastPostgresCrash *Crash      `json:"last_postgres_crash,omitempty"`
	Components        []Component `json:"components"`
	// Backups are the tenant's last backups, a failed scheduled one, and
	// the earliest point it can be restored to (docs/backups.md).
	Backups *backup.Summary `json:"backups,omitempty"`
}

// Crash is an unexpected exit of a supervised process.
type Crash struct {
	At time.Time `json:"at"`
	// Error is how it ended ("signal: killed", "exit status 1") or why a
	// restart failed.
	Error string `json:"error"`
}

// Component is one part of a tenant: postgres, auth, rest, realtime, gateway
// (docker: each compose service).
type Component struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Address string `json:"address,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Remover is implemented by runtimes that keep tenant data outside the
// tenant directory (docker volumes), which must be deleted when a tenant is
// replaced with `sfp server init --force`.
type Remover interface {
	Remove(ctx context.Context, t *tenant.Tenant) error
}
