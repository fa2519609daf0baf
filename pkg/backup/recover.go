package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ErrOutsideArchive is returned when the recovery target is not covered
// by the WAL archive.
var ErrOutsideArchive = errors.New("the recovery target is outside the WAL archive")

// recoverCluster starts the restored cluster once and stops it cleanly:
// PostgreSQL replays the backup's WAL (and, for a point in time, the
// archive's up to the target, then promotes). It returns where recovery
// stopped and the schema version the cluster has.
func recoverCluster(ctx context.Context, cluster *postgres.Cluster, t *tenant.Tenant, opts *RestoreOptions) (*RecoveryPoint, string, error) {
	if err := cluster.Adopt(); err != nil {
		return nil, "", err
	}
	pitr := !opts.ToTime.IsZero() || opts.ToLSN != ""
	if pitr {
		target := postgres.RecoveryTarget{RestoreCommand: postgres.RestoreCommand(opts.Archive), LSN: opts.ToLSN}
		if !opts.ToTime.IsZero() {
			target.Time = opts.ToTime.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
		}
		if err := cluster.WriteRecovery(target); err != nil {
			return nil, "", err
		}
	}
	logStart := fileSize(t.PostgresLog())
	if err := cluster.Start(ctx); err != nil {
		return nil, "", explainRecovery(err, postgres.ReadLog(t.PostgresLog(), logStart, 1<<20), opts)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		cluster.Stop(sctx)
	}()
	url := cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres")
	if pitr {
		if err := waitPromoted(ctx, url, cluster); err != nil {
			return nil, "", explainRecovery(err, postgres.ReadLog(t.PostgresLog(), logStart, 1<<20), opts)
		}
	}
	conn, err := migrate.Connect(ctx, url)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var point *RecoveryPoint
	if pitr {
		point = &RecoveryPoint{}
		var last *time.Time
		if err := conn.QueryRow(ctx, `select pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()`).Scan(&point.LSN, &last); err != nil {
			return nil, "", fmt.Errorf("read where recovery stopped: %w", err)
		}
		if last != nil {
			u := last.UTC()
			point.LastTransaction = &u
		}
		if err := cluster.ClearRecovery(); err != nil {
			return nil, "", err
		}
	}
	version, err := migrate.Latest(ctx, conn)
	if err != nil {
		return nil, "", err
	}
	return point, version, nil
}

// waitPromoted waits until the recovering server has reached its target
// and promoted itself, or has stopped (a target it cannot reach: it
// accepts read-only connections once consistent, then exits).
func waitPromoted(ctx context.Context, url string, cluster *postgres.Cluster) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Minute)
	for {
		if promoted(ctx, url) {
			return nil
		}
		select {
		case <-cluster.Done():
			return errors.New("PostgreSQL stopped during recovery")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errors.New("recovery did not finish within 30 minutes")
		case <-tick.C:
		}
	}
}

func promoted(ctx context.Context, url string) bool {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := migrate.Connect(cctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var inRecovery bool
	return conn.QueryRow(cctx, `select pg_is_in_recovery()`).Scan(&inRecovery) == nil && !inRecovery
}

// explainRecovery turns PostgreSQL's account of a failed recovery (its
// log) into an error that says what to change.
func explainRecovery(err error, log string, opts *RestoreOptions) error {
	target := "--to-lsn " + opts.ToLSN
	if !opts.ToTime.IsZero() {
		target = "--to-time " + opts.ToTime.UTC().Format(time.RFC3339Nano)
	}
	switch {
	case strings.Contains(log, "recovery ended before configured recovery target was reached"):
		return fmt.Errorf("%s is after the last transaction in the WAL archive %s (PostgreSQL replayed all of it without reaching the target); choose an earlier target: %w",
			target, opts.Archive, ErrOutsideArchive)
	case strings.Contains(log, "requested recovery stop point is before consistent recovery point"):
		return fmt.Errorf("%s is before the backup's consistent point; choose a later target or an older backup: %w", target, ErrOutsideArchive)
	case strings.Contains(log, "could not locate required checkpoint record"), strings.Contains(log, "could not find redo location"):
		return fmt.Errorf("the backup's WAL is missing or damaged: %w: %w", err, ErrTruncated)
	}
	if tail := lastLines(log, 8); tail != "" {
		return fmt.Errorf("%w\npostgres log:\n%s", err, tail)
	}
	return err
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
