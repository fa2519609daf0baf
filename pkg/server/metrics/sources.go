package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sfp-dev/sfp/pkg/server/realtimeserver"
	"github.com/sfp-dev/sfp/pkg/server/rest/pgexec"
)

// Sources are the figures read when Prometheus scrapes: counters and
// gauges the servers keep anyway, the connection pools' statistics and a
// few questions to PostgreSQL. Nil fields are left out.
type Sources struct {
	// Pools by name (auth, rest, realtime).
	Pools map[string]*pgxpool.Pool
	// REST returns the REST server's transaction counters.
	REST func() pgexec.Totals
	// Realtime returns the realtime server's figures.
	Realtime func() (realtimeserver.Stats, realtimeserver.Flow)
	// Database asks PostgreSQL (within the scrape's time).
	Database func(context.Context) Database
	// Restarts counts the restarts of a crashed PostgreSQL.
	Restarts func() int
	// MigrationsApplied is how many migrations this start applied.
	MigrationsApplied int
	// Backups reads the backup catalog: when the newest backup on disk
	// finished and when the latest scheduled one failed (zero: none).
	Backups func() (last, failed time.Time)
}

// Database is what the runtime learns from PostgreSQL at a scrape.
type Database struct {
	// Up: PostgreSQL answered.
	Up bool
	// SchemaVersion is the newest applied migration (14 digits), "" if
	// unknown.
	SchemaVersion string
	// SlotRetainedBytes is the WAL the realtime slot keeps from being
	// recycled; -1 when unknown.
	SlotRetainedBytes int64
	// LastArchived is pg_stat_archiver's last_archived_time (zero when
	// nothing was archived), ArchiveFailures its failed_count.
	LastArchived    time.Time
	ArchiveFailures int64
}

// databaseTimeout bounds the questions a scrape asks PostgreSQL, so a
// database that hangs makes the scrape report it down rather than hang.
const databaseTimeout = 3 * time.Second

