package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// A PostgreSQL server opens only data directories of its own major
// version: an update whose db image is of another major version than the
// tenant's data would leave the database unable to start. Update refuses
// it before changing anything and says how to go on.

// ErrPostgresMajor is wrapped by *PostgresMajorError.
var ErrPostgresMajor = errors.New("the database is of another PostgreSQL major version than the db image")

// UpgradeGuide is where the upgrade procedure is documented.
const UpgradeGuide = `docs/postgres-upgrade.md ("Upgrading a docker tenant's PostgreSQL") in the sfp repository`

// PostgresMajorError is an update refused because the db image cannot open
// the tenant's data.
type PostgresMajorError struct {
	Tenant     string
	Volume     string // the data volume, sfp-<tenant>_db-data
	DataMajor  int    // the major version of the data (PG_VERSION)
	Image      string // the db image the update would run
	ImageMajor int
	// Previous is the db image the tenant ran, when it is of DataMajor.
	Previous string
	Override string // path of docker-compose.override.yml
}

func (e *PostgresMajorError) Error() string {
	pin := e.Previous
	if pin == "" {
		pin = fmt.Sprintf("supabase/postgres:%d.x (the image the tenant ran)", e.DataMajor)
	}
	return fmt.Sprintf("update tenant %q: its database is PostgreSQL %d (volume %s), and this sfp release runs %s (PostgreSQL %d), "+
		"which cannot open it; nothing was changed.\n"+
		"Either keep PostgreSQL %d for now: pin the db image in %s\n\n"+
		"    services:\n      db:\n        image: %s\n\n"+
		"and run `sfp server update -t %s` again; or upgrade the database to PostgreSQL %d first, step by step: %s",
		e.Tenant, e.DataMajor, e.Volume, e.Image, e.ImageMajor, e.DataMajor, e.Override, pin, e.Tenant, e.ImageMajor, UpgradeGuide)
}

func (e *PostgresMajorError) Unwrap() error { return ErrPostgresMajor }

// dataVolume is the compose volume holding the tenant's cluster.
func dataVolume(t *tenant.Tenant) string { return ProjectName(t) + "_db-data" }

// pgDataVersionFile is PG_VERSION in the db service's data directory.
const pgDataVersionFile = "/var/lib/postgresql/data/PG_VERSION"

// checkPostgresMajor refuses an update whose db image (this release's
// compose file, or the image docker-compose.override.yml pins) is of
// another PostgreSQL major version than the tenant's data. The data's
// version is read from PG_VERSION in the data volume, through the tenant's
// current project; a tenant without a data volume has nothing to protect.
// When the volume cannot be read, the db image of the tenant's current
// compose files stands for it.
func (r *Runtime) checkPostgresMajor(ctx context.Context, t *tenant.Tenant) error {
	override, err := readOptional(filepath.Join(t.Dir, OverrideFileName))
	if err != nil {
		return err
	}
	image, err := effectiveDBImage(sfp.ComposeFile(), override)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.Name(), err)
	}
	want, ok := imageMajor(image)
	if !ok {
		return nil // not a supabase/postgres version tag: the operator's own image
	}
	current, _ := readOptional(filepath.Join(t.Dir, ComposeFileName))
	previous := ""
	if current != nil {
		previous, _ = effectiveDBImage(current, override)
	}
	dataMajor, known, err := r.dataMajor(ctx, t)
	if err != nil {
		r.opts.Logger.Warn("cannot read the data volume's PostgreSQL version; judging by the tenant's compose files",
			"tenant", t.Name(), "error", err)
		if dataMajor, known = imageMajor(previous); !known {
			return nil
		}
	}
	if !known || dataMajor == want {
		return nil
	}
	if m, ok := imageMajor(previous); !ok || m != dataMajor {
		previous = ""
	}
	return &PostgresMajorError{Tenant: t.Name(), Volume: dataVolume(t), DataMajor: dataMajor, Image: image,
		ImageMajor: want, Previous: previous, Override: filepath.Join(t.Dir, OverrideFileName)}
}

// dataMajor reads PG_VERSION from the tenant's data volume. known is false
// when there is no volume or no cluster in it yet.
func (r *Runtime) dataMajor(ctx context.Context, t *tenant.Tenant) (major int, known bool, err error) {
	_, err = r.opts.Runner.Run(ctx, Cmd{Args: []string{"docker", "volume", "inspect", "--format", "{{.Name}}", dataVolume(t)}})
	var ee *ExitError
	if errors.As(err, &ee) && strings.Contains(strings.ToLower(ee.Stderr), "no such volume") {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("inspect volume %s: %w", dataVolume(t), err)
	}
	res, err := r.compose(ctx, t, Cmd{}, "run", "--rm", "--no-TTY", "--no-deps", "--entrypoint", "cat", "db", pgDataVersionFile)
	if errors.As(err, &ee) && strings.Contains(ee.Stderr, "No such file or directory") {
		return 0, false, nil // a volume without a cluster: the first start initialises it
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s from volume %s: %w", pgDataVersionFile, dataVolume(t), err)
	}
	v := strings.TrimSpace(string(res.Stdout))
	if major, err = strconv.Atoi(v); err != nil || major < 1 {
		return 0, false, fmt.Errorf("read %s from volume %s: unexpected content %q", pgDataVersionFile, dataVolume(t), truncate(v, 40))
	}
	return major, true, nil
}

// effectiveDBImage is the db service's image: the override's when it sets
// one, else the compose file's.
func effectiveDBImage(compose, override []byte) (string, error) {
	var doc struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	if len(override) > 0 {
		if err := yaml.Unmarshal(override, &doc); err != nil {
			return "", fmt.Errorf("read %s: %w", OverrideFileName, err)
		}
		if img := doc.Services["db"].Image; img != "" {
			return img, nil
		}
		doc.Services = nil
	}
	if err := yaml.Unmarshal(compose, &doc); err != nil {
		return "", fmt.Errorf("read %s: %w", ComposeFileName, err)
	}
	img := doc.Services["db"].Image
	if img == "" {
		return "", fmt.Errorf("%s has no db service image", ComposeFileName)
	}
	return img, nil
}

// imageMajor is the PostgreSQL major version of a supabase/postgres image
// (its tag starts with it: 17.6.1.136), by name or with a registry prefix.
func imageMajor(image string) (int, bool) {
	name, tag, ok := strings.Cut(image, ":")
	if !ok || !(name == "supabase/postgres" || strings.HasSuffix(name, "/supabase/postgres")) {
		return 0, false
	}
	tag, _, _ = strings.Cut(tag, "@")
	first, _, _ := strings.Cut(tag, ".")
	n, err := strconv.Atoi(first)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// readOptional reads a file, nil when it does not exist.
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
