package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// The auth server rate-limits /token per client IP (as GoTrue does); each
// test user is its own client, with its own address in X-Forwarded-For,
// which the auth server believes because the gateway hop is trusted.
var nextIP atomic.Int32

type xffTransport struct{ ip string }

func (x *xffTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", x.ip)
	return http.DefaultTransport.RoundTrip(r)
}

// sfp is one person at a terminal: their own configuration directory,
// environment and address, running commands in-process through Run, the
// same path as the binary (flags, factory, exit codes, printed errors).
type sfp struct {
	t     *testing.T
	dir   string
	env   map[string]string
	ip    string
	email string
	pw    string
	id    string
	tty   bool // stderr is a terminal (progress bars)
	// now is the factory's clock; nil is time.Now.
	now func() time.Time
}

type result struct {
	args        []string
	out, errOut string
	code        int
}

func newSfp(t *testing.T) *sfp {
	t.Helper()
	n := nextIP.Add(1)
	return &sfp{t: t, dir: t.TempDir(), env: map[string]string{}, ip: fmt.Sprintf("198.19.%d.%d", n/250, n%250+1)}
}

// newOperator is a person running `sfp server` commands on a base
// directory of their own (SFP_BASE_DIR), which it returns.
func newOperator(t *testing.T) (*sfp, string) {
	t.Helper()
	u := newSfp(t)
	base := t.TempDir()
	u.env["SFP_BASE_DIR"] = base
	return u, base
}

// writeTemp writes content to a file called name in a directory of its
// own, mode 0600 as a secret wants, and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is an output stream tests can read while the command runs;
// started is closed at the first write.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	started chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{started: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() == 0 && len(p) > 0 {
		close(s.started)
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (u *sfp) factory(stdin string) (*cmdutil.Factory, *syncBuffer, *syncBuffer) {
	ios, in, _, _ := cmdutil.Test()
	in.WriteString(stdin)
	o, e := newSyncBuffer(), newSyncBuffer()
	ios.Out, ios.ErrOut = o, e
	ios.SetTTY(false, false, u.tty)
	f := &cmdutil.Factory{
		IOStreams:  ios,
		Getenv:     func(k string) string { return u.env[k] },
		Now:        u.clock(),
		Logger:     func() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) },
		Executable: os.Executable,
		ConfigDir:  func() (string, error) { return u.dir, nil },
		ExtraClientOptions: func() []client.Option {
			return []client.Option{client.WithHTTPClient(&http.Client{Transport: &xffTransport{ip: u.ip}})}
		},
	}
	return f, o, e
}

// clock is the factory's clock: u.now, else the wall clock.
func (u *sfp) clock() func() time.Time {
	if u.now != nil {
		return u.now
	}
	return time.Now
}

// run runs sfp args with stdin.
func (u *sfp) run(stdin string, args ...string) result {
	u.t.Helper()
	r, _ := u.start(stdin, args...)
	return <-r
}

// start runs sfp args in the background; the second channel is closed
// when the command first writes to stdout.
func (u *sfp) start(stdin string, args ...string) (<-chan result, <-chan struct{}) {
	return u.startCtx(context.Background(), stdin, args...)
}

// startCtx is start with a context the test may cancel (Ctrl-C).
func (u *sfp) startCtx(parent context.Context, stdin string, args ...string) (<-chan result, <-chan struct{}) {
	f, out, errOut := u.factory(stdin)
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
		defer cancel()
		code := Run(ctx, f, args)
		done <- result{args: args, out: out.String(), errOut: errOut.String(), code: code}
	}()
	return done, out.started
}

func (r result) String() string {
	return fmt.Sprintf("sfp %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.out, r.errOut)
}

// ok fails the test unless the command exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}

// fails checks the exit code and that stderr says each of msgs.
func (r result) fails(t *testing.T, code int, msgs ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\n%s", r.code, code, r)
	}
	for _, m := range msgs {
		if !strings.Contains(r.errOut, m) {
			t.Fatalf("stderr lacks %q\n%s", m, r)
		}
	}
	return r
}

