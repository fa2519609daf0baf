package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/runtime"
)

// fakeDocker stands in for the docker CLI: it records every invocation and
// answers from the handlers the test sets; anything unhandled succeeds
// with no output.
type fakeDocker struct {
	mu    sync.Mutex
	calls [][]string
	// compose answers `docker compose -p … <sub> …` by subcommand args
	// (what follows --env-file FILE).
	compose func(args []string, c Cmd) (Result, error)
	// version is `docker compose version --short`; engine is `docker version`.
	// noRealtimeTable: the database answers that realtime.messages does
	// not exist when the realtime topic policy is created.
	noRealtimeTable bool
	version         func() (Result, error)
	engine          func() (Result, error)
	// pgVersion is PG_VERSION in the data volume; "" means there is no
	// data volume (`docker volume inspect` fails as docker does).
	pgVersion string
}

func (f *fakeDocker) Run(ctx context.Context, c Cmd) (Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(c.Args))
	f.mu.Unlock()
	args := c.Args
	switch {
	case slices.Equal(args, []string{"docker", "compose", "version", "--short"}):
		if f.version != nil {
			return f.version()
		}
		return Result{Stdout: []byte("2.29.7\n")}, nil
	case len(args) >= 2 && args[0] == "docker" && args[1] == "version":
		if f.engine != nil {
			return f.engine()
		}
		return Result{Stdout: []byte("28.2.2\n")}, nil
	case len(args) == 6 && args[0] == "docker" && args[1] == "volume" && args[2] == "inspect":
		if f.pgVersion == "" {
			return Result{}, &ExitError{Args: args, Code: 1, Stderr: "Error response from daemon: get " + args[5] + ": no such volume"}
		}
		return Result{Stdout: []byte(args[5] + "\n")}, nil
	case len(args) > 2 && args[0] == "docker" && args[1] == "compose":
		i := slices.Index(args, "--env-file")
		if i < 0 || i+2 > len(args) {
			return Result{}, fmt.Errorf("fake docker: compose call without --env-file: %v", args)
		}
		if sub := args[i+2:]; slices.Equal(sub, []string{"run", "--rm", "--no-TTY", "--no-deps", "--entrypoint", "cat", "db", pgDataVersionFile}) {
			return Result{Stdout: []byte(f.pgVersion + "\n")}, nil
		}
		if sub := args[i+2:]; sub[0] == "exec" && strings.Contains(strings.Join(sub, " "), "ensure_realtime_topic_policy") {
			if f.noRealtimeTable {
				return Result{Stdout: []byte("f\n")}, nil
			}
			return Result{Stdout: []byte("t\n")}, nil
		}
		if f.compose != nil {
			return f.compose(args[i+2:], c)
		}
		return Result{}, nil
	}
	return Result{}, fmt.Errorf("fake docker: unexpected command %v", args)
}

// composeCalls are the compose subcommands run, as single strings.
func (f *fakeDocker) composeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.calls {
		if i := slices.Index(a, "--env-file"); i >= 0 && len(a) > 1 && a[1] == "compose" {
			out = append(out, strings.Join(a[i+2:], " "))
		}
	}
	return out
}

func (f *fakeDocker) allCalls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ps output in the per-line format of compose 2.21+.
func psLines(cs ...Container) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		fmt.Fprintf(&b, `{"Command":"\"x\"","CreatedAt":"2026-11-30 12:00:00 +0000 UTC","ExitCode":%d,"Health":%q,"ID":"abc","Image":"img","Labels":"","LocalVolumes":"0","Mounts":"","Name":%q,"Names":%q,"Networks":"sfp-acme_default","Ports":"","Project":"sfp-acme","Publishers":[],"RunningFor":"2 minutes ago","Service":%q,"Size":"0B","State":%q,"Status":%q}`+"\n",
			c.ExitCode, c.Health, c.Name, c.Name, c.Service, c.State, c.Status)
	}
	return b.Bytes()
}

func running(service string) Container {
	return Container{Name: "sfp-acme-" + service + "-1", Service: service, State: "running", Health: "healthy", Status: "Up 2 minutes (healthy)"}
}

