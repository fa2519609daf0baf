package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ComposeDB is a docker tenant's db service (pkg/runtime/docker): the
// backup programs run inside it.
type ComposeDB interface {
	ExecDB(ctx context.Context, t *tenant.Tenant, args []string, w io.Writer) error
	SchemaVersion(ctx context.Context, t *tenant.Tenant) (string, error)
}

// dockerConn connects as the image's superuser; local connections inside
// the container need no password.
var dockerConn = []string{"-h", "localhost", "-U", "supabase_admin"}

// dockerBackup streams the backup from the db service into work: a
// physical base backup (pg_basebackup writing one tar to stdout, the WAL it
// needs fetched into it) or the SQL export.
func dockerBackup(ctx context.Context, db ComposeDB, t *tenant.Tenant, kind, work string) ([]fileEntry, error) {
	if kind == KindSQL {
		return dockerSQL(ctx, db, t, work)
	}
	out := filepath.Join(work, "base.tar")
	args := append([]string{"pg_basebackup"}, dockerConn...)
	args = append(args, "-D", "-", "--format=tar", "--wal-method=fetch", "--checkpoint=fast", "--label=sfp backup of "+t.Name())
	if err := execTo(ctx, db, t, args, out); err != nil {
		return nil, fmt.Errorf("back up tenant %q: pg_basebackup in the db service: %w", t.Name(), err)
	}
	return []fileEntry{{entryDockerBase, out}}, nil
}

// entryDockerBase is a docker tenant's cluster: one tar, WAL included.
const entryDockerBase = "docker/base.tar"

func dockerSQL(ctx context.Context, db ComposeDB, t *tenant.Tenant, work string) ([]fileEntry, error) {
	tablesFile := filepath.Join(work, "tables")
	q := `select string_agg(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), ', ' order by 1)
		from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		where n.nspname in ('public', 'auth') and c.relkind in ('r', 'p') and not c.relispartition
		  and (n.nspname, c.relname) <> ('auth', 'schema_migrations')`
	if err := execTo(ctx, db, t, append(append([]string{"psql", "-X", "-A", "-t"}, dockerConn...), "-d", "postgres", "-c", q), tablesFile); err != nil {
		return nil, fmt.Errorf("export tenant %q: list tables: %w", t.Name(), err)
	}
	keyFile := filepath.Join(work, "key")
	if err := execTo(ctx, db, t, append(append([]string{"psql", "-X", "-A", "-t"}, dockerConn...), "-d", "postgres", "-c",
		`select decrypted_secret from vault.decrypted_secrets where name = 'sfp_credentials_key'`), keyFile); err != nil {
		return nil, fmt.Errorf("export tenant %q: read the credentials key: %w", t.Name(), err)
	}
	data := filepath.Join(work, "data.sql")
	args := append([]string{"pg_dump"}, dockerConn...)
	args = append(args, "--dbname=postgres", "--data-only", "--disable-triggers", "--exclude-table=auth.schema_migrations", "--schema=public", "--schema=auth")
	if err := execTo(ctx, db, t, args, data); err != nil {
		return nil, fmt.Errorf("export tenant %q: pg_dump in the db service: %w", t.Name(), err)
	}
	tables, _ := os.ReadFile(tablesFile)
	key, _ := os.ReadFile(keyFile)
	var list []string
	if s := strings.TrimSpace(string(tables)); s != "" {
		list = strings.Split(s, ", ")
	}
	out := filepath.Join(work, "dump.sql")
	if err := composeDump(out, data, t.Name(), list, string(bytes.TrimSpace(key))); err != nil {
		return nil, fmt.Errorf("export tenant %q: %w", t.Name(), err)
	}
	return []fileEntry{{entryDump, out}}, nil
}

func execTo(ctx context.Context, db ComposeDB, t *tenant.Tenant, args []string, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = db.ExecDB(ctx, t, args, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
