// Package postgres creates, starts and stops the PostgreSQL cluster of an
// embedded tenant: one cluster per tenant, listening on 127.0.0.1 only, with
// logical replication enabled for Realtime and SCRAM passwords everywhere.
//
// PostgreSQL refuses to run as root. When sfp runs as root, initdb and the
// server run as the `postgres` system user and the data directory is handed
// to it; everything else (log files, signals, supervision) stays with sfp.
package postgres

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Errors callers can test with errors.Is. The returned errors wrap them with
// the details (port, directory, pid, versions).
var (
	ErrPortInUse          = errors.New("port already in use")
	ErrDataDirInUse       = errors.New("data directory in use by a running PostgreSQL server")
	ErrVersionMismatch    = errors.New("data directory belongs to another PostgreSQL major version")
	ErrNotInitialized     = errors.New("data directory is not an initialised PostgreSQL cluster")
	ErrAlreadyInitialized = errors.New("data directory is already initialised")
	ErrNotRunning         = errors.New("PostgreSQL server is not running")
)

// DefaultSuperUser is the bootstrap superuser, named as in supabase/postgres.
const DefaultSuperUser = "supabase_admin"

// VaultKeyFile is the name of the Vault root key file inside the data
// directory; supabase/platform/30_vault.sql reads it with pg_read_file.
const VaultKeyFile = "sfp_vault_root.key"

// Config describes one cluster.
type Config struct {
	DataDir       string   // the cluster's data directory (PGDATA)
	Port          int      // TCP port on 127.0.0.1
	Binaries      Binaries // zero value: FindBinaries
	SuperUser     string   // bootstrap superuser; default supabase_admin
	SuperPassword string   // its password; required by Init
	// LogFile receives the server's stderr; default DataDir + ".log".
	LogFile string
	// NoSync trades durability for speed (initdb -N, fsync=off): tests only.
	NoSync bool
	// SyncFS makes Init flush the new cluster with one syncfs(2) of its
	// file system (initdb --no-sync, then the sync), as PostgreSQL 16's
	// `initdb --sync-method=syncfs` does, instead of initdb's fsync of each
	// of its thousand files, one journal commit after the other. The files
	// sfp writes into the new cluster (sfp.conf, pg_hba.conf, the Vault
	// root key) are flushed with it. It flushes whatever else is waiting
	// on that file system too; the embedded runtime turns it on, the
	// default is initdb's own way (the benchmarks' bare baseline).
	SyncFS bool
	// Settings are extra postgresql.conf settings written at Init.
	Settings map[string]string
	// StartSettings are given to the server on its command line at every
	// start (-c name=value), overriding the files: settings that follow
	// tenant.yaml rather than the cluster's creation (WAL archiving).
	StartSettings map[string]string
	// StopTimeout is how long a fast shutdown may take before the server is
	// stopped immediately; default 30s.
	StopTimeout time.Duration
	Logger      *slog.Logger
	// Trace, if set, is told how long each step of Init and Start took
	// (the embedded runtime's start trace).
	Trace func(step string, start, end time.Time)
	// BinariesCache, if set, is a file where the versions of the binaries
	// found are remembered between processes (FindBinariesCached).
	BinariesCache string
}

// Cluster manages one data directory. Its methods are safe for concurrent use.
type Cluster struct {
	cfg Config

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	logFile *os.File
}

// New validates cfg, finds the binaries if none were given, and returns a
// Cluster. It does not touch the data directory.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("postgres: DataDir is required")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("postgres: resolve data directory: %w", err)
	}
	cfg.DataDir = abs
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("postgres: invalid port %d", cfg.Port)
	}
	if cfg.SuperUser == "" {
		cfg.SuperUser = DefaultSuperUser
	}
	if cfg.LogFile == "" {
		cfg.LogFile = cfg.DataDir + ".log"
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Binaries.Dir == "" {
		b, err := FindBinariesCached(ctx, cfg.BinariesCache)
		if err != nil {
			return nil, err
		}
		cfg.Binaries = b
	}
	// The socket path must fit in sockaddr_un (107 bytes on Linux).
	if sock := filepath.Join(cfg.DataDir, ".s.PGSQL."+strconv.Itoa(cfg.Port)); len(sock) > 107 {
		return nil, fmt.Errorf("postgres: data directory path %s is too long for a unix socket inside it (%d bytes, limit 107); choose a shorter base directory", cfg.DataDir, len(sock))
	}
	return &Cluster{cfg: cfg}, nil
}

// Config returns the effective configuration.
func (c *Cluster) Config() Config { return c.cfg }

