package docker

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	sfp "github.com/sfp-dev/sfp"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ExecDB runs a program in the tenant's db service (`docker compose exec -T
// db …`) with its standard output written to w: how `sfp server backup`
// runs pg_basebackup, pg_dump and psql against a docker tenant, inside the
// container, where the database needs no published port or password.
func (r *Runtime) ExecDB(ctx context.Context, t *tenant.Tenant, args []string, w io.Writer) error {
	_, err := r.compose(ctx, t, Cmd{Stdout: w}, append([]string{"exec", "-T", "db"}, args...)...)
	return err
}

// loadDBScript empties the data directory of the db service's volume and
// unpacks the tar on its input there, owned by postgres (the image's
// entrypoint would otherwise initialise a new cluster on first start).
const loadDBScript = `set -e
d=/var/lib/postgresql/data
mkdir -p "$d"
find "$d" -mindepth 1 -delete
tar -x -C "$d"
chown -R postgres:postgres "$d"
chmod 0700 "$d"
test -s "$d/PG_VERSION"`

// LoadDB puts a physical backup's cluster (pg_basebackup's tar, its WAL
// included) into the tenant's db volume, replacing what is there: how `sfp
// server restore` restores a docker tenant. The db service runs once, in a
// container of its own with a shell instead of PostgreSQL; the next start
// recovers the cluster as after a crash.
func (r *Runtime) LoadDB(ctx context.Context, t *tenant.Tenant, base io.Reader) error {
	if err := r.Check(ctx); err != nil {
		return fmt.Errorf("load the cluster into tenant %q: %w", t.Name(), err)
	}
	if _, err := r.compose(ctx, t, Cmd{Stdin: base}, "run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", "db", "-c", loadDBScript); err != nil {
		return fmt.Errorf("load the cluster into the db volume of tenant %q: %w", t.Name(), err)
	}
	return nil
}

// DBMajor is the PostgreSQL major version of the tenant's db image (this
// release's compose file, or the one docker-compose.override.yml pins);
// known is false for an image that is not a supabase/postgres version tag.
func (r *Runtime) DBMajor(t *tenant.Tenant) (major int, known bool, err error) {
	override, err := readOptional(filepath.Join(t.Dir, OverrideFileName))
	if err != nil {
		return 0, false, err
	}
	image, err := effectiveDBImage(sfp.ComposeFile(), override)
	if err != nil {
		return 0, false, err
	}
	major, known = imageMajor(image)
	return major, known, nil
}

// SchemaVersion is the newest migration applied to the tenant's database.
func (r *Runtime) SchemaVersion(ctx context.Context, t *tenant.Tenant) (string, error) {
	return r.schemaVersion(ctx, t)
}
