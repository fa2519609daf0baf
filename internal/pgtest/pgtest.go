// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per
// test package (started in TestMain), a template database with the platform
// SQL and the tenant migrations applied once, and a fresh database cloned from
// the template for each test.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := pgtest.NewDB(t)
//		err := db.AsRole(ctx, pgtest.User(uid), func(tx pgx.Tx) error { … })
//	}
//
// A test binary that cannot find PostgreSQL fails with a message saying how
// to install it; it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/platform"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/supabase"
)

// TemplateDB is the name of the template database.
const TemplateDB = "sfp_template"

// Options change what Main prepares.
type Options struct {
	// SkipMigrations leaves the template with the platform SQL only (for the
	// tests of the migration runner itself).
	SkipMigrations bool
	// SkipPlatform leaves the template empty (implies SkipMigrations).
	SkipPlatform bool
}

// Cluster is the package's shared test cluster.
type Cluster struct {
	*postgres.Cluster
	// Passwords of the login roles (supabase_admin, authenticator, …).
	Passwords map[string]string
	dir       string
}

var (
	shared *Cluster
	dbSeq  atomic.Int64
	dbMu   sync.Mutex
)

// Main starts the package's cluster, prepares the template, runs the tests,
// then stops the cluster and removes its files, failed tests or not.
func Main(m *testing.M) { MainWith(m, Options{}) }

// MainWith is Main with options.
func MainWith(m *testing.M, opts Options) {
	MainShared(m, "pgtest", &shared, func() (*Cluster, error) { return Start(context.Background(), opts) })
}