func completed(service string, code int) Container {
	return Container{Name: "sfp-acme-" + service + "-1", Service: service, State: "exited", ExitCode: code,
		Status: fmt.Sprintf("Exited (%d) 2 minutes ago", code)}
}

func allUp() []Container {
	var cs []Container
	for _, s := range longRunning {
		cs = append(cs, running(s))
	}
	for _, s := range oneShot {
		cs = append(cs, completed(s, 0))
	}
	return cs
}

func TestComposeInvocationPrefix(t *testing.T) {
	tn := dockerTenant(t, Options{})
	want := []string{"docker", "compose", "-p", "sfp-acme", "--project-directory", tn.Dir,
		"-f", filepath.Join(tn.Dir, "docker-compose.yml"), "--env-file", filepath.Join(tn.Dir, ".env"), "ps"}
	if got := composeArgs(tn, "ps"); !slices.Equal(got, want) {
		t.Errorf("compose args:\n got %q\nwant %q", got, want)
	}
	override := filepath.Join(tn.Dir, OverrideFileName)
	if err := os.WriteFile(override, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := composeArgs(tn, "ps")
	if !slices.Contains(got, override) || slices.Index(got, override) > slices.Index(got, "--env-file") {
		t.Errorf("with an override file: %q", got)
	}
}

func TestSetupErrors(t *testing.T) {
	tn := dockerTenant(t, Options{})
	cases := []struct {
		name    string
		fake    *fakeDocker
		want    error
		message []string
	}{
		{"engine absent", &fakeDocker{engine: func() (Result, error) {
			return Result{}, &ExitError{Args: []string{"docker", "version"}, Code: 1,
				Stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"}
		}}, ErrEngineUnavailable, []string{"Cannot connect to the Docker daemon", "systemctl start docker", "DOCKER_HOST"}},
		{"compose plugin absent", &fakeDocker{version: func() (Result, error) {
			return Result{}, &ExitError{Args: []string{"docker", "compose"}, Code: 1,
				Stderr: "docker: unknown command: docker compose\n\nRun 'docker --help' for more information"}
		}}, ErrComposeNotInstalled, []string{"docker-compose-plugin", "https://docs.docker.com/compose/install/"}},
		{"compose plugin absent, older CLI", &fakeDocker{version: func() (Result, error) {
			return Result{}, &ExitError{Args: []string{"docker", "compose"}, Code: 1, Stderr: "docker: 'compose' is not a docker command.\nSee 'docker --help'"}
		}}, ErrComposeNotInstalled, []string{"docker-compose-plugin"}},
		{"compose plugin absent, docker 28 CLI", &fakeDocker{version: func() (Result, error) {
			// Seen on this project's CI machines: the CLI parses the flags
			// of the unknown subcommand as its own.
			return Result{}, &ExitError{Args: []string{"docker", "compose"}, Code: 125,
				Stderr: "unknown flag: --short\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n\nRun 'docker --help' for more information"}
		}}, ErrComposeNotInstalled, []string{"docker-compose-plugin"}},
		{"compose too old", &fakeDocker{version: func() (Result, error) {
			return Result{Stdout: []byte("v2.20.3\n")}, nil
		}}, ErrComposeTooOld, []string{"2.20.3", MinComposeVersion}},
		{"docker absent", &fakeDocker{version: func() (Result, error) {
			return Result{}, fmt.Errorf("run docker: %w", exec.ErrNotFound)
		}}, ErrDockerNotInstalled, []string{"https://docs.docker.com/engine/install/", "--runtime embedded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ops := map[string]func(r *Runtime) error{
				"start": func(r *Runtime) error {
					return r.Start(ctx, tn, runtime.StartOptions{Detach: true})
				},
				"stop":   func(r *Runtime) error { _, err := r.Stop(ctx, tn); return err },
				"status": func(r *Runtime) error { _, err := r.Status(ctx, tn); return err },
				"logs":   func(r *Runtime) error { return r.Logs(ctx, tn, runtime.LogOptions{}, &bytes.Buffer{}) },
				"update": func(r *Runtime) error { _, err := r.Update(ctx, tn, runtime.UpdateOptions{}); return err },
			}
			for op, call := range ops {
				fake := &fakeDocker{version: tc.fake.version, engine: tc.fake.engine}
				err := call(New(Options{Runner: fake, BuildContext: "/src"}))
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: error %v, want %v", op, err, tc.want)
					continue
				}
				for _, m := range tc.message {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("%s: error %q does not say %q", op, err, m)
					}
				}
				if calls := fake.composeCalls(); len(calls) > 0 {
					t.Errorf("%s ran compose commands after a failed check: %v", op, calls)
				}
			}
		})
	}
}

