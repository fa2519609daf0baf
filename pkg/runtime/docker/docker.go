// Package docker runs a tenant on the official Supabase images: one docker
// compose project per tenant (sfp-<tenant>), from the repository's
// docker-compose.yml and kong.yml, which the sfp binary carries and writes
// into the tenant directory, with every value taken from the tenant's .env.
//
// It speaks to Docker only through the docker CLI and its compose plugin,
// via a Runner, so the whole runtime is testable with a fake on hosts
// without a Docker engine.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Files the runtime writes into the tenant directory, next to .env.
const (
	ComposeFileName  = "docker-compose.yml"
	OverrideFileName = "docker-compose.override.yml" // the operator's own changes; read when present
	KongFileName     = "kong.yml"
)

// MinComposeVersion is the oldest docker compose plugin the compose file
// works with (inline `configs.content`).
const MinComposeVersion = "2.23.1"

// Services of docker-compose.yml. A test checks these lists against the
// file, so they cannot drift.
var (
	// longRunning services, each with a healthcheck, in start order.
	longRunning = []string{"db", "auth", "rest", "realtime", "meta", "studio", "kong"}
	// oneShot services run to completion on every start.
	oneShot = []string{"auth-migrations", migrationsService}
	// apiServices are stopped for an update, the gateway first; the
	// database keeps running.
	apiServices = []string{"kong", "studio", "meta", "realtime", "rest", "auth"}
)

// migrationsService runs `sfp server migrate --init-key` from the sfp image.
const migrationsService = "supabase-migrations"

// Setup problems, each with how to fix it in the error that wraps it.
var (
	ErrDockerNotInstalled  = errors.New("docker is not installed")
	ErrComposeNotInstalled = errors.New("the docker compose plugin is not installed")
	ErrComposeTooOld       = errors.New("the docker compose plugin is too old")
	ErrEngineUnavailable   = errors.New("the Docker engine is not reachable")
)

// Options configure the docker runtime.
type Options struct {
	// Runner runs the docker CLI; default ExecRunner{}.
	Runner Runner
	Logger *slog.Logger
	// Version of sfp; it tags the image the migrations container runs
	// (sfp:<version>) and is stamped into it (VERSION). Default "dev".
	Version string
	// BuildContext is where that image is built from, when set (a checkout
	// of this repository or a git URL; SFP_BUILD_CONTEXT in sfp's
	// environment). Default: a copy of the running sfp, else a checkout,
	// else the repository's git URL (image.go). Written to .env
	// (SFP_BUILD_CONTEXT) on every init, start and update.
	BuildContext string
	// Getwd and Executable locate a checkout; defaults os.Getwd and
	// os.Executable.
	Getwd      func() (string, error)
	Executable func() (string, error)
	// StopTimeout bounds stopping the stack when a foreground Start ends;
	// default 2 minutes.
	StopTimeout time.Duration
}

