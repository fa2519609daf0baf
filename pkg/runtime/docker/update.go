package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// migrateReport is what `sfp server migrate --json` prints on stdout.
type migrateReport struct {
	Applied []struct {
		Version string `json:"version"`
		Name    string `json:"name"`
	} `json:"applied"`
	KeyCreated *bool `json:"credentials_key_created"`
}

// parseMigrateOutput finds the last report in a migrations container's
// output (its stdout, or its logs across several runs).
func parseMigrateOutput(out []byte) ([]migrate.Migration, bool) {
	var last *migrateReport
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var rep migrateReport
		if json.Unmarshal(line, &rep) == nil && rep.Applied != nil {
			last = &rep
		}
	}
	if last == nil {
		return nil, false
	}
	out2 := []migrate.Migration{}
	for _, a := range last.Applied {
		out2 = append(out2, migration(a.Version, a.Name))
	}
	return out2, true
}

func migration(version, name string) migrate.Migration {
	return migrate.Migration{Version: version, Name: name, File: version + "_" + name + ".sql"}
}

var (
	applyingRE = regexp.MustCompile(`Applying migration ([0-9]{14})_(\S+?)\.sql`)
	failedRE   = regexp.MustCompile(`migration ([0-9]{14})_\S+?\.sql failed`)
)

// appliedBeforeFailure reads a failed run's progress lines: every migration
// it started applying was committed, except the one named as failed (each
// file is applied in its own transaction).
func appliedBeforeFailure(stderr string) []migrate.Migration {
	failed := ""
	if m := failedRE.FindStringSubmatch(stderr); m != nil {
		failed = m[1]
	}
	var out []migrate.Migration
	for _, m := range applyingRE.FindAllStringSubmatch(stderr, -1) {
		if m[1] != failed {
			out = append(out, migration(m[1], m[2]))
		}
	}
	return out
}

// lastApplied reports what the migrations container applied on its last
// run (best effort: nil when its logs cannot be read).
func (r *Runtime) lastApplied(ctx context.Context, t *tenant.Tenant) []string {
	res, err := r.compose(ctx, t, Cmd{}, "logs", "--no-color", "--no-log-prefix", migrationsService)
	if err != nil {
		return nil
	}
	ms, ok := parseMigrateOutput(res.Stdout)
	if !ok {
		return nil
	}
	files := []string{}
	for _, m := range ms {
		files = append(files, m.File)
	}
	return files
}

// MigrationError is a failed migrations container run during an update.
type MigrationError struct {
	Tenant string
	Err    error
	// Restarted reports whether the previous services came back.
	Restarted bool
}

func (e *MigrationError) Error() string {
	msg := fmt.Sprintf("update tenant %q: the migrations failed: %v", e.Tenant, e.Err)
	if e.Restarted {
		msg += "\nthe previous services were started again on the schema as the migrations left it"
	}
	return msg
}

func (e *MigrationError) Unwrap() error { return e.Err }

// Update brings a tenant to this sfp release: it refuses a db image of
// another PostgreSQL major version than the tenant's data
// (*PostgresMajorError, before anything changes), writes this binary's
// docker-compose.yml and kong.yml, builds the sfp image, stops the API
// services (the database keeps running), runs the migrations container to
// completion and starts everything again. If the migrations fail, each
// file before the failing one stays applied and the failing one is rolled
// back whole (as the runner leaves it), the previous project files are put
// back and the previous services are started again; the error says what
// failed. A tenant that was not running is left stopped.
func (r *Runtime) Update(ctx context.Context, t *tenant.Tenant, opts runtime.UpdateOptions) (*runtime.UpdateResult, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res := &runtime.UpdateResult{}
	if err := r.Check(ctx); err != nil {
		return res, err
	}
	// Before anything is written: a refused update leaves every file as it was.
	if err := r.checkPostgresMajor(ctx, t); err != nil {
		return res, err
	}
	if err := r.prepare(ctx, t); err != nil {
		return res, err
	}
	entries, err := r.ps(ctx, t)
	if err != nil {
		return res, fmt.Errorf("update tenant %q: %w", t.Name(), err)
	}
	res.WasRunning = anyRunning(entries)

	previous, err := writeAssets(t)
	if err != nil {
		return res, err
	}
	progress("Building the sfp image (" + t.Secrets.Extra["SFP_IMAGE"] + ")")
	pw := progressWriter(progress)
	_, err = r.compose(ctx, t, Cmd{Stderr: pw}, "build", migrationsService)
	pw.Flush()
	if err != nil {
		if rerr := restoreAssets(t, previous); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return res, fmt.Errorf("update tenant %q: build the sfp image: %w", t.Name(), err)
	}
	if res.WasRunning {
		progress("Stopping the API services (" + strings.Join(apiServices, ", ") + ")")
		if _, err := r.compose(ctx, t, Cmd{}, append([]string{"stop"}, apiServices...)...); err != nil {
			return res, fmt.Errorf("update tenant %q: stop the API services: %w", t.Name(), err)
		}
	}

	progress("Applying migrations (" + migrationsService + ")")
	pw = progressWriter(progress)
	out, runErr := r.compose(ctx, t, Cmd{Stderr: pw}, "run", "--rm", "--no-TTY", migrationsService)
	pw.Flush()
	if runErr == nil {
		res.Applied, _ = parseMigrateOutput(out.Stdout)
		if res.Applied == nil {
			res.Applied = []migrate.Migration{}
		}
		if err := r.restore(ctx, t, res, progress, false); err != nil {
			return res, fmt.Errorf("update tenant %q: migrations applied, but: %w", t.Name(), err)
		}
		return res, nil
	}

	// The migrations failed: the files before the failing one are applied.
	res.Applied = appliedBeforeFailure(string(out.Stderr))
	merr := &MigrationError{Tenant: t.Name(), Err: runErr}
	if rerr := restoreAssets(t, previous); rerr != nil {
		return res, errors.Join(merr, rerr)
	}
	// The restart must not run the failing migrations again, or the API
	// services would wait for them forever.
	if err := r.restore(ctx, t, res, progress, true); err != nil {
		return res, errors.Join(merr, err)
	}
	merr.Restarted = res.Restarted
	return res, merr
}

// restore puts the tenant back in the state it was in before the update:
// running (everything, or after a failure only the API services, without
// their dependencies) or stopped.
func (r *Runtime) restore(ctx context.Context, t *tenant.Tenant, res *runtime.UpdateResult, progress func(string), failed bool) error {
	// Finish even when the caller gives up: a half-restarted tenant is worse.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if !res.WasRunning {
		// `run` started the database (and the migration steps it needs).
		progress("Stopping the database again (the tenant was not running)")
		if _, err := r.compose(ctx, t, Cmd{}, "stop"); err != nil {
			return fmt.Errorf("stop the database: %w", err)
		}
		return nil
	}
	args := []string{"up", "--detach", "--wait"}
	if failed {
		progress("Starting the previous services again")
		args = append(append(args, "--no-deps"), apiServices...)
	} else {
		progress("Starting the services")
	}
	pw := progressWriter(progress)
	_, err := r.compose(ctx, t, Cmd{Stderr: pw}, args...)
	pw.Flush()
	if err != nil {
		return fmt.Errorf("start the services: %w", err)
	}
	res.Restarted = true
	return nil
}