// MainShared is the TestMain of a package whose tests share one thing
// started for them all (pgtest's cluster, stacktest's stack): it starts it
// into *shared, runs the tests, closes it and exits with the tests' code.
// A failed start ends the test binary at once, its error prefixed by name.
func MainShared[T interface{ Close() }](m *testing.M, name string, shared *T, start func() (T, error)) {
	s, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	*shared = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// MainWithoutCluster is TestMain for packages whose tests start their own
// PostgreSQL (whole tenants, for example) rather than use a shared cluster:
// it starts nothing, but fails the test binary at once, saying why these
// tests need PostgreSQL (why: "the backup tests run real tenants") and how
// to install it, when the server binaries cannot be found; then it runs the
// tests.
func MainWithoutCluster(m *testing.M, why string) {
	if _, err := findBinaries(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %s: %v\n", why, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// Shared returns the cluster started by Main.
func Shared() *Cluster {
	if shared == nil {
		panic("pgtest: no cluster; call pgtest.Main(m) from TestMain")
	}
	return shared
}

// Start starts a new throwaway cluster with the template prepared. Most
// tests use Main; Start is for tests that need a cluster of their own.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bins, err := findBinaries(ctx)
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("sfp-pgtest-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create test cluster directory: %w", err)
	}
	// The server user (postgres, when tests run as root) must traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, Passwords: map[string]string{}}
	for _, r := range platform.LoginRoles {
		c.Passwords[r] = RandomHex(16)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	pc, err := postgres.New(ctx, postgres.Config{
		DataDir:       filepath.Join(dir, "data"),
		Port:          port,
		Binaries:      bins,
		SuperPassword: c.Passwords["supabase_admin"],
		LogFile:       filepath.Join(dir, "postgres.log"),
		NoSync:        true,
		StopTimeout:   10 * time.Second,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.Cluster = pc
	if err := pc.Init(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := pc.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.prepareTemplate(ctx, opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// findBinaries finds the PostgreSQL server binaries, or says how to
// install them.
func findBinaries(ctx context.Context) (postgres.Binaries, error) {
	bins, err := postgres.FindBinaries(ctx)
	if err != nil {
		return bins, fmt.Errorf("tests need PostgreSQL server binaries: %w\n"+
			"  Debian/Ubuntu: apt-get install -y postgresql\n"+
			"  or set SFP_PG_BIN to the directory holding initdb and postgres", err)
	}
	return bins, nil
}

func (c *Cluster) prepareTemplate(ctx context.Context, opts Options) error {
	admin, err := pgx.Connect(ctx, c.URL("supabase_admin", "postgres"))
	if err != nil {
		return fmt.Errorf("connect to test cluster: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "create database "+TemplateDB); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	conn, err := pgx.Connect(ctx, c.URL("supabase_admin", TemplateDB))
	if err != nil {
		return fmt.Errorf("connect to template: %w", err)
	}
	defer conn.Close(ctx)
	if opts.SkipPlatform {
		return nil
	}
	if err := platform.Apply(ctx, conn); err != nil {
		return err
	}
	if err := platform.SetPasswords(ctx, conn, c.Passwords); err != nil {
		return err
	}
	if opts.SkipMigrations {
		return nil
	}
	r, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		return err
	}
	if _, err := r.Apply(ctx, conn, migrate.Options{}); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}

// URL returns a connection URL for a login role on database.
func (c *Cluster) URL(role, database string) string {
	pw, ok := c.Passwords[role]
	if !ok {
		panic("pgtest: no password for role " + role)
	}
	return c.ConnString(role, pw, database)
}

// Close stops the cluster and removes its files.
func (c *Cluster) Close() {
	if c.Cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = c.Stop(ctx)
		cancel()
	}
	os.RemoveAll(c.dir)
}

// DB is one test's own database, cloned from the template.
type DB struct {
	Name    string
	Cluster *Cluster

	mu    sync.Mutex
	pools map[string]*pgxpool.Pool
}

// NewDB creates a database for this test from the template and drops it
// when the test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	return Shared().NewDB(t)
}

// NewDB creates a database for this test from the template.
func (c *Cluster) NewDB(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%s", dbSeq.Add(1), RandomHex(4))
	admin, err := pgx.Connect(ctx, c.URL("supabase_admin", "postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	dbMu.Lock()
	_, err = admin.Exec(ctx, "create database "+name+" template "+TemplateDB)
	dbMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	db := &DB{Name: name, Cluster: c, pools: map[string]*pgxpool.Pool{}}
	t.Cleanup(func() {
		db.closePools()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, c.URL("supabase_admin", "postgres"))
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "drop database if exists "+name+" with (force)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return db
}

// URL returns a connection URL for a login role on this database.
func (db *DB) URL(role string) string { return db.Cluster.URL(role, db.Name) }

// Pool returns a connection pool for a login role on this database, closed
// when the test ends.
func (db *DB) Pool(t testing.TB, role string) *pgxpool.Pool {
	t.Helper()
	p, err := db.pool(role)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (db *DB) pool(role string) (*pgxpool.Pool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if p, ok := db.pools[role]; ok {
		return p, nil
	}
	p, err := pgxpool.New(context.Background(), db.URL(role))
	if err != nil {
		return nil, fmt.Errorf("pgtest: pool for %s: %w", role, err)
	}
	db.pools[role] = p
	return p, nil
}

func (db *DB) closePools() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, p := range db.pools {
		p.Close()
	}
	db.pools = map[string]*pgxpool.Pool{}
}

// Admin returns a pool connected as the superuser supabase_admin.
func (db *DB) Admin(t testing.TB) *pgxpool.Pool { return db.Pool(t, "supabase_admin") }

// Exec runs SQL as supabase_admin and fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Admin(t).Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: exec %q: %v", sql, err)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago: all are held open together while choosing, so the kernel
// cannot hand one out twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// RandomHex returns n random bytes as 2n hex digits: names, emails and
// secrets that do not collide between tests or runs.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// removeStale deletes the directories of test clusters whose test binary is
// gone (killed by a timeout, a panic); their servers stopped with it.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "sfp-pgtest-*"))
	for _, d := range dirs {
		parts := strings.Split(filepath.Base(d), "-")
		if len(parts) < 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
			continue
		}
		if _, running := postgresRunning(filepath.Join(d, "data")); running {
			continue
		}
		os.RemoveAll(d)
	}
}

func postgresRunning(dataDir string) (int, bool) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
		return pid, true
	}
	return 0, false
}