// DataDir returns the absolute data directory.
func (c *Cluster) DataDir() string { return c.cfg.DataDir }

// Port returns the TCP port.
func (c *Cluster) Port() int { return c.cfg.Port }

// Initialized reports whether the data directory holds a cluster.
func (c *Cluster) Initialized() bool {
	_, err := os.Stat(filepath.Join(c.cfg.DataDir, "PG_VERSION"))
	return err == nil
}

// ConnString returns a connection URL for user on database over TCP.
func (c *Cluster) ConnString(user, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Init creates a new cluster in the data directory: initdb (UTF8, SCRAM),
// the sfp settings, pg_hba.conf and the Vault root key file.
func (c *Cluster) Init(ctx context.Context) error {
	if c.cfg.SuperPassword == "" {
		return errors.New("init cluster: a superuser password is required")
	}
	if c.Initialized() {
		return fmt.Errorf("init cluster in %s: %w", c.cfg.DataDir, ErrAlreadyInitialized)
	}
	owner, err := serverOwner()
	if err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if err := os.MkdirAll(c.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("init cluster: create data directory: %w", err)
	}
	if entries, err := os.ReadDir(c.cfg.DataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("init cluster: data directory %s is not empty and holds no cluster; remove it or choose another", c.cfg.DataDir)
	}
	if err := owner.give(c.cfg.DataDir); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if err := owner.checkReachable(c.cfg.DataDir); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}

	// The password reaches initdb through a file only the server user can read.
	tmp, err := os.MkdirTemp("", "sfp-initdb-")
	if err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	defer os.RemoveAll(tmp)
	pwfile := filepath.Join(tmp, "pw")
	if err := os.WriteFile(pwfile, []byte(c.cfg.SuperPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if err := owner.give(tmp); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if err := owner.give(pwfile); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}

	args := []string{
		"-D", c.cfg.DataDir,
		"-U", c.cfg.SuperUser,
		"--pwfile=" + pwfile,
		"--encoding=UTF8",
		"--locale=C.UTF-8",
		"--auth=scram-sha-256",
	}
	if c.cfg.NoSync || c.cfg.SyncFS {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, c.cfg.Binaries.Path("initdb"), args...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.SysProcAttr = owner.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	c.cfg.Logger.Info("initialising PostgreSQL cluster", "dir", c.cfg.DataDir, "version", c.cfg.Binaries.Version)
	began := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("init cluster: initdb failed: %w\n%s", err, strings.TrimSpace(out.String()))
	}
	c.trace("postgres: initdb", began)

	if err := c.writeConfig(owner); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if err := c.writeVaultKey(owner); err != nil {
		return fmt.Errorf("init cluster: %w", err)
	}
	if c.cfg.SyncFS && !c.cfg.NoSync {
		began := time.Now()
		if err := syncFileSystem(c.cfg.DataDir); err != nil {
			return fmt.Errorf("init cluster: flush the new cluster to disk: %w", err)
		}
		c.trace("postgres: syncfs of the new cluster", began)
	}
	return nil
}

// syncFileSystem flushes every file of the file system dir is on, with
// syncfs(2): written back and its errors reported (Linux 5.8 and later
// report writeback errors to syncfs).
func syncFileSystem(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// settings are written to sfp.conf, included from postgresql.conf.
func (c *Cluster) settings() map[string]string {
	s := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(c.cfg.Port),
		"unix_socket_directories": quoteConf(c.cfg.DataDir),
		"password_encryption":     "'scram-sha-256'",
		"wal_level":               "logical",
		"max_wal_senders":         "10",
		"max_replication_slots":   "10",
		"max_connections":         "200",
		"shared_buffers":          "'128MB'",
		"max_slot_wal_keep_size":  "'1GB'",
		"wal_keep_size":           "'64MB'",
		"log_line_prefix":         "'%m [%p] %q%u@%d %a '",
		"log_timezone":            "'UTC'",
		"timezone":                "'UTC'",
	}
	if c.cfg.NoSync {
		s["fsync"] = "off"
		s["synchronous_commit"] = "off"
		s["full_page_writes"] = "off"
		// Logical decoding only sees flushed WAL: with asynchronous commits
		// a change would wait for the WAL writer's next round (200ms).
		s["wal_writer_delay"] = "'10ms'"
	}
	for k, v := range c.cfg.Settings {
		s[k] = v
	}
	return s
}

func quoteConf(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// settingsText is sfp.conf.
func (c *Cluster) settingsText() string {
	settings := c.settings()
	keys := slices.Sorted(maps.Keys(settings))
	var b strings.Builder
	b.WriteString("# Written by sfp when the cluster was created.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	return b.String()
}

func (c *Cluster) writeConfig(owner *serverUser) error {
	conf := filepath.Join(c.cfg.DataDir, "sfp.conf")
	if err := owner.writeFile(conf, []byte(c.settingsText()), 0o600); err != nil {
		return err
	}
	main := filepath.Join(c.cfg.DataDir, "postgresql.conf")
	f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, werr := f.WriteString("\n# sfp settings\ninclude 'sfp.conf'\ninclude_if_exists '" + RecoveryConfFile + "'\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write postgresql.conf: %w", werr)
	}
	hba := `# Written by sfp: SCRAM passwords for everyone, loopback and the socket only.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  scram-sha-256
host    all          all   127.0.0.1/32   scram-sha-256
local   replication  all                  scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
`
	return owner.writeFile(filepath.Join(c.cfg.DataDir, "pg_hba.conf"), []byte(hba), 0o600)
}

func (c *Cluster) writeVaultKey(owner *serverUser) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate vault root key: %w", err)
	}
	return owner.writeFile(filepath.Join(c.cfg.DataDir, VaultKeyFile), []byte(hex.EncodeToString(key)+"\n"), 0o600)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil && !c.hasExited() {
		return nil
	}
	began := time.Now()
	if err := c.preflight(); err != nil {
		return err
	}
	if err := c.reapOrphans(ctx); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	owner, err := serverOwner()
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	if err := owner.checkReachable(c.cfg.DataDir); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	if err := owner.giveTree(c.cfg.DataDir); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.cfg.LogFile), 0o755); err != nil {
		return fmt.Errorf("start cluster: create log directory: %w", err)
	}
	logf, err := os.OpenFile(c.cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start cluster: open log file: %w", err)
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)

	args := []string{
		"-D", c.cfg.DataDir,
		"-p", strconv.Itoa(c.cfg.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.cfg.DataDir,
	}
	names := make([]string, 0, len(c.cfg.StartSettings))
	for k := range c.cfg.StartSettings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "-c", k+"="+c.cfg.StartSettings[k])
	}
	cmd := exec.Command(c.cfg.Binaries.Path("postgres"), args...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := owner.sysProcAttr()
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	// Own process group: a Ctrl-C in the terminal reaches sfp only, which then
	// stops its servers in order. If sfp dies, the kernel asks the server for a
	// fast shutdown, so a crash leaves no orphan holding the data directory.
	attr.Setpgid = true
	attr.Pdeathsig = syscall.SIGINT
	cmd.SysProcAttr = attr

	c.cfg.Logger.Info("starting PostgreSQL", "dir", c.cfg.DataDir, "port", c.cfg.Port)
	c.trace("postgres: checks before start (pid file, orphans, ownership, port)", began)
	spawned := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start cluster: %w", err)
	}
	c.cmd, c.logFile = cmd, logf
	c.exited = make(chan struct{})
	c.exitErr = nil
	go func(cmd *exec.Cmd, exited chan struct{}) {
		// No lock here: Start holds c.mu while it waits for readiness. The
		// exit error is published by closing exited.
		c.exitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}(cmd, c.exited)

	if err := c.waitReady(ctx, cmd.Process.Pid, c.exited); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-c.exited
		return fmt.Errorf("start cluster: %w%s", err, c.logTail(logStart))
	}
	c.trace("postgres: spawn until ready", spawned)
	return nil
}