func TestCheckIsRemembered(t *testing.T) {
	fake := &fakeDocker{}
	r := New(Options{Runner: fake})
	for i := 0; i < 3; i++ {
		if err := r.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.allCalls()); n != 2 {
		t.Errorf("three checks ran %d docker commands, want 2 (compose version, engine version) once", n)
	}
	if got := fake.allCalls()[1]; !slices.Equal(got, []string{"docker", "version", "--format", "{{.Server.Version}}"}) {
		t.Errorf("engine check = %q", got)
	}
}

func TestStartDetached(t *testing.T) {
	tn := dockerTenant(t, Options{})
	report := `{"dry_run":false,"applied":[{"version":"20261201000000","name":"accounts"}],"credentials_key_created":true}`
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		if args[0] == "up" && c.Stderr != nil {
			fmt.Fprintln(c.Stderr, " Container sfp-acme-db-1  Started")
			fmt.Fprintln(c.Stderr, "a1b2c3 Downloading [==>   ] 1MB/9MB")
			fmt.Fprintln(c.Stderr, " Container sfp-acme-kong-1  Healthy")
		}
		if args[0] == "logs" {
			return Result{Stdout: []byte("Applying migration 20261201000000_accounts.sql…\n" + report + "\n")}, nil
		}
		return Result{}, nil
	}}
	var steps []string
	var mu sync.Mutex
	var info *runtime.Info
	err := New(Options{Runner: fake, BuildContext: "/src"}).Start(context.Background(), tn, runtime.StartOptions{Detach: true,
		Progress: func(s string) { mu.Lock(); steps = append(steps, s); mu.Unlock() },
		Ready:    func(i runtime.Info) { info = &i }})
	if err != nil {
		t.Fatal(err)
	}
	if info == nil || info.URL != tn.URL() || !slices.Equal(info.Applied, []string{"20261201000000_accounts.sql"}) {
		t.Errorf("Ready info = %+v; want the URL and what the migrations container applied", info)
	}
	want := []string{"up --detach --wait", ensurePolicyCall, "logs --no-color --no-log-prefix supabase-migrations"}
	if got := fake.composeCalls(); !slices.Equal(got, want) {
		t.Errorf("compose calls = %q, want %q", got, want)
	}
	joined := strings.Join(steps, "\n")
	if !strings.Contains(joined, "Container sfp-acme-kong-1  Healthy") || strings.Contains(joined, "Downloading") {
		t.Errorf("progress = %q: want compose's status lines without layer downloads", steps)
	}
}

// ensurePolicyCall is the compose call that creates the realtime topic
// policy once every service is healthy.
const ensurePolicyCall = "exec -T db psql -X -A -t -v ON_ERROR_STOP=1 -U supabase_admin -h localhost -c select sfp_private.ensure_realtime_topic_policy()"

// The realtime container creates realtime.messages after the migrations
// ran: a start that finds it missing once every service is healthy fails
// saying so, instead of leaving private task and deployment topics closed.
func TestStartCreatesRealtimeTopicPolicy(t *testing.T) {
	tn := dockerTenant(t, Options{})
	fake := &fakeDocker{noRealtimeTable: true}
	err := New(Options{Runner: fake}).Start(context.Background(), tn, runtime.StartOptions{Detach: true})
	if err == nil || !strings.Contains(err.Error(), "realtime.messages does not exist") {
		t.Fatalf("Start = %v, want an error naming realtime.messages", err)
	}
}

