package backup

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// dumpSQL runs pg_dump into work: a logical export of the tenant's
// database (every schema, the migration history included) in plain SQL,
// to load into the docker runtime's supabase/postgres or a hosted
// Supabase project.
func dumpSQL(ctx context.Context, cluster *postgres.Cluster, t *tenant.Tenant, work string, progress func(Progress)) ([]fileEntry, error) {
	out := filepath.Join(work, "dump.sql")
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(cluster.Port()), "-U", postgres.DefaultSuperUser, "--no-password",
		"--dbname=postgres", "--file=" + out, "--no-owner", "--quote-all-identifiers"}
	if err := runTool(ctx, cluster.Config().Binaries.Path("pg_dump"), args, t.Secrets.PostgresPassword, "dumping the database", progress); err != nil {
		return nil, fmt.Errorf("export tenant %q: pg_dump: %w", t.Name(), err)
	}
	return []fileEntry{{entryDump, out}}, nil
}
