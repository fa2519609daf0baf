package docker

import (
	"context"
	"io"

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

// SchemaVersion is the newest migration applied to the tenant's database.
func (r *Runtime) SchemaVersion(ctx context.Context, t *tenant.Tenant) (string, error) {
	return r.schemaVersion(ctx, t)
}