func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		t.Fatalf("stdout is not the JSON expected (%v)\n%s", err, r)
	}
}

func (r result) line() string { return strings.TrimSpace(r.out) }

// signedUp creates a confirmed user (admin API) and logs it in with
// `sfp login --password-stdin`.
func signedUp(t *testing.T) *sfp {
	t.Helper()
	u := signedUpOrNil(t)
	if u == nil {
		t.FailNow()
	}
	return u
}

// signedUpOrNil is signedUp for other goroutines: it reports with Errorf
// and returns nil on failure.
func signedUpOrNil(t *testing.T) *sfp {
	s := stacktest.Shared()
	u := newSfp(t)
	n := nextIP.Add(1)
	u.email = fmt.Sprintf("cli-%d-%d@example.test", time.Now().UnixNano(), n)
	u.pw = fmt.Sprintf("password-%d", n)
	admin, err := client.New(s.URL, s.ServiceKey, client.WithHTTPClient(&http.Client{Transport: &xffTransport{ip: u.ip}}))
	if err != nil {
		t.Error(err)
		return nil
	}
	defer admin.Close()
	usr, err := admin.Auth.AdminCreateUser(context.Background(), u.email, u.pw, true)
	if err != nil {
		t.Errorf("create user: %v", err)
		return nil
	}
	u.id = usr.ID
	if r := u.run(u.pw+"\n", "login", "--server", s.URL, "--api-key", s.AnonKey, "--email", u.email, "--password-stdin"); r.code != 0 {
		t.Errorf("%s", r)
		return nil
	}
	return u
}

// crew is an account with an owner, a member and a viewer (all logged in
// through the CLI), an outsider, and a project.
type crew struct {
	owner, member, viewer, outsider *sfp
	slug, project                   string
}

var crewN atomic.Int32

// crewTest is how the tests of a crew begin: it runs t in parallel with
// the others (each crew is an account of its own, so they cannot meet) and
// returns a new crew.
func crewTest(t *testing.T) *crew {
	t.Helper()
	t.Parallel()
	return newCrew(t)
}

func newCrew(t *testing.T) *crew {
	t.Helper()
	// Four users at once: each sign-up and login hashes a password (bcrypt).
	c := &crew{}
	var wg sync.WaitGroup
	for _, dst := range []**sfp{&c.owner, &c.member, &c.viewer, &c.outsider} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*dst = signedUpOrNil(t)
		}()
	}
	wg.Wait()
	if c.owner == nil || c.member == nil || c.viewer == nil || c.outsider == nil {
		t.FailNow()
	}
	n := crewN.Add(1)
	c.slug = fmt.Sprintf("crew-%d-%d", time.Now().UnixNano()%1_000_000, n)
	c.owner.run("", "account", "create", "Crew "+c.slug, "--slug", c.slug).ok(t)
	c.owner.run("", "account", "member", "add", c.member.email, "--role", "member").ok(t)
	c.owner.run("", "account", "member", "add", c.viewer.email, "--role", "viewer").ok(t)
	c.project = "acme/app-" + c.slug
	c.member.run("", "project", "register", c.project).ok(t)
	return c
}

// serviceEnv is the environment of a worker holding the service key.
func serviceEnv() map[string]string {
	return map[string]string{"SFP_SERVICE_KEY": stacktest.Shared().ServiceKey, "SFP_SERVER_URL": stacktest.Shared().URL}
}

// worker is a worker shell: no login, the service key in the environment.
func worker(t *testing.T) *sfp {
	w := newSfp(t)
	w.env = serviceEnv()
	return w
}

// tenantBase is the base directory of the stack's tenant, for -t.
func tenantBase() string {
	return filepath.Dir(filepath.Dir(stacktest.Shared().Tenant.Dir))
}