// trace reports a step that began at start and ends now.
func (c *Cluster) trace(step string, start time.Time) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(step, start, time.Now())
	}
}

func (c *Cluster) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// preflight turns the usual reasons a server would fail to start into clear
// errors before it is started.
func (c *Cluster) preflight() error {
	dir := c.cfg.DataDir
	raw, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("start cluster: %s: %w", dir, ErrNotInitialized)
		}
		return fmt.Errorf("start cluster: read PG_VERSION: %w", err)
	}
	major, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if major != c.cfg.Binaries.Major {
		return fmt.Errorf("start cluster: data directory %s was created by PostgreSQL %d, but the binaries in %s are PostgreSQL %s; "+
			"use PostgreSQL %d binaries (set SFP_PG_BIN) or upgrade the cluster with pg_upgrade: %w",
			dir, major, c.cfg.Binaries.Dir, c.cfg.Binaries.Version, major, ErrVersionMismatch)
	}
	if pid, ok := runningPostmaster(dir); ok {
		return fmt.Errorf("start cluster: data directory %s is in use by a running PostgreSQL server (pid %d); stop it first: %w", dir, pid, ErrDataDirInUse)
	}
	// A pid file whose process is gone is stale (a crash, a kill -9): remove
	// it so a reused pid cannot confuse the server.
	_ = os.Remove(filepath.Join(dir, "postmaster.pid"))
	if err := portFree(c.cfg.Port); err != nil {
		return fmt.Errorf("start cluster: port %d on 127.0.0.1 is already in use by another process; choose another port or stop that process: %w", c.cfg.Port, ErrPortInUse)
	}
	return nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// waitReady polls postmaster.pid until the server reports "ready".
