package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/logtest"
)

const childEnv = "SFP_POSTGRES_TEST_CHILD_DIR"

// TestMain doubles as the child process of TestStartStopAsNonRoot: with
// childEnv set it runs a cluster lifecycle in that directory and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := lifecycle(context.Background(), dir); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		fmt.Println("child lifecycle ok as uid", os.Geteuid())
		os.Exit(0)
	}
	if _, err := FindBinaries(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "these tests need PostgreSQL server binaries: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testDir returns a directory the server user can reach (t.TempDir is 0700
// and root-owned, which the postgres user cannot traverse).
func testDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newCluster(t testing.TB, dir string, port int) *Cluster {
	t.Helper()
	c, err := New(context.Background(), Config{
		DataDir: filepath.Join(dir, "data"), Port: port, SuperPassword: "s3cret-pw", NoSync: true,
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

// lifecycle initialises, starts, queries, stops and restarts a cluster.
func lifecycle(ctx context.Context, dir string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c, err := New(ctx, Config{DataDir: filepath.Join(dir, "data"), Port: port, SuperPassword: "pw-123", NoSync: true})
	if err != nil {
		return err
	}
	if err := c.Init(ctx); err != nil {
		return err
	}
	for round := 0; round < 2; round++ {
		if err := c.Start(ctx); err != nil {
			return fmt.Errorf("start (round %d): %w", round, err)
		}
		conn, err := pgx.Connect(ctx, c.ConnString("supabase_admin", "pw-123", "postgres"))
		if err != nil {
			c.Stop(ctx)
			return fmt.Errorf("connect: %w", err)
		}
		var wal, listen, enc string
		err = conn.QueryRow(ctx, "select current_setting('wal_level'), current_setting('listen_addresses'), current_setting('server_encoding')").Scan(&wal, &listen, &enc)
		conn.Close(ctx)
		if err != nil {
			c.Stop(ctx)
			return err
		}
		if wal != "logical" || listen != "127.0.0.1" || enc != "UTF8" {
			c.Stop(ctx)
			return fmt.Errorf("settings wal_level=%s listen_addresses=%s encoding=%s", wal, listen, enc)
		}
		pid, ok := c.Pid()
		if !ok {
			return errors.New("no postmaster pid while running")
		}
		if err := c.Stop(ctx); err != nil {
			return err
		}
		if processAlive(pid) {
			return fmt.Errorf("postmaster %d still alive after Stop", pid)
		}
	}
	return nil
}

func TestStartStop(t *testing.T) {
	dir := testDir(t)
	if err := lifecycle(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, dir, freePort(t))
	// The data directory belongs to the server user and is private.
	fi, err := os.Stat(c.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %o, want 0700", fi.Mode().Perm())
	}
	key, err := os.Stat(filepath.Join(c.DataDir(), VaultKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if key.Mode().Perm() != 0o600 {
		t.Errorf("vault key mode %o, want 0600", key.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		u, _ := user.Lookup(ServerUserName)
		if strconv.Itoa(int(st.Uid)) != u.Uid {
			t.Errorf("as root, the data directory is owned by uid %d, want the postgres user (%s)", st.Uid, u.Uid)
		}
	}
}

// As root, the cluster runs as the postgres user (TestStartStop); this runs
// the same lifecycle from a non-root process: the test binary re-executed as
// the postgres user.
func TestStartStopAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not root: TestStartStop above already ran as a non-root user.
		if err := lifecycle(context.Background(), testDir(t)); err != nil {
			t.Fatal(err)
		}
		return
	}
	u, err := user.Lookup(ServerUserName)
	if err != nil {
		t.Fatalf("as root these tests need the %s user: %v", ServerUserName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := testDir(t)
	bin := filepath.Join(dir, "postgres.test")
	copyFile(t, os.Args[0], bin)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), childEnv+"="+work, "HOME="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("non-root lifecycle: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "child lifecycle ok as uid "+u.Uid) {
		t.Fatalf("unexpected child output:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBinariesNotFound(t *testing.T) {
	_, err := findBinaries(context.Background(), searchSpec{pathDirs: []string{t.TempDir()}, globRoots: []string{filepath.Join(t.TempDir(), "*")}})
	if !errors.Is(err, ErrBinariesNotFound) {
		t.Fatalf("want ErrBinariesNotFound, got %v", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "SFP_PG_BIN") {
		t.Errorf("message does not say how to install: %v", err)
	}
	_, err = findBinaries(context.Background(), searchSpec{envDir: "/nonexistent/pg/bin"})
	if !errors.Is(err, ErrBinariesNotFound) || !strings.Contains(err.Error(), "SFP_PG_BIN=/nonexistent/pg/bin") {
		t.Errorf("bad SFP_PG_BIN: %v", err)
	}
}

func TestFindBinariesPrefersNewest(t *testing.T) {
	real, err := FindBinaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Two fake version directories wrapping the real binaries' version output.
	root := t.TempDir()
	for _, v := range []string{"12", "99"} {
		d := filepath.Join(root, v, "bin")
		os.MkdirAll(d, 0o755)
		script := fmt.Sprintf("#!/bin/sh\necho 'postgres (PostgreSQL) %s.1'\n", v)
		os.WriteFile(filepath.Join(d, "postgres"), []byte(script), 0o755)
		os.WriteFile(filepath.Join(d, "initdb"), []byte("#!/bin/sh\n"), 0o755)
	}
	b, err := findBinaries(context.Background(), searchSpec{globRoots: []string{filepath.Join(root, "*", "bin")}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Major != 99 || b.Dir != filepath.Join(root, "99", "bin") {
		t.Errorf("picked %+v, want version 99", b)
	}
	if real.Major < 13 {
		t.Errorf("real binaries version %s is too old", real.Version)
	}
}

func TestPortInUse(t *testing.T) {
	dir := testDir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	c := newCluster(t, dir, port)
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = c.Start(context.Background())
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)) {
		t.Fatalf("want port-in-use error naming port %d, got %v", port, err)
	}
}

func TestDataDirInUseAndStalePidFile(t *testing.T) {
	ctx := context.Background()
	dir := testDir(t)
	a := newCluster(t, dir, freePort(t))
	if err := a.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid, _ := a.Pid()
	// A second manager (another sfp process) on the same directory.
	b := newCluster(t, dir, freePort(t))
	err := b.Start(ctx)
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", pid)) {
		t.Fatalf("want data-directory-in-use error naming pid %d, got %v", pid, err)
	}
	// The other manager can still stop it (sfp server stop after a crash).
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Fatal("server still running")
	}

	// A pid file left by a server killed with -9, whose pid now belongs to an
	// unrelated process, does not block the next start.
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	stale := fmt.Sprintf("%d\n%s\n0\n%d\n\n127.0.0.1\n0 0\nready\n", sleeper.Process.Pid, a.DataDir(), a.Port())
	if err := os.WriteFile(filepath.Join(a.DataDir(), "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatalf("start over a stale pid file: %v", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOtherMajorVersion(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, testDir(t), freePort(t))
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	other := c.cfg.Binaries.Major - 1
	if err := os.WriteFile(filepath.Join(c.DataDir(), "PG_VERSION"), []byte(strconv.Itoa(other)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := c.Start(ctx)
	if !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("want ErrVersionMismatch, got %v", err)
	}
	for _, want := range []string{"PostgreSQL " + strconv.Itoa(other), "pg_upgrade", "SFP_PG_BIN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}

func TestNotInitializedAndDoubleInit(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, testDir(t), freePort(t))
	if err := c.Start(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("start before init: %v", err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second init: %v", err)
	}
	if err := c.Stop(ctx); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("stop when not running: %v", err)
	}
}

func TestUnreachableDirectoryAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the data directory to another user")
	}
	parent := t.TempDir() // 0700, root-owned
	if err := os.Chmod(filepath.Dir(parent), 0o755); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(parent, "locked")
	os.Mkdir(locked, 0o700)
	c, err := New(context.Background(), Config{DataDir: filepath.Join(locked, "data"), Port: freePort(t), SuperPassword: "x", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Init(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "chmod o+x") {
		t.Fatalf("want a clear unreachable-directory error, got %v", err)
	}
}

func TestFailedStartShowsServerLog(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, testDir(t), freePort(t))
	c.cfg.Settings = map[string]string{"shared_buffers": "'not-a-size'"}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	err := c.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "shared_buffers") || !strings.Contains(err.Error(), "server log") {
		t.Fatalf("want the server's complaint in the error, got %v", err)
	}
}

// After a kill -9 of the postmaster, a backend busy computing does not
// notice and keeps the old shared memory; PostgreSQL refuses to start
// while it does. Start stops such leftovers (as the postmaster would after
// a crash) and starts.
func TestStartAfterPostmasterKilled(t *testing.T) {
	dir := testDir(t)
	var logs logtest.Buffer
	c, err := New(context.Background(), Config{
		DataDir: filepath.Join(dir, "data"), Port: freePort(t), SuperPassword: "s3cret-pw", NoSync: true,
		StopTimeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.ConnString("supabase_admin", "s3cret-pw", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var backend int
	if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	busy := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "do $$ begin loop perform 1; end loop; end $$")
		busy <- err
	}()
	// The loop has started once the backend reports it as active.
	other, err := pgx.Connect(ctx, c.ConnString("supabase_admin", "s3cret-pw", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		var state string
		if err := other.QueryRow(ctx, "select coalesce(state, '') from pg_stat_activity where pid = $1", backend).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "active" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	other.Close(ctx)

	pid, _ := c.Pid()
	exited := c.Done()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	if left := c.orphans(); !slices.Contains(left, backend) {
		t.Fatalf("leftovers %v do not include the busy backend %d", left, backend)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start after the postmaster was killed: %v", err)
	}
	if err := <-busy; err == nil {
		t.Error("the busy backend's statement ended without an error")
	}
	if processAlive(backend) {
		t.Errorf("the busy backend %d is still alive", backend)
	}
	if !strings.Contains(logs.String(), "still running") {
		t.Errorf("no warning about the leftovers in the log:\n%s", logs.String())
	}
	check, err := pgx.Connect(ctx, c.ConnString("supabase_admin", "s3cret-pw", "postgres"))
	if err != nil {
		t.Fatalf("connect after the restart: %v", err)
	}
	check.Close(ctx)
}
