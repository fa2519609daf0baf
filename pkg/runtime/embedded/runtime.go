// Package embedded runs a tenant as one sfp process plus a PostgreSQL
// cluster it creates and supervises: the default runtime, for development,
// tests, CI, single-machine tenants and machines without Docker.
package embedded

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Options configure the embedded runtime.
type Options struct {
	Logger *slog.Logger
	// Executable is the sfp binary that --detach re-executes; default
	// os.Executable.
	Executable func() (string, error)
	// Migrations replaces the embedded migrations; SFP_MIGRATIONS_DIR sets
	// it from the CLI (a development aid).
	Migrations fs.FS
	// ChildArgs are extra arguments for the detached child (the CLI passes
	// its global flags).
	ChildArgs []string
	// SkipMigrations starts without migrating (the restart after a failed
	// update).
	SkipMigrations bool
	// Trace logs each phase of a start with its duration at info level
	// (the CLI sets it from SFP_TRACE_START; see TraceEnv).
	Trace bool
}

// Runtime is the embedded runtime.
type Runtime struct{ opts Options }

// New returns the embedded runtime.
func New(opts Options) *Runtime {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Executable == nil {
		opts.Executable = os.Executable
	}
	return &Runtime{opts: opts}
}

var _ runtime.Runtime = (*Runtime)(nil)

// Init has nothing to add: the cluster is created on first start.
func (r *Runtime) Init(ctx context.Context, t *tenant.Tenant) error { return nil }

// state is run/state.json, written by the running process.
type state struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	URL       string    `json:"url"`
	Ready     bool      `json:"ready"`
	Applied   []string  `json:"applied_migrations"`
	// PostgreSQL's supervision since the start.
	PostgresRestarts   int            `json:"postgres_restarts"`
	LastPostgresCrash  *runtime.Crash `json:"last_postgres_crash,omitempty"`
	PostgresRestarting bool           `json:"postgres_restarting,omitempty"`
	// KeysVersion is the tenant.KeysVersion of the keys the services use;
	// set once the process reloads keys on ReloadSignal.
	KeysVersion string `json:"keys_version,omitempty"`
}

func writeState(t *tenant.Tenant, s state) error {
	b, _ := json.Marshal(s)
	tmp := t.StateFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return os.Rename(tmp, t.StateFile())
}