func (c *Cluster) waitReady(ctx context.Context, pid int, exited chan struct{}) error {
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	// Reading the pid file is cheap: a short interval makes a start end
	// when the server is ready, not up to a long interval later.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, p := postmasterStatus(c.cfg.DataDir); p == pid && st == "ready" {
			return nil
		}
		select {
		case <-exited:
			return errors.New("PostgreSQL exited during startup")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errors.New("PostgreSQL did not become ready within 2 minutes")
		case <-tick.C:
		}
	}
}

// ReadLog returns what a server log at path holds from offset from on, at
// most limit bytes ("" when it cannot be read): what one start wrote, when
// from is the log's size before it.
func ReadLog(path string, from, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, limit))
	return string(b)
}

func (c *Cluster) logTail(from int64) string {
	s := strings.TrimSpace(ReadLog(c.cfg.LogFile, from, 16<<10))
	if s == "" {
		return ""
	}
	return "\nserver log (" + c.cfg.LogFile + "):\n" + s
}

// Done is closed when a server started by this Cluster exits. It is nil
// before the first Start.
func (c *Cluster) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exited
}

// ExitError returns how the server started by Start exited, once Done is
// closed (nil for a clean shutdown).
func (c *Cluster) ExitError() error {
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return c.exitErr
	default:
		return nil
	}
}

// Pid returns the postmaster's pid, if one is running on the data directory.
func (c *Cluster) Pid() (int, bool) { return runningPostmaster(c.cfg.DataDir) }

// Stop shuts the server down: a fast shutdown (sessions are rolled back, a
// checkpoint is written), then an immediate one if that takes longer than
// StopTimeout or ctx ends. It also stops a server on this data directory that
// another process started.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd != nil && exited != nil {
		select {
		case <-exited:
			return nil
		default:
		}
		c.cfg.Logger.Info("stopping PostgreSQL", "dir", c.cfg.DataDir)
		_ = cmd.Process.Signal(syscall.SIGINT)
		t := time.NewTimer(c.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-exited:
			return nil
		case <-t.C:
		case <-ctx.Done():
		}
		c.cfg.Logger.Warn("PostgreSQL fast shutdown timed out; stopping immediately", "dir", c.cfg.DataDir)
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
		return nil
	}
	pid, ok := runningPostmaster(c.cfg.DataDir)
	if !ok {
		return fmt.Errorf("stop cluster %s: %w", c.cfg.DataDir, ErrNotRunning)
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	if waitGone(ctx, pid, c.cfg.StopTimeout) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	if waitGone(context.Background(), pid, 30*time.Second) {
		return nil
	}
	return fmt.Errorf("stop cluster %s: server (pid %d) did not exit", c.cfg.DataDir, pid)
}

func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return !processAlive(pid)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return !processAlive(pid)
}

// postmasterStatus reads the pid and status line of postmaster.pid.
func postmasterStatus(dir string) (status string, pid int) {
	f, err := os.Open(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return "", 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 1; sc.Scan(); i++ {
		line := strings.TrimSpace(sc.Text())
		switch i {
		case 1:
			pid, _ = strconv.Atoi(line)
		case 8:
			status = line
		}
	}
	return status, pid
}

// runningPostmaster returns the pid in postmaster.pid if that process is
// alive and is a PostgreSQL server.
func runningPostmaster(dir string) (int, bool) {
	_, pid := postmasterStatus(dir)
	if pid <= 0 || !processAlive(pid) {
		return 0, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err == nil && !strings.Contains(string(comm), "postgres") && !strings.Contains(string(comm), "postmaster") {
		return 0, false // the pid was reused by an unrelated process
	}
	return pid, true
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err == nil || errors.Is(err, syscall.EPERM) {
		// A zombie is not alive: it only waits for its parent to reap it.
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				return false
			}
		}
		return true
	}
	return false
}

// serverEnv is the environment of initdb and postgres: no PG* variables of
// the caller leak into the server.
func serverEnv() []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC"}
}
