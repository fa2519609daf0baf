package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/server/requestid"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// BootOptions change Boot.
type BootOptions struct {
	Logger   *slog.Logger
	Progress func(string)
	// Migrations replaces the embedded migrations (SFP_MIGRATIONS_DIR).
	Migrations fs.FS
	// SkipMigrations starts without applying pending migrations (used to
	// bring the previous services back after a failed update).
	SkipMigrations bool
	// DatabaseOnly starts PostgreSQL and bootstraps it, without the HTTP
	// services (sfp server update).
	DatabaseOnly bool
	// ExpiryInterval is how often lease expiry is applied to every
	// environment; default DefaultExpiryInterval.
	ExpiryInterval time.Duration
	// PasswordHashCost is the bcrypt cost of new password hashes; 0 is
	// GoTrue's 10. Test stacks lower it: hashing at cost 10 under the race
	// detector, for dozens of users at once on a busy machine, takes longer
	// than the calls that wait for it.
	PasswordHashCost int
	// OnSupervision is called after every crash of PostgreSQL and every
	// restart, from the supervisor's goroutine (the runtime writes
	// run/state.json, which `sfp server status` reads).
	OnSupervision func(Supervision)
	// Trace logs the duration of each phase of the start at info level
	// (SFP_TRACE_START); without it at debug level.
	Trace bool
	// trace is the caller's trace (Runtime.Start), continued by Boot.
	trace *startTrace
}

// Instance is a running embedded tenant: its cluster, in-process servers and
// gateway listener.
type Instance struct {
	T         *tenant.Tenant
	Cluster   *postgres.Cluster
	StartedAt time.Time
	Applied   []migrate.Migration
	URL       string

	log      *slog.Logger
	opts     BootOptions
	services *services
	http     *http.Server
	listener net.Listener
	sup      *supervisor // nil until the services run
	obs      *observability
	failed   chan error // a component died, or PostgreSQL keeps crashing
	once     sync.Once
	reloadMu sync.Mutex // one key reload at a time
	// stopBackups ends the scheduled backups (nil without a schedule).
	stopBackups func()
}