// Watch registers the scrape-time collector over src.
func (m *Metrics) Watch(src Sources) {
	m.Registry.MustRegister(&sourceCollector{src: src, m: m})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

var (
	descPoolConns    = desc("postgres_pool_connections", "Connections of a pool by state: in_use (acquired), idle, constructing.", "pool", "state")
	descPoolMax      = desc("postgres_pool_max_connections", "A pool's maximum connections.", "pool")
	descPoolAcquires = desc("postgres_pool_acquires_total", "Connections acquired from a pool.", "pool")
	descPoolWaits    = desc("postgres_pool_acquire_waits_total", "Acquires that had to wait for a connection (none was idle).", "pool")
	descPoolWaitSecs = desc("postgres_pool_acquire_wait_seconds_total", "Time acquires spent waiting for a connection.", "pool")
	descPoolCanceled = desc("postgres_pool_acquires_canceled_total", "Acquires given up before a connection came (the request's deadline or cancellation).", "pool")

	descRESTTx     = desc("rest_transactions_total", "REST transactions run, by access (read, write) and result (ok, error).", "access", "result")
	descRESTShared = desc("rest_shared_reads_total", "REST reads run on a shared connection (pipelined with other reads).")
	descRESTRetry  = desc("rest_shared_read_retries_total", "REST reads whose shared connection broke before answering, run again on a connection of their own.")

	descRTSockets   = desc("realtime_sockets", "Realtime WebSocket connections open.")
	descRTChannels  = desc("realtime_channels", "Realtime channels joined, across sockets.")
	descRTSubs      = desc("realtime_subscriptions", "postgres_changes subscriptions (binding × table).")
	descRTJoins     = desc("realtime_joins_total", "Channels joined.")
	descRTSent      = desc("realtime_messages_sent_total", "Frames written to realtime sockets (replies, broadcasts, presence, changes).")
	descRTDelivered = desc("realtime_changes_delivered_total", "postgres_changes messages queued to subscribers.")
	descRTChecks    = desc("realtime_visibility_checks_total", "Row-level security statements run to decide who sees a change.")
	descRTRefused   = desc("realtime_refusals_total", "Sockets, joins and messages refused by the tenant's realtime limits, by the official error code.", "code")
	descRTSlow      = desc("realtime_slow_client_disconnects_total", "Sockets closed because the client read too slowly (its queue filled).")
	descRTStreaming = desc("realtime_replication_streaming", "1 while the logical replication stream is connected.")
	descRTLagBytes  = desc("realtime_replication_lag_bytes", "WAL sent by PostgreSQL not yet dispatched to subscribers and confirmed.")
	descRTLagLast   = desc("realtime_replication_last_lag_seconds", "Commit-to-dispatch time of the latest transaction with changes.")
	descRTBehind    = desc("realtime_dispatch_behind_seconds", "How long ago the oldest transaction being dispatched now was committed; 0 while the dispatcher is idle.")
	descRTMaxLag    = desc("realtime_max_dispatch_lag_seconds", "The bound beyond which realtime skips changes and tells the channels (MaxDispatchLag).")
	descRTDropped   = desc("realtime_changes_dropped_total", "Changes not delivered because realtime fell further behind the database than its bound.")
	descRTNotices   = desc("realtime_lag_notices_total", "System messages telling channels that changes were skipped.")
	descSlotWAL     = desc("realtime_slot_retained_wal_bytes", "WAL the realtime replication slot keeps PostgreSQL from recycling.")

	descPGUp       = desc("postgres_up", "1 when PostgreSQL answered the scrape's query.")
	descPGRestarts = desc("postgres_restarts_total", "Restarts of a crashed PostgreSQL since the tenant started.")
	descMigrations = desc("migrations_applied_total", "Migrations applied when the tenant started.")
	descSchema     = desc("schema_version", "The newest applied migration's version (its 14-digit timestamp as a number).")
	descBackup     = desc("backup_last_success_timestamp_seconds", "Unix time the newest backup on disk finished; 0 while there is none.")
	descBackupFail = desc("backup_last_failure_timestamp_seconds", "Unix time of the latest failed scheduled backup, until a later one succeeds; 0 when none failed.")
	descArchived   = desc("wal_archive_last_success_timestamp_seconds", "Unix time of the last WAL segment archived successfully; 0 until one is.")
	descArchiveErr = desc("wal_archive_failures_total", "Failed attempts to archive a WAL segment (pg_stat_archiver, since its statistics were reset).")
)

type sourceCollector struct {
	src Sources
	m   *Metrics
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolConns, descPoolMax, descPoolAcquires, descPoolWaits, descPoolWaitSecs, descPoolCanceled,
		descRESTTx, descRESTShared, descRESTRetry,
		descRTSockets, descRTChannels, descRTSubs, descRTJoins, descRTSent, descRTDelivered, descRTChecks, descRTRefused,
		descRTSlow, descRTStreaming, descRTLagBytes, descRTLagLast, descRTBehind, descRTMaxLag, descRTDropped, descRTNotices, descSlotWAL,
		descPGUp, descPGRestarts, descMigrations, descSchema, descArchived, descArchiveErr, descBackup, descBackupFail} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	for name, p := range c.src.Pools {
		st := p.Stat()
		emit(descPoolConns, prometheus.GaugeValue, float64(st.AcquiredConns()), name, "in_use")
		emit(descPoolConns, prometheus.GaugeValue, float64(st.IdleConns()), name, "idle")
		emit(descPoolConns, prometheus.GaugeValue, float64(st.ConstructingConns()), name, "constructing")
		emit(descPoolMax, prometheus.GaugeValue, float64(st.MaxConns()), name)
		emit(descPoolAcquires, prometheus.CounterValue, float64(st.AcquireCount()), name)
		emit(descPoolWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()), name)
		emit(descPoolWaitSecs, prometheus.CounterValue, st.EmptyAcquireWaitTime().Seconds(), name)
		emit(descPoolCanceled, prometheus.CounterValue, float64(st.CanceledAcquireCount()), name)
	}
	if c.src.REST != nil {
		t := c.src.REST()
		emit(descRESTTx, prometheus.CounterValue, float64(t.Reads), "read", "ok")
		emit(descRESTTx, prometheus.CounterValue, float64(t.FailedReads), "read", "error")
		emit(descRESTTx, prometheus.CounterValue, float64(t.Writes), "write", "ok")
		emit(descRESTTx, prometheus.CounterValue, float64(t.FailedWrites), "write", "error")
		emit(descRESTShared, prometheus.CounterValue, float64(t.SharedReads))
		emit(descRESTRetry, prometheus.CounterValue, float64(t.RetriedReads))
	}
	if c.src.Realtime != nil {
		c.collectRealtime(emit)
	}
	if c.src.Restarts != nil {
		emit(descPGRestarts, prometheus.CounterValue, float64(c.src.Restarts()))
	}
	emit(descMigrations, prometheus.CounterValue, float64(c.src.MigrationsApplied))
	if c.src.Database != nil {
		ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
		db := c.src.Database(ctx)
		cancel()
		emit(descPGUp, prometheus.GaugeValue, bool01(db.Up))
		if v, err := strconv.ParseFloat(db.SchemaVersion, 64); err == nil {
			emit(descSchema, prometheus.GaugeValue, v)
		}
		if db.SlotRetainedBytes >= 0 {
			emit(descSlotWAL, prometheus.GaugeValue, float64(db.SlotRetainedBytes))
		}
		if db.Up {
			emit(descArchiveErr, prometheus.CounterValue, float64(db.ArchiveFailures))
		}
		if !db.LastArchived.IsZero() {
			c.m.WALArchived(db.LastArchived)
		}
	}
	emit(descArchived, prometheus.GaugeValue, float64(c.m.archived.Load())/1e9)
	failed := time.Time{}
	if c.src.Backups != nil {
		var last time.Time
		last, failed = c.src.Backups()
		if !last.IsZero() {
			c.m.BackupSucceeded(last)
		}
	}
	emit(descBackup, prometheus.GaugeValue, float64(c.m.backedUp.Load())/1e9)
	emit(descBackupFail, prometheus.GaugeValue, unixSeconds(failed))
}