func TestStartForeground(t *testing.T) {
	tn := dockerTenant(t, Options{})
	fake := &fakeDocker{}
	ctx, cancel := context.WithCancel(context.Background())
	var info runtime.Info
	done := make(chan error, 1)
	go func() {
		done <- New(Options{Runner: fake, BuildContext: "/src"}).Start(ctx, tn, runtime.StartOptions{
			Ready: func(i runtime.Info) { info = i; cancel() }})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("foreground Start did not return after its context ended")
	}
	if info.Runtime != "docker" || info.URL != tn.URL() || info.EnvFile != tn.EnvFile() || info.Tenant != "acme" {
		t.Errorf("Ready info = %+v", info)
	}
	want := []string{"up --detach --wait", ensurePolicyCall, "logs --no-color --no-log-prefix supabase-migrations", "stop"}
	if got := fake.composeCalls(); !slices.Equal(got, want) {
		t.Errorf("compose calls = %q, want %q", got, want)
	}
}

func TestStartFailureSaysWhereToLook(t *testing.T) {
	tn := dockerTenant(t, Options{})
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		if args[0] == "up" {
			return Result{}, &ExitError{Args: []string{"docker", "compose", "up"}, Code: 1,
				Stderr: "service \"supabase-migrations\" didn't complete successfully: exit 1"}
		}
		return Result{}, nil
	}}
	err := New(Options{Runner: fake, BuildContext: "/src"}).Start(context.Background(), tn, runtime.StartOptions{Detach: true})
	if err == nil || !strings.Contains(err.Error(), "didn't complete successfully") || !strings.Contains(err.Error(), "sfp server logs -t acme") {
		t.Fatalf("Start error = %v", err)
	}
}