// Boot starts the tenant: PostgreSQL (created on first start), the platform
// SQL and migrations, then auth, REST, realtime and the gateway on the
// tenant's API port. On error everything started so far is stopped again.
func Boot(ctx context.Context, t *tenant.Tenant, opts BootOptions) (inst *Instance, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Lines the servers log with a request's context carry its id.
	log = slog.New(requestid.LogHandler(log.Handler()))
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	tr := opts.trace
	if tr == nil {
		tr = newStartTrace(log, opts.Trace)
	}
	inst = &Instance{T: t, log: log, opts: opts, StartedAt: time.Now(), URL: t.URL(), failed: make(chan error, 4)}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			inst.Shutdown(sctx)
		}
	}()

	// Fail early, before touching the database, if the API port is taken.
	done := tr.phase("listeners (API and monitoring ports)")
	if !opts.DatabaseOnly {
		addr := net.JoinHostPort(t.Config.API.Host, strconv.Itoa(t.Config.API.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return inst, fmt.Errorf("start tenant %q: the API port %s is in use by another process; stop it or change api.port in %s: %w",
				t.Name(), addr, t.ConfigFile(), err)
		}
		inst.listener = limitConnections(l, t.Config.API, log)
		if err := inst.startObservability(); err != nil {
			return inst, err
		}
	}

	done()
	if err := inst.startCluster(ctx, tr, progress); err != nil {
		return inst, err
	}

	done = tr.phase("connect as supabase_admin")
	conn, err := migrate.Connect(ctx, inst.Cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres"))
	if err != nil {
		return inst, err
	}
	done()
	done = tr.phase("bootstrap (platform SQL, migrations, credentials key)")
	res, err := Bootstrap(ctx, conn, BootstrapOptions{
		Passwords:      t.Secrets.RolePasswords(),
		Migrations:     opts.Migrations,
		StampFile:      stampFile(t),
		SkipMigrations: opts.SkipMigrations,
		Progress:       progress,
		trace:          tr,
	})
	conn.Close(context.WithoutCancel(ctx))
	done()
	if res != nil {
		inst.Applied = res.Applied
	}
	if err != nil {
		return inst, err
	}
	if opts.DatabaseOnly {
		return inst, nil
	}

	done = tr.phase("keys (load, add missing)")
	if err := ensureKeys(t, progress); err != nil {
		return inst, err
	}
	done()
	progress("Starting auth, REST, realtime and the gateway")
	done = tr.phase("servers (auth, REST, realtime)")
	inst.services, err = startServices(ctx, inst, tr)
	if err != nil {
		return inst, err
	}
	done()
	done = tr.phase("monitoring pool")
	if err := inst.watch(ctx, inst.services); err != nil {
		return inst, err
	}
	done()
	done = tr.phase("admin user")
	if err := inst.services.bootstrapAdmin(ctx, progress); err != nil {
		return inst, err
	}
	done()
	inst.http = newHTTPServer(inst.services.handler, t.Config.API, log)
	go func() {
		if err := inst.http.Serve(inst.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			inst.fail(fmt.Errorf("gateway: %w", err))
		}
	}()
	inst.sup = newSupervisor(inst)
	inst.sup.start()
	inst.startBackups(ctx)
	return inst, nil
}

// startCluster creates the tenant's cluster on its first start and starts
// PostgreSQL, stopping first a server a dead sfp process left running.
func (inst *Instance) startCluster(ctx context.Context, tr *startTrace, progress func(string)) error {
	t := inst.T
	done := tr.phase("cluster config (binaries, archive settings)")
	startSettings, err := archiveSettings(t)
	if err != nil {
		return err
	}
	cluster, err := postgres.New(ctx, postgres.Config{
		DataDir:       t.DataDir(),
		Port:          t.Config.Postgres.Port,
		SuperPassword: t.Secrets.PostgresPassword,
		LogFile:       t.PostgresLog(),
		Logger:        inst.log,
		StartSettings: startSettings,
		SyncFS:        true,
		BinariesCache: filepath.Join(t.RunDir(), "pg-binaries.json"),
		Trace:         tr.record,
	})
	if err != nil {
		return err
	}
	inst.Cluster = cluster
	done()
	if !cluster.Initialized() {
		done := tr.phase("initdb (cluster creation)")
		progress("Creating the PostgreSQL cluster in " + t.DataDir())
		if err := cluster.Init(ctx); err != nil {
			// Leave nothing half-made: the next start initialises afresh.
			os.RemoveAll(t.DataDir())
			os.Remove(stampFile(t))
			return err
		}
		done()
	}
	// We hold the tenant's run lock, so a server still running on the data
	// directory was left by an sfp process that died (kill -9): it is
	// shutting down or orphaned. Stop it before starting afresh.
	if pid, running := cluster.Pid(); running {
		progress(fmt.Sprintf("Stopping PostgreSQL left running by a previous sfp process (pid %d)", pid))
		if err := cluster.Stop(ctx); err != nil && !errors.Is(err, postgres.ErrNotRunning) {
			return err
		}
	}
	progress(fmt.Sprintf("Starting PostgreSQL %s on 127.0.0.1:%d", cluster.Config().Binaries.Version, t.Config.Postgres.Port))
	done = tr.phase("postgres start (until ready)")
	defer done()
	return cluster.Start(ctx)
}

// Supervision reports the crashes and restarts of PostgreSQL since Boot.
func (i *Instance) Supervision() Supervision {
	if i.sup == nil {
		return Supervision{}
	}
	return i.sup.snapshot()
}

// archiveSettings turns backup.wal_archive on: the archive directory is
// made (0700, the server user's) and PostgreSQL archives every completed
// WAL segment into it. The settings go on the server's command line, so
// they follow tenant.yaml at every start.
func archiveSettings(t *tenant.Tenant) (map[string]string, error) {
	dir := t.Config.Backup.WALArchive
	if dir == "" {
		return nil, nil
	}
	if err := postgres.PrepareArchiveDir(dir); err != nil {
		return nil, fmt.Errorf("start tenant %q: backup.wal_archive: %w", t.Name(), err)
	}
	return postgres.ArchiveSettings(dir, strconv.Itoa(int(time.Duration(t.Config.Backup.ArchiveTimeout).Seconds()))+"s"), nil
}

func stampFile(t *tenant.Tenant) string { return filepath.Join(t.Dir, "platform.stamp") }

func (i *Instance) fail(err error) {
	select {
	case i.failed <- err:
	default:
	}
}

// Failed delivers an error when a component dies on its own.
func (i *Instance) Failed() <-chan error { return i.failed }

// Shutdown stops the gateway (draining requests), the servers (closing
// WebSockets with a reason) and PostgreSQL, in that order.
func (i *Instance) Shutdown(ctx context.Context) error {
	var errs []error
	i.once.Do(func() {
		if i.http != nil {
			i.log.Info("draining HTTP requests")
			if err := i.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop gateway: %w", err))
			}
		} else if i.listener != nil {
			i.listener.Close()
		}
		if i.services != nil {
			if err := i.services.close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if i.stopBackups != nil {
			i.stopBackups()
		}
		if i.sup != nil {
			// From here on an exit of PostgreSQL is ours.
			i.sup.stop()
		}
		if i.Cluster != nil {
			if _, running := i.Cluster.Pid(); running {
				if err := i.Cluster.Stop(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		}
		i.stopObservability(ctx)
	})
	return errors.Join(errs...)
}