func (c *sourceCollector) collectRealtime(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
	st, fl := c.src.Realtime()
	emit(descRTSockets, prometheus.GaugeValue, float64(st.Connections))
	emit(descRTChannels, prometheus.GaugeValue, float64(st.Channels))
	emit(descRTSubs, prometheus.GaugeValue, float64(st.Subscriptions))
	emit(descRTJoins, prometheus.CounterValue, float64(fl.Joins))
	emit(descRTSent, prometheus.CounterValue, float64(fl.MessagesSent))
	emit(descRTDelivered, prometheus.CounterValue, float64(st.Delivered))
	emit(descRTChecks, prometheus.CounterValue, float64(st.VisibilityChecks))
	for _, code := range realtimeserver.RefusalCodes {
		emit(descRTRefused, prometheus.CounterValue, float64(fl.Refusals[code]), code)
	}
	emit(descRTSlow, prometheus.CounterValue, float64(fl.SlowDisconnects))
	emit(descRTStreaming, prometheus.GaugeValue, bool01(st.Streaming))
	emit(descRTLagBytes, prometheus.GaugeValue, float64(fl.LagBytes))
	emit(descRTLagLast, prometheus.GaugeValue, fl.LagSeconds)
	emit(descRTBehind, prometheus.GaugeValue, fl.BehindSeconds)
	emit(descRTMaxLag, prometheus.GaugeValue, fl.MaxDispatchLagSeconds)
	emit(descRTDropped, prometheus.CounterValue, float64(fl.DroppedChanges))
	emit(descRTNotices, prometheus.CounterValue, float64(fl.LagNotices))
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