func readState(t *tenant.Tenant) (state, bool) {
	var s state
	b, err := os.ReadFile(t.StateFile())
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

// Start runs the tenant in the foreground until ctx is done, or with
// Detach starts a background sfp process and returns once it is ready.
func (r *Runtime) Start(ctx context.Context, t *tenant.Tenant, opts runtime.StartOptions) error {
	tr := newStartTrace(r.opts.Logger, r.opts.Trace)
	if opts.Detach {
		return r.startDetached(ctx, t, opts, tr)
	}
	tr.spawned()
	notify := readyNotifier()
	defer notify.Close()
	done := tr.phase("run lock")
	lock, err := t.Lock()
	if err != nil {
		return err
	}
	defer lock.Release()
	done()
	// The state file is written once the tenant is ready, and again after
	// every crash and restart of PostgreSQL (from the supervisor).
	var (
		stateMu sync.Mutex
		current *state // nil until ready
	)
	saveState := func(sv Supervision) {
		stateMu.Lock()
		defer stateMu.Unlock()
		if current == nil {
			return
		}
		current.PostgresRestarts, current.LastPostgresCrash, current.PostgresRestarting = sv.Restarts, sv.LastCrash, sv.Restarting
		if err := writeState(t, *current); err != nil {
			r.opts.Logger.Warn("could not write state file", "err", err)
		}
	}
	inst, err := Boot(ctx, t, BootOptions{Logger: r.opts.Logger, Progress: opts.Progress, Migrations: r.opts.Migrations,
		SkipMigrations: r.opts.SkipMigrations, OnSupervision: saveState, trace: tr})
	if err != nil {
		return err // Boot says what failed; its port check names the tenant
	}
	var applied []string
	for _, m := range inst.Applied {
		applied = append(applied, m.File)
	}
	// Changed keys are taken on ReloadSignal, from the keys commands; the
	// state file says so (keys_version) only once the handler is in place.
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, ReloadSignal)
	defer signal.Stop(reload)
	stateMu.Lock()
	current = &state{PID: os.Getpid(), StartedAt: inst.StartedAt, URL: inst.URL, Ready: true, Applied: applied, KeysVersion: inst.KeysVersion()}
	stateMu.Unlock()
	done = tr.phase("state file (ready)")
	saveState(inst.Supervision())
	notify.ready()
	done()
	tr.record("whole start in this process", tr.begin, time.Now())
	if opts.Ready != nil {
		opts.Ready(runtime.Info{Tenant: t.Name(), Runtime: string(tenant.RuntimeEmbedded), URL: inst.URL, PID: os.Getpid(),
			EnvFile: t.EnvFile(), LogFile: t.SfpLog(), StartedAt: inst.StartedAt, Applied: applied})
	}
	r.opts.Logger.Info("tenant ready", "tenant", t.Name(), "url", inst.URL)
	var runErr error
run:
	for {
		select {
		case <-ctx.Done():
			r.opts.Logger.Info("shutting down", "tenant", t.Name())
			break run
		case runErr = <-inst.Failed():
			r.opts.Logger.Error("component failed; shutting down", "err", runErr)
			break run
		case <-reload:
			v, err := inst.ReloadKeys(ctx)
			if err != nil {
				// The previous keys stay in use; the command that asked
				// waits for the new version in vain and says so.
				r.opts.Logger.Error("could not reload keys; the previous keys stay in use", "err", err)
				continue
			}
			stateMu.Lock()
			current.KeysVersion = v
			stateMu.Unlock()
			saveState(inst.Supervision())
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := inst.Shutdown(sctx); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// ChildFlag marks the detached child process (a hidden flag of
// `sfp server start`).
const ChildFlag = "--detached-child"

func (r *Runtime) startDetached(ctx context.Context, t *tenant.Tenant, opts runtime.StartOptions, tr *startTrace) error {
	if running, pid := t.Running(); running {
		return fmt.Errorf("tenant %q is already running (pid %d): %w", t.Name(), pid, tenant.ErrRunning)
	}
	exe, err := r.opts.Executable()
	if err != nil {
		return fmt.Errorf("start detached: find the sfp binary: %w", err)
	}
	if err := os.MkdirAll(t.LogDir(), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(t.SfpLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start detached: open log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)
	os.Remove(t.StateFile())

	args := append([]string{"server", "start", "-t", t.Name(), ChildFlag}, r.opts.ChildArgs...)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Stdin = nil
	cmd.Env = os.Environ()
	if tr.enabled() {
		cmd.Env = append(cmd.Env, traceSpawnEnv+"="+strconv.FormatInt(time.Now().UnixNano(), 10))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives the terminal
	woken, started, stopWaiting, err := passReadyPipe(cmd)
	if err != nil {
		return fmt.Errorf("start detached: %w", err)
	}
	defer stopWaiting()
	err = cmd.Start()
	started()
	if err != nil {
		return fmt.Errorf("start detached: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if opts.Progress != nil {
		opts.Progress(fmt.Sprintf("Started sfp in the background (pid %d); logs in %s", pid, t.SfpLog()))
	}
	// Relay the child's progress lines from its log while waiting.
	relay := &progressRelay{path: t.SfpLog(), offset: logStart, progress: opts.Progress}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for {
		relay.poll()
		if s, ok := readState(t); ok && s.Ready && s.PID == pid {
			relay.poll()
			tr.record("detached start: parent until the child's state file says ready", tr.begin, time.Now())
			if opts.Ready != nil {
				opts.Ready(runtime.Info{Tenant: t.Name(), Runtime: string(tenant.RuntimeEmbedded), URL: s.URL, PID: pid,
					EnvFile: t.EnvFile(), LogFile: t.SfpLog(), StartedAt: s.StartedAt, Applied: s.Applied})
			}
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("start tenant %q: the background sfp process exited (%v)%s", t.Name(), err, logTail(t.SfpLog(), logStart))
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGTERM)
			return ctx.Err()
		case <-deadline:
			_ = syscall.Kill(pid, syscall.SIGTERM)
			return fmt.Errorf("start tenant %q: not ready after 3 minutes%s", t.Name(), logTail(t.SfpLog(), logStart))
		case <-tick.C:
		case <-woken:
			woken = nil // one wake-up; the ticker goes on
		}
	}
}

// progressRelay forwards the "• step" lines a detached child writes to its
// log to the parent's progress output.
type progressRelay struct {
	path     string
	offset   int64
	partial  string
	progress func(string)
}

func (p *progressRelay) poll() {
	if p.progress == nil {
		return
	}
	f, err := os.Open(p.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(p.offset, io.SeekStart); err != nil {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	p.offset += int64(len(b))
	lines := strings.Split(p.partial+string(b), "\n")
	p.partial = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if step, ok := strings.CutPrefix(l, "• "); ok {
			p.progress(step)
		}
	}
}

func logTail(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	f.Seek(from, io.SeekStart)
	b, _ := io.ReadAll(io.LimitReader(f, 16<<10))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return "\n" + path + ":\n" + s
}

// Stop signals the tenant's sfp process and waits for it to shut down. A
// PostgreSQL server left on the data directory (by a killed sfp) is stopped
// too.
func (r *Runtime) Stop(ctx context.Context, t *tenant.Tenant) (bool, error) {
	stopped := false
	if running, pid := t.Running(); running && pid > 0 {
		stopped = true
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitStopped(ctx, t, 60*time.Second) {
			r.opts.Logger.Warn("sfp did not stop in time; killing it", "pid", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !waitStopped(ctx, t, 10*time.Second) {
				return true, fmt.Errorf("stop tenant %q: process %d did not exit", t.Name(), pid)
			}
		}
	}
	cluster, err := postgres.New(ctx, postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port, LogFile: t.PostgresLog(), Logger: r.opts.Logger})
	if err != nil {
		return stopped, err
	}
	// The kernel asks an orphaned server to shut down when sfp dies; give it
	// a moment, then stop whatever is left.
	for i := 0; i < 100; i++ {
		if _, up := cluster.Pid(); !up {
			return stopped, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cluster.Stop(ctx); err != nil && !errors.Is(err, postgres.ErrNotRunning) {
		return true, fmt.Errorf("stop tenant %q: %w", t.Name(), err)
	}
	return true, nil
}

func waitStopped(ctx context.Context, t *tenant.Tenant, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if running, _ := t.Running(); !running {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// Status reports the process, PostgreSQL and each HTTP component.
func (r *Runtime) Status(ctx context.Context, t *tenant.Tenant) (*runtime.Status, error) {
	st := &runtime.Status{Tenant: t.Name(), Runtime: string(tenant.RuntimeEmbedded), URL: t.URL()}
	running, pid := t.Running()
	st.Running, st.PID = running, pid
	s, haveState := readState(t)
	haveState = haveState && running
	if haveState {
		started := s.StartedAt
		st.StartedAt = &started
		st.UptimeSeconds = int64(time.Since(started).Seconds())
		st.PostgresRestarts, st.LastPostgresCrash = s.PostgresRestarts, s.LastPostgresCrash
	}
	pg := runtime.Component{Name: "postgres", State: runtime.StateDown, Address: "127.0.0.1:" + strconv.Itoa(t.Config.Postgres.Port)}
	cluster, err := postgres.New(ctx, postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port, LogFile: t.PostgresLog()})
	if err == nil {
		if ppid, up := cluster.Pid(); up {
			pg.State = runtime.StateUp
			pg.Detail = "pid " + strconv.Itoa(ppid)
			if v, err := schemaVersion(ctx, cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres")); err == nil {
				st.SchemaVersion = v
			} else {
				pg.Detail += "; " + err.Error()
			}
		} else if !cluster.Initialized() {
			pg.Detail = "not created yet (first start creates it)"
		} else if haveState && s.PostgresRestarting {
			pg.Detail = "restarting after a crash"
		}
	} else {
		pg.Detail = err.Error()
	}
	st.Components = append(st.Components, pg)
	st.Components = append(st.Components, probeHTTP(ctx, t, running)...)
	if b, err := backup.List(t); err == nil {
		st.Backups = b
	}
	st.Monitoring = monitoringStatus(ctx, t, running)
	return st, nil
}

func schemaVersion(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := migrate.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate.Latest(ctx, conn)
}

// probes are the requests through the gateway that tell whether a component
// answers: any response that is not a server or gateway error counts as up
// (the gateway's own answer to "/" is Kong's 401, realtime's API answers a
// GET with 405: both are the component answering). REST's root is for
// service_role only (kong.yml), so that probe sends the secret key.
var probes = []struct {
	name, path string
	service    bool
}{
	{"gateway", "/", false},
	{"auth", "/auth/v1/health", false},
	{"rest", "/rest/v1/", true},
	{"realtime", "/realtime/v1/api/broadcast", false},
}

func probeHTTP(ctx context.Context, t *tenant.Tenant, running bool) []runtime.Component {
	client := &http.Client{Timeout: 3 * time.Second}
	var out []runtime.Component
	for _, p := range probes {
		c := runtime.Component{Name: p.name, State: runtime.StateDown, Address: t.URL() + p.path}
		if !running {
			out = append(out, c)
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.URL()+p.path, nil)
		key := t.Secrets.PublishableKey
		if p.service {
			key = t.Secrets.SecretKey
		}
		req.Header.Set("apikey", key)
		resp, err := client.Do(req)
		if err != nil {
			c.Detail = err.Error()
		} else {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode < 500 || (p.name == "gateway" && resp.StatusCode != http.StatusBadGateway) {
				c.State = runtime.StateUp
				c.Detail = "answering"
			} else {
				c.Detail = "HTTP " + strconv.Itoa(resp.StatusCode)
			}
		}
		out = append(out, c)
	}
	return out
}

// Logs prints sfp.log (or postgres.log).
func (r *Runtime) Logs(ctx context.Context, t *tenant.Tenant, opts runtime.LogOptions, w io.Writer) error {
	path := t.SfpLog()
	switch opts.Source {
	case "", "sfp":
	case "postgres":
		path = t.PostgresLog()
	default:
		return fmt.Errorf("unknown log %q: use sfp or postgres", opts.Source)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && opts.Follow {
		// Not started yet: wait for the file.
		for err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			f, err = os.Open(path)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no log yet: %s does not exist (the tenant has not been started detached)", path)
	} else if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if err := tailLines(f, opts.Tail, w); err != nil {
		return err
	}
	if !opts.Follow {
		return nil
	}
	rd := bufio.NewReader(f)
	for {
		line, err := rd.ReadString('\n')
		if line != "" {
			if _, werr := io.WriteString(w, line); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}

// tailLines copies the last n lines of f (all when n <= 0) to w and leaves
// f positioned at its end.
func tailLines(f *os.File, n int, w io.Writer) error {
	if n <= 0 {
		_, err := io.Copy(w, f)
		return err
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	_, err := f.Seek(0, io.SeekEnd)
	return err
}

// Update stops the tenant, applies pending migrations and starts it again
// in the background. If a migration fails, the tenant is started again on
// the schema it has (without migrating) and the error is returned.
func (r *Runtime) Update(ctx context.Context, t *tenant.Tenant, opts runtime.UpdateOptions) (*runtime.UpdateResult, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res := &runtime.UpdateResult{}
	if running, _ := t.Running(); running {
		res.WasRunning = true
		progress("Stopping the tenant")
		if _, err := r.Stop(ctx, t); err != nil {
			return res, err
		}
	}
	lock, err := t.Lock()
	if err != nil {
		return res, err
	}
	inst, bootErr := Boot(ctx, t, BootOptions{Logger: r.opts.Logger, Progress: progress, Migrations: r.opts.Migrations, DatabaseOnly: true})
	if inst != nil {
		res.Applied = inst.Applied
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		inst.Shutdown(sctx)
		cancel()
	}
	lock.Release()
	if !res.WasRunning {
		return res, bootErr
	}
	restart := r
	if bootErr != nil {
		progress("Migration failed; starting the previous services again")
		o := r.opts
		o.SkipMigrations = true
		o.ChildArgs = append(append([]string{}, o.ChildArgs...), "--no-migrate")
		restart = New(o)
	} else {
		progress("Starting the tenant again")
	}
	if err := restart.Start(ctx, t, runtime.StartOptions{Detach: true, Progress: progress}); err != nil {
		return res, errors.Join(bootErr, fmt.Errorf("restart tenant: %w", err))
	}
	res.Restarted = true
	return res, bootErr
}
