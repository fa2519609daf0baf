package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

func TestMain(m *testing.M) {
	// Restored tenants pick their ports from SFP_PORT_START, 54321 by
	// default. A range of this process's own, below the ranges sfptest
	// gives the CLI's tenants (20000 and up), keeps two test runs on one
	// machine from choosing the same ports between a restore and its start.
	os.Setenv("SFP_PORT_START", strconv.Itoa(10000+os.Getpid()%900*10))
	pgtest.MainWithoutCluster(m, "the backup tests run real tenants")
}

// freePorts returns two distinct free ports: a tenant's API and
// PostgreSQL ports.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	ports, err := pgtest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0], ports[1]
}

// running is an embedded tenant booted in the test process.
type running struct {
	T    *tenant.Tenant
	Inst *embedded.Instance
}

func (r *running) adminURL() string {
	return r.Inst.Cluster.ConnString("supabase_admin", r.T.Secrets.PostgresPassword, "postgres")
}

func (r *running) conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := migrate.Connect(context.Background(), r.adminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (r *running) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Inst.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", r.T.Name(), err)
	}
}

// newTenant creates tenant name under base, lets configure change its
// tenant.yaml, and boots it.
func newTenant(t testing.TB, base, name string, configure func(*tenant.Config)) *running {
	t.Helper()
	api, pg := freePorts(t)
	tn, err := tenant.Create(base, tenant.CreateOptions{Name: name, APIPort: api, PostgresPort: pg})
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(&tn.Config)
		if err := tn.SaveConfig(); err != nil {
			t.Fatal(err)
		}
	}
	return boot(t, base, name)
}

// boot starts an existing tenant in the test process.
func boot(t testing.TB, base, name string) *running {
	t.Helper()
	tn, err := tenant.Load(base, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	inst, err := embedded.Boot(ctx, tn, embedded.BootOptions{PasswordHashCost: bcrypt.MinCost})
	if err != nil {
		t.Fatalf("boot %s: %v", name, err)
	}
	r := &running{T: tn, Inst: inst}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		inst.Shutdown(ctx)
	})
	return r
}

// call sends a JSON request through the tenant's gateway.
func call(t testing.TB, r *running, apikey, bearer, method, path string, body any) (int, []byte) {
	t.Helper()
	resp, raw := stacktest.SendTo(t, method, r.Inst.URL+path, apikey, bearer, body)
	return resp.StatusCode, raw
}

func mustCall(t testing.TB, r *running, apikey, bearer, method, path string, body any, want int) []byte {
	t.Helper()
	code, raw := call(t, r, apikey, bearer, method, path, body)
	if code != want {
		t.Fatalf("%s %s on %s: %d, want %d: %s", method, path, r.T.Name(), code, want, strings.TrimSpace(string(raw)))
	}
	return raw
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func exec1(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t testing.TB, c *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
