package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver"
	"github.com/sfp-dev/sfp/pkg/tenant"
	"github.com/sfp-dev/sfp/supabase"
)

// observability is the tenant's admin listener (tenant.yaml monitoring:)
// and the registry it serves: /live from the moment Boot has the port,
// /ready once every check passes, /metrics (docs/observability.md).
type observability struct {
	metrics *metrics.Metrics
	server  *http.Server
	// inst's services, once they run; nil while booting.
	services atomic.Pointer[services]
	// pool asks PostgreSQL for readiness and the scrape's figures, as
	// supabase_admin (it reads the migration history and the slots).
	pool *pgxpool.Pool
	// want is the newest migration this binary has, "" when the tenant
	// started without migrating (then the schema is what it is).
	want string
}

// startObservability listens on the admin port, if the tenant has one
// (allocating it for a tenant created before it existed). Like the API
// port, a port in use fails the start.
func (i *Instance) startObservability() error {
	t := i.T
	i.obs = &observability{metrics: metrics.New()}
	if _, err := t.EnsureMonitoringPort(t.BaseDir()); err != nil {
		return err
	}
	addr := t.Config.Monitoring.Address()
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("start tenant %q: the monitoring port %s is in use by another process; stop it or change monitoring.port in %s: %w",
			t.Name(), addr, t.ConfigFile(), err)
	}
	i.obs.server = &http.Server{
		Handler:           metrics.Handler(i.obs.metrics, i.readiness),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idleTimeout,
	}
	go func() {
		if err := i.obs.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			i.fail(fmt.Errorf("monitoring listener: %w", err))
		}
	}()
	i.log.Info("monitoring listener", "url", t.Config.Monitoring.URL())
	return nil
}

// Metrics is the tenant's registry and hooks (the backup code reports
// its successes through it).
func (i *Instance) Metrics() *metrics.Metrics {
	if i.obs == nil {
		return nil
	}
	return i.obs.metrics
}

// watch connects the registry to the running services: their counters,
// the pools and the database questions of a scrape.
func (i *Instance) watch(ctx context.Context, s *services) error {
	o := i.obs
	t := i.T
	want, err := latestMigration(i.opts.Migrations)
	if err != nil {
		return err
	}
	if !i.opts.SkipMigrations {
		o.want = want
	}
	cfg, err := pgxpool.ParseConfig(i.Cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres"))
	if err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["application_name"] = "sfp monitoring"
	if o.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("monitoring: connect: %w", err)
	}
	src := metrics.Sources{
		Pools:             s.poolsByName,
		REST:              s.rest.Totals,
		Database:          o.database,
		Restarts:          func() int { return i.Supervision().Restarts },
		MigrationsApplied: len(i.Applied),
		Backups:           func() (time.Time, time.Time) { return lastBackups(t) },
	}
	if rt := s.realtime; rt != nil {
		src.Realtime = func() (realtimeserver.Stats, realtimeserver.Flow) { return rt.Stats(), rt.Flow() }
	}
	o.metrics.Watch(src)
	o.services.Store(s)
	return nil
}

// stopObservability closes the admin listener and its pool, last.
func (i *Instance) stopObservability(ctx context.Context) {
	if i.obs == nil {
		return
	}
	if i.obs.server != nil {
		_ = i.obs.server.Shutdown(ctx)
	}
	if i.obs.pool != nil {
		i.obs.pool.Close()
	}
}

const sqlMonitoring = `select
  coalesce((select max(version) from supabase_migrations.schema_migrations), ''),
  coalesce((select pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint
            from pg_catalog.pg_replication_slots where slot_name = $1), -1),
  a.last_archived_time, a.failed_count
from pg_catalog.pg_stat_archiver a`

// database asks PostgreSQL for the schema version and the slot's retained
// WAL; Up is false when it does not answer.
func (o *observability) database(ctx context.Context) metrics.Database {
	db := metrics.Database{SlotRetainedBytes: -1}
	if o.pool == nil {
		return db
	}
	var archived *time.Time
	if err := o.pool.QueryRow(ctx, sqlMonitoring, SlotName).Scan(&db.SchemaVersion, &db.SlotRetainedBytes, &archived, &db.ArchiveFailures); err != nil {
		return metrics.Database{SlotRetainedBytes: -1}
	}
	if archived != nil {
		db.LastArchived = *archived
	}
	db.Up = true
	return db
}

// readiness is /ready: PostgreSQL accepting connections (and not being
// restarted by the supervisor), migrations current, REST's schema cache
// loaded, the realtime replication stream connected.
func (i *Instance) readiness(ctx context.Context) []metrics.Check {
	o := i.obs
	s := o.services.Load()
	if s == nil {
		return []metrics.Check{{Name: "started", Detail: "the tenant is starting"}}
	}
	pg := metrics.Check{Name: "postgres", OK: true}
	db := o.database(ctx)
	switch {
	case i.Supervision().Restarting:
		pg = metrics.Check{Name: "postgres", Detail: "restarting after a crash"}
	case !db.Up:
		pg = metrics.Check{Name: "postgres", Detail: "not accepting connections"}
	}
	mig := metrics.Check{Name: "migrations", OK: true, Detail: db.SchemaVersion}
	if db.Up && db.SchemaVersion < o.want {
		mig = metrics.Check{Name: "migrations", Detail: fmt.Sprintf("schema at %q, this binary's newest migration is %s (run sfp server update)", db.SchemaVersion, o.want)}
	} else if !db.Up {
		mig = metrics.Check{Name: "migrations", Detail: "unknown: PostgreSQL does not answer"}
	}
	cache := metrics.Check{Name: "schema_cache", OK: s.rest.SchemaLoaded()}
	if !cache.OK {
		cache.Detail = "REST's schema cache is not loaded"
	}
	checks := []metrics.Check{pg, mig, cache}
	if s.realtime != nil {
		rep := metrics.Check{Name: "replication", OK: s.realtime.Stats().Streaming}
		if !rep.OK {
			rep.Detail = "the realtime replication stream is not connected"
		}
		checks = append(checks, rep)
	}
	return checks
}

// latestMigration is the newest migration's version in fsys (the embedded
// migrations when nil).
func latestMigration(fsys fs.FS) (string, error) {
	if fsys == nil {
		fsys = supabase.Migrations()
	}
	ms, err := migrate.Load(fsys)
	if err != nil {
		return "", err
	}
	latest := ""
	for _, m := range ms {
		latest = max(latest, m.Version)
	}
	return latest, nil
}

// lastBackups reads the backup catalog (docs/backups.md): when the newest
// backup still on disk finished, and the latest failed scheduled backup.
func lastBackups(t *tenant.Tenant) (last, failed time.Time) {
	s, err := backup.List(t)
	if err != nil {
		return last, failed
	}
	if len(s.Backups) > 0 {
		last = s.Backups[0].FinishedAt // newest first
	}
	if s.LastError != nil {
		failed = s.LastError.At
	}
	return last, failed
}
