package embedded_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/supabase"
)

func TestMain(m *testing.M) { pgtest.MainWithoutCluster(m, "the lifecycle tests run real tenants") }

func status(t *testing.T, base, name string, env sfptest.Env) runtime.Status {
	t.Helper()
	r := sfptest.MustRun(t, base, env, "server", "status", "-t", name, "--json")
	var st runtime.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.Stdout)
	}
	return st
}

func component(st runtime.Status, name string) runtime.Component {
	for _, c := range st.Components {
		if c.Name == name {
			return c
		}
	}
	return runtime.Component{}
}

func stopAtEnd(t *testing.T, base, name string) {
	t.Cleanup(func() { sfptest.Run(t, base, nil, "server", "stop", "-t", name) })
}

func TestDetachedLifecycle(t *testing.T) {
	base := sfptest.BaseDir(t)
	pw := filepath.Join(base, "pw")
	os.WriteFile(pw, []byte("admin-password-1\n"), 0o600)
	r := sfptest.MustRun(t, base, nil, "server", "init", "-t", "acme", "--admin-email", "ops@acme.test", "--admin-password-file", pw, "--admin-account", "Acme Corp", "--json")
	var created struct {
		Tenant  string `json:"tenant"`
		EnvFile string `json:"env_file"`
	}
	json.Unmarshal([]byte(r.Stdout), &created)
	if created.Tenant != "acme" {
		t.Fatalf("init output %s", r.Stdout)
	}
	if fi, err := os.Stat(created.EnvFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf(".env: %v %v", err, fi)
	}
	if r := sfptest.Run(t, base, nil, "server", "init", "-t", "acme"); r.Code != 6 || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("second init: exit %d, %s", r.Code, r.Stderr)
	}

	stopAtEnd(t, base, "acme")
	r = sfptest.MustRun(t, base, nil, "server", "start", "-t", "acme", "--detach", "--json")
	var info runtime.Info
	if err := json.Unmarshal([]byte(r.Stdout), &info); err != nil || info.PID == 0 || info.URL == "" {
		t.Fatalf("start --json: %v %s", err, r.Stdout)
	}
	for _, step := range []string{"Creating the PostgreSQL cluster", "Applying platform SQL", "Starting PostgreSQL"} {
		if !strings.Contains(r.Stderr, step) {
			t.Errorf("start progress lacks %q:\n%s", step, r.Stderr)
		}
	}
	m, _ := fs.Glob(supabase.Migrations(), "*.sql")
	if len(info.Applied) != len(m) {
		t.Errorf("first start applied %d migrations, want %d", len(info.Applied), len(m))
	}

	st := status(t, base, "acme", nil)
	if !st.Running || st.PID != info.PID || component(st, "postgres").State != runtime.StateUp || component(st, "gateway").State != runtime.StateUp {
		t.Fatalf("status after start: %+v", st)
	}
	// Every HTTP component answers its probe, and says so in words, not
	// with the probe's status code (Kong's 401, realtime's 405).
	for _, name := range []string{"gateway", "auth", "rest", "realtime"} {
		if c := component(st, name); c.State != runtime.StateUp || c.Detail != "answering" {
			t.Errorf("status of %s: %s %q, want up, answering", name, c.State, c.Detail)
		}
	}
	if len(m) > 0 && st.SchemaVersion == "" {
		t.Errorf("no schema version in %+v", st)
	}
	for _, c := range []string{"auth", "rest"} {
		if component(st, c).State != runtime.StateUp {
			t.Errorf("%s is %+v", c, component(st, c))
		}
	}

	// The admin asked for at init can sign in and owns the account.
	anon := anonKey(t, base, "acme")
	token := signIn(t, info.URL, anon, "ops@acme.test", "admin-password-1")
	code, body := get(t, info.URL+"/rest/v1/accounts?select=name,slug,accounts_memberships(account_role)", anon, token)
	if code != 200 || body != `[{"name":"Acme Corp","slug":"acme-corp","accounts_memberships":[{"account_role":"owner"}]}]` {
		t.Errorf("admin's accounts: %d %s", code, body)
	}
	if env, _ := os.ReadFile(created.EnvFile); strings.Contains(string(env), "SFP_ADMIN_PASSWORD_HASH") {
		t.Error("the admin password hash stays in .env after the first start")
	}

	// A second start, foreground or detached, is refused with a clear message.
	for _, args := range [][]string{{"server", "start", "-t", "acme"}, {"server", "start", "-t", "acme", "-d"}} {
		r := sfptest.Run(t, base, nil, args...)
		if r.Code != 6 || !strings.Contains(r.Stderr, "already running") {
			t.Errorf("%v while running: exit %d, %s", args, r.Code, r.Stderr)
		}
	}

	if r := sfptest.Run(t, base, nil, "server", "status", "-t", "nosuch"); r.Code != 3 || !strings.Contains(r.Stderr, "sfp server init -t nosuch") {
		t.Errorf("status of a missing tenant: exit %d, %s", r.Code, r.Stderr)
	}

	keys := sfptest.MustRun(t, base, nil, "server", "keys", "-t", "acme", "--json")
	if strings.Contains(keys.Stdout, "service_role_key") || !strings.Contains(keys.Stdout, "anon_key") {
		t.Errorf("keys without --service-role: %s", keys.Stdout)
	}
	keys = sfptest.MustRun(t, base, nil, "server", "keys", "-t", "acme", "--service-role", "--json")
	if !strings.Contains(keys.Stdout, "service_role_key") {
		t.Errorf("keys --service-role: %s", keys.Stdout)
	}
	logs := sfptest.MustRun(t, base, nil, "server", "logs", "-t", "acme", "--tail", "50")
	if !strings.Contains(logs.Stdout, "tenant ready") {
		t.Errorf("logs lack the ready line:\n%s", logs.Stdout)
	}
	list := sfptest.MustRun(t, base, nil, "server", "list", "--json")
	if !strings.Contains(list.Stdout, `"running": true`) {
		t.Errorf("list: %s", list.Stdout)
	}

	stop := sfptest.MustRun(t, base, nil, "server", "stop", "-t", "acme")
	if !strings.Contains(stop.Stderr, "Stopped") {
		t.Errorf("stop: %s", stop.Stderr)
	}
	st = status(t, base, "acme", nil)
	if st.Running || component(st, "postgres").State != runtime.StateDown {
		t.Fatalf("status after stop: %+v", st)
	}
	if processAlive(info.PID) {
		t.Fatal("sfp process still alive after stop")
	}
	r = sfptest.MustRun(t, base, nil, "server", "stop", "-t", "acme")
	if !strings.Contains(r.Stderr, "not running") {
		t.Errorf("stop when stopped: %s", r.Stderr)
	}

	// Warm start: no cluster creation, no platform, no migrations.
	r = sfptest.MustRun(t, base, nil, "server", "start", "-t", "acme", "-d", "--json")
	if strings.Contains(r.Stderr, "Creating the PostgreSQL cluster") || strings.Contains(r.Stderr, "Applying") {
		t.Errorf("warm start redid first-start work:\n%s", r.Stderr)
	}
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(st), ") Z ")
}