// Runtime is the docker runtime.
type Runtime struct {
	opts Options

	mu      sync.Mutex
	checked bool
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns the docker runtime.
func New(opts Options) *Runtime {
	if opts.Runner == nil {
		opts.Runner = ExecRunner{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Getwd == nil {
		opts.Getwd = os.Getwd
	}
	if opts.Executable == nil {
		opts.Executable = os.Executable
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 2 * time.Minute
	}
	return &Runtime{opts: opts}
}

// ProjectName is the compose project of a tenant.
func ProjectName(t *tenant.Tenant) string { return "sfp-" + t.Name() }

// Check verifies that the docker CLI, its compose plugin (MinComposeVersion
// or newer) and the engine are there. The error names what is missing and
// how to install or start it. A successful check is remembered.
func (r *Runtime) Check(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checked {
		return nil
	}
	res, err := r.opts.Runner.Run(ctx, Cmd{Args: []string{"docker", "compose", "version", "--short"}})
	var ee *ExitError
	switch {
	case errors.Is(err, ErrProgramNotFound):
		return fmt.Errorf("%w (no docker command in PATH): install Docker Engine and its compose plugin "+
			"(https://docs.docker.com/engine/install/), or use the embedded runtime (sfp server init --runtime embedded)", ErrDockerNotInstalled)
	case errors.As(err, &ee) && composeMissing(ee.Stderr):
		return fmt.Errorf("%w (`docker compose` is not a docker command): install it, e.g. `apt-get install docker-compose-plugin` "+
			"(https://docs.docker.com/compose/install/linux/)", ErrComposeNotInstalled)
	case err != nil:
		return fmt.Errorf("check docker compose: %w", err)
	}
	version := strings.TrimPrefix(strings.TrimSpace(string(res.Stdout)), "v")
	if older(version, MinComposeVersion) {
		return fmt.Errorf("%w: found %s, sfp needs %s or newer: upgrade it, e.g. `apt-get install docker-compose-plugin` "+
			"(https://docs.docker.com/compose/install/linux/)", ErrComposeTooOld, version, MinComposeVersion)
	}
	_, err = r.opts.Runner.Run(ctx, Cmd{Args: []string{"docker", "version", "--format", "{{.Server.Version}}"}})
	if errors.As(err, &ee) {
		return fmt.Errorf("%w: %s\nstart it (`sudo systemctl start docker`), or check DOCKER_HOST and that you may use "+
			"the socket (membership of the docker group)", ErrEngineUnavailable, firstLine(ee.Stderr))
	}
	if err != nil {
		return fmt.Errorf("check the Docker engine: %w", err)
	}
	r.checked = true
	return nil
}

// composeMissing recognises the docker CLI's answer to an unknown
// subcommand ("docker: unknown command: docker compose", older: "docker:
// 'compose' is not a docker command."). Docker 28 without the plugin takes
// `compose version --short` as its own arguments and answers "unknown
// flag: --short"; every compose v2 knows --short, so that means no plugin.
func composeMissing(stderr string) bool {
	s := strings.ToLower(stderr)
	if strings.Contains(s, "unknown flag: --short") {
		return true
	}
	return strings.Contains(s, "compose") && (strings.Contains(s, "unknown command") || strings.Contains(s, "is not a docker command"))
}

// older reports whether version a is older than b (dotted numbers; a
// suffix such as "-desktop.1" is ignored). An unparsable a is not older:
// compose itself will then say what it does not understand.
func older(a, b string) bool {
	pa, okA := parseVersion(a)
	pb, _ := parseVersion(b)
	if !okA {
		return false
	}
	for i := range pb {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func parseVersion(s string) ([3]int, bool) {
	var out [3]int
	s, _, _ = strings.Cut(s, "-")
	s, _, _ = strings.Cut(s, "+")
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return out, false
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// composeArgs is `docker compose` on the tenant's project, then args.
func composeArgs(t *tenant.Tenant, args ...string) []string {
	out := []string{"docker", "compose", "-p", ProjectName(t), "--project-directory", t.Dir,
		"-f", filepath.Join(t.Dir, ComposeFileName)}
	if override := filepath.Join(t.Dir, OverrideFileName); fileExists(override) {
		out = append(out, "-f", override)
	}
	out = append(out, "--env-file", t.EnvFile())
	return append(out, args...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// compose runs docker compose on the tenant's project.
func (r *Runtime) compose(ctx context.Context, t *tenant.Tenant, c Cmd, args ...string) (Result, error) {
	c.Args = composeArgs(t, args...)
	c.Dir = t.Dir
	r.opts.Logger.Debug("docker", "args", c.String())
	return r.opts.Runner.Run(ctx, c)
}

// Init adds the compose settings to the tenant's .env (mode 0600) and writes
// docker-compose.yml and kong.yml into the tenant directory. It needs no
// Docker: the images are pulled, and the sfp image built, on first start.
func (r *Runtime) Init(ctx context.Context, t *tenant.Tenant) error {
	if t.Config.Runtime != tenant.RuntimeDocker {
		return fmt.Errorf("init tenant %q: its runtime is %s, not docker", t.Name(), t.Config.Runtime)
	}
	if err := r.syncEnv(t); err != nil {
		return err
	}
	_, err := writeAssets(t)
	return err
}

// prepare brings .env in line with tenant.yaml and restores project files
// that are missing, before any compose command.
func (r *Runtime) prepare(ctx context.Context, t *tenant.Tenant) error {
	if err := r.Check(ctx); err != nil {
		return err
	}
	if err := r.syncEnv(t); err != nil {
		return err
	}
	if !fileExists(filepath.Join(t.Dir, ComposeFileName)) || !fileExists(filepath.Join(t.Dir, KongFileName)) {
		if _, err := writeAssets(t); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the compose project, waits until every service is healthy
// (or has completed: the migration steps) and calls Ready. With Detach it
// then returns; in the foreground it waits for ctx to end and stops the
// project.
func (r *Runtime) Start(ctx context.Context, t *tenant.Tenant, opts runtime.StartOptions) error {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if err := r.prepare(ctx, t); err != nil {
		return err
	}
	progress(fmt.Sprintf("Starting compose project %s (the first start pulls the images and builds the sfp image)", ProjectName(t)))
	started := time.Now().UTC()
	pw := progressWriter(progress)
	_, err := r.compose(ctx, t, Cmd{Stderr: pw}, "up", "--detach", "--wait")
	pw.Flush()
	if err != nil {
		return fmt.Errorf("start tenant %q: %w\nsee `sfp server logs -t %s` (or --source %s for the migrations)",
			t.Name(), err, t.Name(), migrationsService)
	}
	if err := r.ensureRealtimePolicies(ctx, t); err != nil {
		return fmt.Errorf("start tenant %q: %w", t.Name(), err)
	}
	info := runtime.Info{Tenant: t.Name(), Runtime: string(tenant.RuntimeDocker), URL: t.URL(),
		EnvFile: t.EnvFile(), StartedAt: started, Applied: r.lastApplied(ctx, t)}
	r.opts.Logger.Info("tenant ready", "tenant", t.Name(), "url", info.URL, "project", ProjectName(t))
	if opts.Ready != nil {
		opts.Ready(info)
	}
	if opts.Detach {
		return nil
	}
	<-ctx.Done()
	progress("Stopping compose project " + ProjectName(t))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.StopTimeout)
	defer cancel()
	if _, err := r.compose(sctx, t, Cmd{}, "stop"); err != nil {
		return fmt.Errorf("stop tenant %q: %w", t.Name(), err)
	}
	return nil
}

// ensureRealtimePolicies creates the policy of realtime.messages that lets
// an account's viewers join its task:<id> and deployment:<id> topics. The
// migrations container runs before the realtime container, which creates
// realtime.messages under compose, so the migration cannot; once every
// service is healthy the table exists. The function is idempotent.
func (r *Runtime) ensureRealtimePolicies(ctx context.Context, t *tenant.Tenant) error {
	res, err := r.compose(ctx, t, Cmd{}, "exec", "-T", "db", "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-U", "supabase_admin", "-h", "localhost", "-c", "select sfp_private.ensure_realtime_topic_policy()")
	if err != nil {
		return fmt.Errorf("create the realtime topic policy: %w", err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "t" {
		return fmt.Errorf("create the realtime topic policy: realtime.messages does not exist although realtime is healthy (got %q)", got)
	}
	return nil
}

// Stop stops the project's containers (they, the network and the volumes
// stay; the next start reuses them).
func (r *Runtime) Stop(ctx context.Context, t *tenant.Tenant) (bool, error) {
	if err := r.Check(ctx); err != nil {
		return false, err
	}
	entries, err := r.ps(ctx, t)
	if err != nil {
		return false, fmt.Errorf("stop tenant %q: %w", t.Name(), err)
	}
	if !anyRunning(entries) {
		return false, nil
	}
	if _, err := r.compose(ctx, t, Cmd{}, "stop"); err != nil {
		return true, fmt.Errorf("stop tenant %q: %w", t.Name(), err)
	}
	return true, nil
}

// Logs writes the project's logs (one service with Source; "postgres"
// means db, "gateway" kong, "sfp" the migrations container).
func (r *Runtime) Logs(ctx context.Context, t *tenant.Tenant, opts runtime.LogOptions, w io.Writer) error {
	service, err := logService(opts.Source)
	if err != nil {
		return err
	}
	if err := r.Check(ctx); err != nil {
		return err
	}
	args := []string{"logs", "--no-color"}
	if opts.Follow {
		args = append(args, "--follow")
	}
	if opts.Tail > 0 {
		args = append(args, "--tail", strconv.Itoa(opts.Tail))
	}
	if service != "" {
		args = append(args, service)
	}
	_, err = r.compose(ctx, t, Cmd{Stdout: w}, args...)
	if err != nil && opts.Follow && ctx.Err() != nil {
		return nil // interrupted while following: the normal way out
	}
	if err != nil {
		return fmt.Errorf("logs of tenant %q: %w", t.Name(), err)
	}
	return nil
}

func logService(source string) (string, error) {
	switch source {
	case "":
		return "", nil
	case "postgres":
		return "db", nil
	case "gateway":
		return "kong", nil
	case "sfp":
		return migrationsService, nil
	}
	for _, s := range append(append([]string{}, longRunning...), oneShot...) {
		if s == source {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown log source %q: use one of %s (or postgres, gateway, sfp)",
		source, strings.Join(append(append([]string{}, longRunning...), oneShot...), ", "))
}

// lineWriter calls fn with each complete line written to it (trimmed,
// blank lines skipped); Flush passes on an unterminated last line.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line that never ends: pass it on in pieces
		w.emit(w.buf)
		w.buf = nil
	}
	return len(p), nil
}

func (w *lineWriter) emit(b []byte) {
	if line := strings.TrimSpace(string(b)); line != "" {
		w.fn(line)
	}
}

// Flush passes on what is left.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit(w.buf)
	w.buf = nil
}

// progressWriter turns docker compose's status lines into progress steps,
// leaving out per-layer download noise.
func progressWriter(progress func(string)) *lineWriter {
	return &lineWriter{fn: func(line string) {
		if !layerNoise(line) {
			progress(line)
		}
	}}
}

var layerWords = []string{"Downloading", "Extracting", "Waiting", "Verifying Checksum", "Download complete",
	"Pull complete", "Already exists", "Pulling fs layer"}

func layerNoise(line string) bool {
	for _, w := range layerWords {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}

// Remove deletes the tenant's compose project: its containers, network and
// volumes — the database and the Vault key with them. `sfp server init
// --force` calls it before recreating a docker tenant, so the new tenant does
// not find the old database (with the old passwords) in the old volumes.
func (r *Runtime) Remove(ctx context.Context, t *tenant.Tenant) error {
	if err := r.Check(ctx); err != nil {
		return fmt.Errorf("remove tenant %q: %w", t.Name(), err)
	}
	if _, err := r.compose(ctx, t, Cmd{}, "down", "--volumes", "--remove-orphans"); err != nil {
		return fmt.Errorf("remove tenant %q: %w", t.Name(), err)
	}
	return nil
}