func TestStop(t *testing.T) {
	tn := dockerTenant(t, Options{})
	for _, tc := range []struct {
		name        string
		ps          []Container
		wantStopped bool
		wantCalls   []string
	}{
		{"running", allUp(), true, []string{"ps --all --format json", "stop"}},
		{"stopped", []Container{completed("db", 0), completed("kong", 137)}, false, []string{"ps --all --format json"}},
		{"never started", nil, false, []string{"ps --all --format json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
				if args[0] == "ps" {
					return Result{Stdout: psLines(tc.ps...)}, nil
				}
				return Result{}, nil
			}}
			stopped, err := New(Options{Runner: fake, BuildContext: "/src"}).Stop(context.Background(), tn)
			if err != nil {
				t.Fatal(err)
			}
			if stopped != tc.wantStopped {
				t.Errorf("stopped = %v, want %v", stopped, tc.wantStopped)
			}
			if got := fake.composeCalls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("compose calls = %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

func TestParsePS(t *testing.T) {
	// compose 2.20 and older print one JSON array.
	array := `[{"ID":"1","Name":"sfp-acme-db-1","Command":"docker-entrypoint.sh postgres","Project":"sfp-acme","Service":"db","State":"running","Health":"healthy","ExitCode":0,"Publishers":null},` +
		`{"ID":"2","Name":"sfp-acme-supabase-migrations-1","Command":"/usr/local/bin/sfp server migrate","Project":"sfp-acme","Service":"supabase-migrations","State":"exited","Health":"","ExitCode":1,"Publishers":null},` +
		`{"ID":"3","Name":"sfp-acme-kong-1","Command":"/bin/sh -c …","Project":"sfp-acme","Service":"kong","State":"running","Health":"starting","ExitCode":0,"Publishers":[{"URL":"127.0.0.1","TargetPort":8000,"PublishedPort":54321,"Protocol":"tcp"}]}]`
	lines := string(psLines(
		Container{Name: "sfp-acme-db-1", Service: "db", State: "running", Health: "healthy"},
		Container{Name: "sfp-acme-supabase-migrations-1", Service: "supabase-migrations", State: "exited", ExitCode: 1},
		Container{Name: "sfp-acme-kong-1", Service: "kong", State: "running", Health: "starting"},
	))
	want := []Container{
		{Name: "sfp-acme-db-1", Service: "db", State: "running", Health: "healthy"},
		{Name: "sfp-acme-supabase-migrations-1", Service: "supabase-migrations", State: "exited", ExitCode: 1},
		{Name: "sfp-acme-kong-1", Service: "kong", State: "running", Health: "starting"},
	}
	for name, in := range map[string]string{"array": array, "lines": lines, "lines without final newline": strings.TrimSpace(lines)} {
		got, err := ParsePS([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			got[i].Status = ""
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	for _, empty := range []string{"", "\n", "[]", "[]\n"} {
		got, err := ParsePS([]byte(empty))
		if err != nil || len(got) != 0 {
			t.Errorf("ParsePS(%q) = %v, %v; want no containers", empty, got, err)
		}
	}
	for _, bad := range []string{"no such service", `{"Name":`, `"text"`} {
		if _, err := ParsePS([]byte(bad)); err == nil {
			t.Errorf("ParsePS(%q) accepted garbage", bad)
		}
	}
}

func TestStatus(t *testing.T) {
	tn := dockerTenant(t, Options{})
	t.Run("running", func(t *testing.T) {
		for _, format := range []string{"lines", "array"} {
			cs := allUp()
			out := psLines(cs...)
			if format == "array" {
				out = []byte("[" + strings.Join(strings.Split(strings.TrimSpace(string(out)), "\n"), ",") + "]")
			}
			fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
				switch args[0] {
				case "ps":
					return Result{Stdout: out}, nil
				case "exec":
					return Result{Stdout: []byte("20261201000400\n")}, nil
				}
				return Result{}, nil
			}}
			st, err := New(Options{Runner: fake, BuildContext: "/src"}).Status(context.Background(), tn)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Running || st.Runtime != "docker" || st.URL != tn.URL() || st.SchemaVersion != "20261201000400" {
				t.Errorf("%s: status = %+v", format, st)
			}
			var names []string
			for _, c := range st.Components {
				names = append(names, c.Name)
				if slices.Contains(longRunning, c.Name) && c.State != runtime.StateUp {
					t.Errorf("%s: %s is %s", format, c.Name, c.State)
				}
				if c.Name == "kong" && c.Address != tn.URL() {
					t.Errorf("kong address %q", c.Address)
				}
				if c.Name == migrationsService && c.Detail != "completed" {
					t.Errorf("migrations detail %q", c.Detail)
				}
			}
			if want := append(slices.Clone(longRunning), oneShot...); !slices.Equal(names, want) {
				t.Errorf("components %v, want %v", names, want)
			}
			wantExec := "exec -T db psql -X -A -t -U supabase_admin -h localhost -c select coalesce(max(version), '') from supabase_migrations.schema_migrations"
			if calls := fake.composeCalls(); !slices.Equal(calls, []string{"ps --all --format json", wantExec}) {
				t.Errorf("compose calls = %q", calls)
			}
		}
	})
	t.Run("failed migrations", func(t *testing.T) {
		cs := []Container{running("db"), completed("auth-migrations", 0), completed(migrationsService, 1)}
		fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
			if args[0] == "ps" {
				return Result{Stdout: psLines(cs...)}, nil
			}
			return Result{}, errors.New("no schema")
		}}
		st, err := New(Options{Runner: fake, BuildContext: "/src"}).Status(context.Background(), tn)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running || st.SchemaVersion != "" {
			t.Errorf("status = %+v", st)
		}
		byName := map[string]runtime.Component{}
		for _, c := range st.Components {
			byName[c.Name] = c
		}
		if c := byName[migrationsService]; !strings.Contains(c.Detail, "failed (exit code 1)") || !strings.Contains(c.Detail, "--source supabase-migrations") {
			t.Errorf("migrations component = %+v", c)
		}
		if c := byName["auth"]; c.State != runtime.StateDown || !strings.Contains(c.Detail, "not started") {
			t.Errorf("auth component = %+v", c)
		}
		if c := byName["db"]; c.State != runtime.StateUp {
			t.Errorf("db component = %+v", c)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
			return Result{Stdout: []byte("[]")}, nil
		}}
		st, err := New(Options{Runner: fake, BuildContext: "/src"}).Status(context.Background(), tn)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running {
			t.Error("a tenant without containers reported running")
		}
		if calls := fake.composeCalls(); len(calls) != 1 {
			t.Errorf("compose calls = %q (no exec into a stopped db)", calls)
		}
	})
}

func TestLogs(t *testing.T) {
	tn := dockerTenant(t, Options{})
	for _, tc := range []struct {
		opts runtime.LogOptions
		want string
	}{
		{runtime.LogOptions{}, "logs --no-color"},
		{runtime.LogOptions{Follow: true, Tail: 50}, "logs --no-color --follow --tail 50"},
		{runtime.LogOptions{Source: "postgres"}, "logs --no-color db"},
		{runtime.LogOptions{Source: "gateway", Tail: 5}, "logs --no-color --tail 5 kong"},
		{runtime.LogOptions{Source: "sfp"}, "logs --no-color supabase-migrations"},
		{runtime.LogOptions{Source: "realtime"}, "logs --no-color realtime"},
	} {
		fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
			if c.Stdout == nil {
				return Result{}, errors.New("logs must stream to the writer")
			}
			fmt.Fprintln(c.Stdout, "db-1  | LOG:  database system is ready to accept connections")
			return Result{}, nil
		}}
		var w bytes.Buffer
		if err := New(Options{Runner: fake}).Logs(context.Background(), tn, tc.opts, &w); err != nil {
			t.Fatal(err)
		}
		if got := fake.composeCalls(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%+v: compose calls %q, want %q", tc.opts, got, tc.want)
		}
		if !strings.Contains(w.String(), "ready to accept connections") {
			t.Errorf("logs output not written: %q", w.String())
		}
	}
	err := New(Options{Runner: &fakeDocker{}}).Logs(context.Background(), tn, runtime.LogOptions{Source: "nginx"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown log source "nginx"`) || !strings.Contains(err.Error(), "realtime") {
		t.Errorf("unknown source: %v", err)
	}
}

func TestLogsFollowInterrupted(t *testing.T) {
	tn := dockerTenant(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		cancel()
		return Result{}, fmt.Errorf("docker compose logs: %w", context.Canceled)
	}}
	if err := New(Options{Runner: fake}).Logs(ctx, tn, runtime.LogOptions{Follow: true}, &bytes.Buffer{}); err != nil {
		t.Errorf("following logs until interrupted is not an error: %v", err)
	}
}

// updateFake answers an update's compose calls; the migrations run is
// given by run.
func updateFake(ps []Container, run func(c Cmd) (Result, error)) *fakeDocker {
	return &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		switch args[0] {
		case "ps":
			return Result{Stdout: psLines(ps...)}, nil
		case "run":
			return run(c)
		}
		return Result{}, nil
	}}
}

var apiList = strings.Join(apiServices, " ")

func TestUpdate(t *testing.T) {
	report := `{"dry_run":false,"applied":[{"version":"20261201000500","name":"documents"},{"version":"20261201000600","name":"tasks"}],"credentials_key_created":false}`
	t.Run("running tenant", func(t *testing.T) {
		tn := dockerTenant(t, Options{})
		// An older binary's compose file in the tenant directory: the update
		// replaces it with this binary's.
		composePath := filepath.Join(tn.Dir, ComposeFileName)
		if err := os.WriteFile(composePath, []byte("# older release\nservices: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fake := updateFake(allUp(), func(c Cmd) (Result, error) {
			fmt.Fprintln(c.Stderr, "Applying migration 20261201000500_documents.sql…")
			return Result{Stdout: []byte(report + "\n")}, nil
		})
		var steps []string
		res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn,
			runtime.UpdateOptions{Progress: func(s string) { steps = append(steps, s) }})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"ps --all --format json",
			"build supabase-migrations",
			"stop " + apiList,
			"run --rm --no-TTY supabase-migrations",
			"up --detach --wait",
		}
		if got := fake.composeCalls(); !slices.Equal(got, want) {
			t.Errorf("compose calls:\n got %q\nwant %q", got, want)
		}
		if !res.WasRunning || !res.Restarted || len(res.Applied) != 2 || res.Applied[1].File != "20261201000600_tasks.sql" {
			t.Errorf("result = %+v", res)
		}
		if !slices.Contains(steps, "Applying migration 20261201000500_documents.sql…") {
			t.Errorf("progress %q lacks the migration's own lines", steps)
		}
		if b, _ := os.ReadFile(composePath); bytes.Contains(b, []byte("older release")) {
			t.Error("the update did not write this binary's docker-compose.yml")
		}
	})
	t.Run("stopped tenant", func(t *testing.T) {
		tn := dockerTenant(t, Options{})
		fake := updateFake([]Container{completed("db", 0)}, func(c Cmd) (Result, error) {
			return Result{Stdout: []byte(`{"dry_run":false,"applied":[]}` + "\n")}, nil
		})
		res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"ps --all --format json", "build supabase-migrations", "run --rm --no-TTY supabase-migrations", "stop"}
		if got := fake.composeCalls(); !slices.Equal(got, want) {
			t.Errorf("compose calls:\n got %q\nwant %q", got, want)
		}
		if res.WasRunning || res.Restarted || res.Applied == nil || len(res.Applied) != 0 {
			t.Errorf("result = %+v", res)
		}
	})
}

func TestUpdateMigrationFails(t *testing.T) {
	stderr := " Container sfp-acme-db-1  Running\n" +
		"Applying migration 20261201000500_documents.sql…\n" +
		"Applying migration 20261201000600_tasks.sql…\n" +
		"1 migration(s) applied before the failure.\n" +
		"error: migration 20261201000600_tasks.sql failed at statement 3 (line 12, column 1): ERROR: column \"x\" does not exist (SQLSTATE 42703)\n"
	failingRun := func(c Cmd) (Result, error) {
		c.Stderr.Write([]byte(stderr))
		return Result{Stderr: []byte(stderr)}, &ExitError{Args: []string{"docker", "compose", "run"}, Code: 1, Stderr: strings.TrimSpace(stderr)}
	}
	t.Run("running tenant", func(t *testing.T) {
		tn := dockerTenant(t, Options{})
		composePath := filepath.Join(tn.Dir, ComposeFileName)
		previous := []byte("# the release the tenant ran before\nservices: {}\n")
		if err := os.WriteFile(composePath, previous, 0o644); err != nil {
			t.Fatal(err)
		}
		var composeDuringRun []byte
		fake := updateFake(allUp(), func(c Cmd) (Result, error) {
			composeDuringRun, _ = os.ReadFile(composePath)
			return failingRun(c)
		})
		res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
		var merr *MigrationError
		if !errors.As(err, &merr) {
			t.Fatalf("error %v is not a *MigrationError", err)
		}
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 1 {
			t.Errorf("the container's exit status is lost: %v", err)
		}
		if !strings.Contains(err.Error(), "20261201000600_tasks.sql failed") || !strings.Contains(err.Error(), "started again") {
			t.Errorf("error does not say what failed and what came back: %v", err)
		}
		want := []string{
			"ps --all --format json",
			"build supabase-migrations",
			"stop " + apiList,
			"run --rm --no-TTY supabase-migrations",
			"up --detach --wait --no-deps " + apiList,
		}
		if got := fake.composeCalls(); !slices.Equal(got, want) {
			t.Errorf("compose calls:\n got %q\nwant %q", got, want)
		}
		if !res.WasRunning || !res.Restarted || !merr.Restarted {
			t.Errorf("result = %+v, error restarted = %v", res, merr.Restarted)
		}
		if len(res.Applied) != 1 || res.Applied[0].Version != "20261201000500" {
			t.Errorf("applied before the failure = %+v, want 20261201000500 only", res.Applied)
		}
		if bytes.Equal(composeDuringRun, previous) {
			t.Error("the migrations ran with the previous compose file")
		}
		if got, _ := os.ReadFile(composePath); !bytes.Equal(got, previous) {
			t.Errorf("the previous docker-compose.yml was not put back:\n%s", got)
		}
	})
	t.Run("stopped tenant", func(t *testing.T) {
		tn := dockerTenant(t, Options{})
		fake := updateFake(nil, failingRun)
		res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
		var merr *MigrationError
		if !errors.As(err, &merr) || merr.Restarted {
			t.Fatalf("error = %v", err)
		}
		want := []string{"ps --all --format json", "build supabase-migrations", "run --rm --no-TTY supabase-migrations", "stop"}
		if got := fake.composeCalls(); !slices.Equal(got, want) {
			t.Errorf("compose calls:\n got %q\nwant %q", got, want)
		}
		if res.Restarted || res.WasRunning {
			t.Errorf("result = %+v", res)
		}
	})
	t.Run("restart fails too", func(t *testing.T) {
		tn := dockerTenant(t, Options{})
		fake := updateFake(allUp(), failingRun)
		inner := fake.compose
		fake.compose = func(args []string, c Cmd) (Result, error) {
			if args[0] == "up" {
				return Result{}, &ExitError{Args: []string{"docker", "compose", "up"}, Code: 1, Stderr: "container sfp-acme-auth-1 is unhealthy"}
			}
			return inner(args, c)
		}
		res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), "the migrations failed") || !strings.Contains(err.Error(), "unhealthy") {
			t.Fatalf("error = %v; want both failures", err)
		}
		if res.Restarted {
			t.Error("reported restarted although the restart failed")
		}
	})
}

func TestUpdateBuildFails(t *testing.T) {
	tn := dockerTenant(t, Options{})
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		switch args[0] {
		case "ps":
			return Result{Stdout: psLines(allUp()...)}, nil
		case "build":
			return Result{}, &ExitError{Args: []string{"docker", "compose", "build"}, Code: 1, Stderr: "failed to solve: go build: exit status 1"}
		}
		return Result{}, nil
	}}
	res, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "build the sfp image") {
		t.Fatalf("error = %v", err)
	}
	if got := fake.composeCalls(); !slices.Equal(got, []string{"ps --all --format json", "build supabase-migrations"}) {
		t.Errorf("a failed build must leave the running tenant alone; compose calls = %q", got)
	}
	if !res.WasRunning || res.Restarted {
		t.Errorf("result = %+v", res)
	}
}

func TestAppliedBeforeFailure(t *testing.T) {
	got := appliedBeforeFailure("Applying migration 20260101000000_a.sql…\nApplying migration 20260101000001_b_c.sql…\n" +
		"error: migration 20260101000001_b_c.sql failed at statement 1")
	if len(got) != 1 || got[0].File != "20260101000000_a.sql" || got[0].Name != "a" {
		t.Errorf("got %+v", got)
	}
	// A failure after the last migration (creating the key) keeps them all.
	got = appliedBeforeFailure("Applying migration 20260101000000_a.sql…\nerror: init credentials key: permission denied")
	if len(got) != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestVersionCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2.20.3", "2.23.1", true}, {"2.23.1", "2.23.1", false}, {"2.24.0-desktop.1", "2.23.1", false},
		{"1.29.2", "2.23.1", true}, {"2.100.0", "2.23.1", false}, {"garbage", "2.23.1", false}, {"5.0", "2.23.1", false},
	} {
		if got := older(tc.a, tc.b); got != tc.want {
			t.Errorf("older(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// TestExecRunner runs real programs: the production Runner's exit codes,
// captured streams and missing-program error.
func TestExecRunner(t *testing.T) {
	ctx := context.Background()
	r := ExecRunner{}
	res, err := r.Run(ctx, Cmd{Args: []string{"sh", "-c", "echo out; echo err >&2"}})
	if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("run: %q %q %v", res.Stdout, res.Stderr, err)
	}
	_, err = r.Run(ctx, Cmd{Args: []string{"sh", "-c", "echo 'it broke' >&2; exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Stderr != "it broke" {
		t.Errorf("exit status: %v", err)
	}
	_, err = r.Run(ctx, Cmd{Args: []string{"sfp-no-such-program-xyz"}})
	if !errors.Is(err, ErrProgramNotFound) {
		t.Errorf("missing program: %v", err)
	}
	var out, errw bytes.Buffer
	res, err = r.Run(ctx, Cmd{Args: []string{"sh", "-c", "pwd; echo e >&2"}, Dir: t.TempDir(), Stdout: &out, Stderr: &errw})
	if err != nil || len(res.Stdout) != 0 || out.Len() == 0 || errw.String() != "e\n" || string(res.Stderr) != "e\n" {
		t.Errorf("streaming: %q %q %q %v", out.String(), errw.String(), res.Stderr, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = ExecRunner{GracePeriod: 5 * time.Second}.Run(cctx, Cmd{Args: []string{"sleep", "30"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRemove(t *testing.T) {
	tn := dockerTenant(t, Options{})
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) { return Result{}, nil }}
	if err := New(Options{Runner: fake, BuildContext: "/src"}).Remove(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	if got, want := fake.composeCalls(), []string{"down --volumes --remove-orphans"}; !slices.Equal(got, want) {
		t.Errorf("compose calls = %q, want %q", got, want)
	}
}