func TestForegroundStopsCleanlyOnSignal(t *testing.T) {
	base := sfptest.BaseDir(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := sfptest.Command(ctx, t, base, nil, "server", "start", "-t", "fg")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		var output strings.Builder
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				output.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "is ready") {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-ctx.Done():
			t.Fatalf("not ready:\n%s", output.String())
		}
		st := status(t, base, "fg", nil)
		pgPid := component(st, "postgres").Detail
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		cancel()
		if err != nil {
			t.Fatalf("%v: sfp exited with %v\n%s", sig, err, output.String())
		}
		st = status(t, base, "fg", nil)
		if st.Running || component(st, "postgres").State != runtime.StateDown {
			t.Fatalf("after %v: %+v (postgres was %s)", sig, st, pgPid)
		}
		if _, err := os.Stat(filepath.Join(base, "tenants", "fg", "run", "sfp.pid")); err == nil {
			t.Errorf("pid file left behind after %v", sig)
		}
	}
}

func TestKill9LeavesNothingBlocking(t *testing.T) {
	base := sfptest.BaseDir(t)
	stopAtEnd(t, base, "k9")
	r := sfptest.MustRun(t, base, nil, "server", "start", "-t", "k9", "-d", "--json")
	var info runtime.Info
	json.Unmarshal([]byte(r.Stdout), &info)
	if err := syscall.Kill(info.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The signal is delivered at once, the exit (which releases the run
	// lock) takes a moment on a loaded machine.
	waitExited(t, info.PID)
	// The next start must work: the run lock died with the process, the pid
	// file is stale, and PostgreSQL was asked to shut down when sfp died.
	r = sfptest.MustRun(t, base, nil, "server", "start", "-t", "k9", "-d", "--json")
	var again runtime.Info
	json.Unmarshal([]byte(r.Stdout), &again)
	if again.PID == 0 || again.PID == info.PID {
		t.Fatalf("restart after kill -9: %s %s", r.Stdout, r.Stderr)
	}
	if st := status(t, base, "k9", nil); !st.Running || component(st, "postgres").State != runtime.StateUp {
		t.Fatalf("status after restart: %+v", st)
	}
}

func TestAPIPortTaken(t *testing.T) {
	base := sfptest.BaseDir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// Init needs a free port of its own; ask the kernel for one rather than
	// guessing a neighbour, which another process may hold.
	initPort, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	sfptest.MustRun(t, base, nil, "server", "init", "-t", "busy", "--port", strconv.Itoa(initPort))
	// Take the tenant's port after init chose it.
	cfg := filepath.Join(base, "tenants", "busy", "tenant.yaml")
	raw, _ := os.ReadFile(cfg)
	edited := strings.Replace(string(raw), "port: "+strconv.Itoa(initPort), "port: "+strconv.Itoa(port), 1)
	if edited == string(raw) {
		t.Fatalf("tenant.yaml has no api port %d:\n%s", initPort, raw)
	}
	os.WriteFile(cfg, []byte(edited), 0o644)
	defer l.Close()
	r := sfptest.Run(t, base, nil, "server", "start", "-t", "busy")
	if r.Code == 0 || !strings.Contains(r.Stderr, "127.0.0.1:"+strconv.Itoa(port)+" is in use") {
		t.Fatalf("start on a taken port: exit %d\n%s", r.Code, r.Stderr)
	}
	if st := status(t, base, "busy", nil); st.Running || component(st, "postgres").State != runtime.StateDown {
		t.Errorf("a failed start left something running: %+v", st)
	}
}

func copyMigrations(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	names, _ := fs.Glob(supabase.Migrations(), "*.sql")
	for _, n := range names {
		b, _ := fs.ReadFile(supabase.Migrations(), n)
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	for n, sql := range extra {
		os.WriteFile(filepath.Join(dir, n), []byte(sql), 0o644)
	}
	return dir
}

func TestUpdate(t *testing.T) {
	base := sfptest.BaseDir(t)
	stopAtEnd(t, base, "upd")
	sfptest.MustRun(t, base, nil, "server", "start", "-t", "upd", "-d")
	before := status(t, base, "upd", nil).SchemaVersion

	// A release with one more migration.
	newer := copyMigrations(t, map[string]string{"29990101000000_add_widgets.sql": "create table public.widgets (id int primary key);\nalter table public.widgets enable row level security;\n"})
	env := sfptest.Env{"SFP_MIGRATIONS_DIR": newer}
	r := sfptest.MustRun(t, base, env, "server", "update", "-t", "upd", "--json")
	var res struct {
		Applied    []struct{ Version, Name string }
		WasRunning bool `json:"was_running"`
		Restarted  bool
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if len(res.Applied) != 1 || res.Applied[0].Version != "29990101000000" || !res.WasRunning || !res.Restarted {
		t.Fatalf("update result %+v\n%s", res, r.Stderr)
	}
	st := status(t, base, "upd", env)
	if !st.Running || st.SchemaVersion != "29990101000000" {
		t.Fatalf("after update: %+v (before %s)", st, before)
	}

	// A release whose new migration fails: rolled back, services come back.
	broken := copyMigrations(t, map[string]string{
		"29990101000000_add_widgets.sql":  "create table public.widgets (id int primary key);\nalter table public.widgets enable row level security;\n",
		"29990201000000_broken_thing.sql": "create table public.gadgets (id int);\nselect no_such_function();\n",
	})
	env = sfptest.Env{"SFP_MIGRATIONS_DIR": broken}
	r = sfptest.Run(t, base, env, "server", "update", "-t", "upd")
	if r.Code == 0 || !strings.Contains(r.Stderr, "29990201000000_broken_thing.sql") || !strings.Contains(r.Stderr, "no_such_function") {
		t.Fatalf("failed update: exit %d\n%s", r.Code, r.Stderr)
	}
	st = status(t, base, "upd", env)
	if !st.Running || st.SchemaVersion != "29990101000000" {
		t.Fatalf("after failed update the tenant should run on the previous schema: %+v", st)
	}
}

func TestTwoTenantsSideBySide(t *testing.T) {
	base := sfptest.BaseDir(t)
	stopAtEnd(t, base, "one")
	stopAtEnd(t, base, "two")
	sfptest.MustRun(t, base, nil, "server", "start", "-t", "one", "-d")
	sfptest.MustRun(t, base, nil, "server", "start", "-t", "two", "-d")
	a, b := status(t, base, "one", nil), status(t, base, "two", nil)
	if !a.Running || !b.Running || a.URL == b.URL || component(a, "postgres").Address == component(b, "postgres").Address {
		t.Fatalf("two tenants: %+v / %+v", a, b)
	}
	ka, kb := anonKey(t, base, "one"), anonKey(t, base, "two")
	if ka == kb {
		t.Fatal("same keys")
	}
	// Each tenant accepts its own key and refuses the other's.
	if code, _ := get(t, a.URL+"/rest/v1/accounts?select=id", ka, ""); code != 200 && code != 401 {
		t.Errorf("own key on one: %d", code)
	}
	if code, body := get(t, a.URL+"/rest/v1/accounts?select=id", kb, ""); code != 401 {
		t.Errorf("two's key on one: %d %s", code, body)
	}
	// A user token signed by one tenant is refused by the other.
	token := createUser(t, base, "one", a.URL, "someone@one.test", "password-one-1")
	if code, _ := get(t, a.URL+"/rest/v1/accounts?select=id", ka, token); code != 200 {
		t.Errorf("one's user on one: %d", code)
	}
	if code, body := get(t, b.URL+"/rest/v1/accounts?select=id", kb, token); code != 401 || !strings.Contains(body, "PGRST301") {
		t.Errorf("one's user token on two: %d %s", code, body)
	}
	if code, _ := get(t, b.URL+"/auth/v1/user", kb, token); code != 403 {
		t.Errorf("one's user token on two's auth: %d", code)
	}
}

func anonKey(t *testing.T, base, name string) string {
	t.Helper()
	var keys struct {
		AnonKey string `json:"anon_key"`
	}
	json.Unmarshal([]byte(sfptest.MustRun(t, base, nil, "server", "keys", "-t", name, "--json").Stdout), &keys)
	return keys.AnonKey
}

func get(t *testing.T, url, apikey, token string) (int, string) {
	t.Helper()
	resp, raw := stacktest.SendTo(t, http.MethodGet, url, apikey, token, nil)
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

func authPost(t *testing.T, url, apikey string, body any) map[string]any {
	t.Helper()
	resp, raw := stacktest.SendTo(t, http.MethodPost, url, apikey, apikey, body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v", url, resp.StatusCode, out)
	}
	return out
}

func signIn(t *testing.T, base, apikey, email, password string) string {
	t.Helper()
	out := authPost(t, base+"/auth/v1/token?grant_type=password", apikey, map[string]string{"email": email, "password": password})
	tok, _ := out["access_token"].(string)
	return tok
}

// createUser creates a confirmed user with the service key (the admin API)
// and returns an access token from signing in.
func createUser(t *testing.T, base, name, url, email, password string) string {
	t.Helper()
	var keys struct {
		AnonKey    string `json:"anon_key"`
		ServiceKey string `json:"service_role_key"`
	}
	json.Unmarshal([]byte(sfptest.MustRun(t, base, nil, "server", "keys", "-t", name, "--service-role", "--json").Stdout), &keys)
	authPost(t, url+"/auth/v1/admin/users", keys.ServiceKey, map[string]any{"email": email, "password": password, "email_confirm": true})
	return signIn(t, url, keys.AnonKey, email, password)
}

// waitExited waits until process pid has exited (gone, or a zombie whose
// parent has not reaped it yet: its files, and so its locks, are closed).
func waitExited(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the parenthesised command name.
		if i := strings.LastIndexByte(string(raw), ')'); i >= 0 && i+2 < len(raw) && raw[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running 30s after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
