package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Container is one entry of `docker compose ps --format json`.
type Container struct {
	Name     string `json:"Name"`
	Service  string `json:"Service"`
	State    string `json:"State"`  // created, running, restarting, paused, exited, dead
	Health   string `json:"Health"` // healthy, unhealthy, starting, or empty without a healthcheck
	ExitCode int    `json:"ExitCode"`
	Status   string `json:"Status"` // "Up 5 minutes (healthy)", "Exited (0) 2 minutes ago"
}

// ParsePS reads the output of `docker compose ps --format json`: a JSON
// array (compose before 2.21) or one JSON object per line (2.21 and later).
// Empty output is no containers.
func ParsePS(out []byte) ([]Container, error) {
	var list []Container
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return list, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse docker compose ps output: %w", err)
		}
		switch raw[0] {
		case '[':
			var many []Container
			if err := json.Unmarshal(raw, &many); err != nil {
				return nil, fmt.Errorf("parse docker compose ps output: %w", err)
			}
			list = append(list, many...)
		case '{':
			var one Container
			if err := json.Unmarshal(raw, &one); err != nil {
				return nil, fmt.Errorf("parse docker compose ps output: %w", err)
			}
			list = append(list, one)
		default:
			return nil, fmt.Errorf("parse docker compose ps output: unexpected %s", truncate(string(raw), 40))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ps lists the project's containers, stopped ones included.
func (r *Runtime) ps(ctx context.Context, t *tenant.Tenant) ([]Container, error) {
	res, err := r.compose(ctx, t, Cmd{}, "ps", "--all", "--format", "json")
	if err != nil {
		return nil, err
	}
	return ParsePS(res.Stdout)
}

func anyRunning(cs []Container) bool {
	for _, c := range cs {
		if c.State == "running" || c.State == "restarting" {
			return true
		}
	}
	return false
}

// byService keeps, per service, the container that best describes it: a
// running one over a stopped one (a `run` container may sit next to it).
func byService(cs []Container) map[string]Container {
	out := map[string]Container{}
	for _, c := range cs {
		if prev, ok := out[c.Service]; ok && prev.State == "running" {
			continue
		}
		out[c.Service] = c
	}
	return out
}

// Status reports each compose service. The tenant is running when every
// long-running service runs; the migration steps are reported with how
// they ended.
func (r *Runtime) Status(ctx context.Context, t *tenant.Tenant) (*runtime.Status, error) {
	if err := r.Check(ctx); err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(t.Dir, ComposeFileName)) {
		return nil, fmt.Errorf("status of tenant %q: %s is missing; run `sfp server start -t %s` (it writes it) or re-create the tenant",
			t.Name(), ComposeFileName, t.Name())
	}
	entries, err := r.ps(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("status of tenant %q: %w", t.Name(), err)
	}
	st := &runtime.Status{Tenant: t.Name(), Runtime: string(tenant.RuntimeDocker), URL: t.URL(), Running: true}
	svc := byService(entries)
	for _, name := range longRunning {
		c, ok := svc[name]
		comp := serviceComponent(name, c, ok)
		st.Running = st.Running && comp.State == runtime.StateUp
		if name == "kong" {
			comp.Address = t.URL()
		}
		st.Components = append(st.Components, comp)
	}
	for _, name := range oneShot {
		c, ok := svc[name]
		st.Components = append(st.Components, stepComponent(name, c, ok))
	}
	if c, ok := svc["db"]; ok && c.State == "running" {
		if v, err := r.schemaVersion(ctx, t); err == nil {
			st.SchemaVersion = v
		} else {
			r.opts.Logger.Debug("schema version unavailable", "tenant", t.Name(), "err", err)
		}
	}
	return st, nil
}

// serviceComponent reports a long-running service (ok: it has a
// container c): up while its container runs.
func serviceComponent(name string, c Container, ok bool) runtime.Component {
	comp := runtime.Component{Name: name, State: runtime.StateDown, Detail: "no container (not started yet)"}
	if ok {
		comp.Detail = describe(c)
		if c.State == "running" {
			comp.State = runtime.StateUp
		}
	}
	return comp
}

// stepComponent reports a migration step (ok: it has a container c): up
// while it runs, then how it ended, pointing at its log when it failed.
func stepComponent(name string, c Container, ok bool) runtime.Component {
	comp := runtime.Component{Name: name, State: runtime.StateDown}
	switch {
	case !ok:
		comp.Detail = "not run yet"
	case c.State == "running":
		comp.State, comp.Detail = runtime.StateUp, "running"
	case c.State == "exited" && c.ExitCode == 0:
		comp.Detail = "completed"
	case c.State == "exited":
		comp.Detail = "failed (exit code " + strconv.Itoa(c.ExitCode) + "); see `sfp server logs --source " + name + "`"
	default:
		comp.Detail = describe(c)
	}
	return comp
}

// describe is a container's state, health and docker's status text.
func describe(c Container) string {
	d := c.State
	if c.Health != "" {
		d += " (" + c.Health + ")"
	}
	if c.Status != "" {
		d += ": " + c.Status
	}
	return d
}

// schemaVersion asks the db container for the newest applied migration.
// psql runs inside the container (its environment has the password), so
// nothing needs a published database port.
func (r *Runtime) schemaVersion(ctx context.Context, t *tenant.Tenant) (string, error) {
	res, err := r.compose(ctx, t, Cmd{}, "exec", "-T", "db", "psql", "-X", "-A", "-t", "-U", "supabase_admin", "-h", "localhost",
		"-c", "select coalesce(max(version), '') from supabase_migrations.schema_migrations")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}
