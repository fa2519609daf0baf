package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// exportSchemas are the schemas whose data a SQL export carries. The
// schema itself is not exported: the target gets it from the migrations
// (`sfp server migrate`, or the docker runtime's migrations container),
// which also write the migration history, so the export's tables must
// match a target migrated to the export's schema version.
var exportSchemas = []string{"public", "auth"}

// dumpSQL writes a logical export of the tenant's data into work: for
// psql, in one transaction, it empties the exported tables of the target,
// loads the data (pg_dump --data-only, triggers disabled so rows load in
// any order), and stores the credentials key in the target's Vault so the
// exported ciphertexts decrypt there.
func dumpSQL(ctx context.Context, cluster *postgres.Cluster, t *tenant.Tenant, work string, progress func(Progress)) ([]fileEntry, error) {
	adminURL := cluster.ConnString(postgres.DefaultSuperUser, t.Secrets.PostgresPassword, "postgres")
	tables, key, err := exportFacts(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("export tenant %q: %w", t.Name(), err)
	}
	data := filepath.Join(work, "data.sql")
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(cluster.Port()), "-U", postgres.DefaultSuperUser, "--no-password",
		"--dbname=postgres", "--file=" + data, "--data-only", "--disable-triggers", "--exclude-table=auth.schema_migrations"}
	for _, s := range exportSchemas {
		args = append(args, "--schema="+s)
	}
	if err := runTool(ctx, cluster.Config().Binaries.Path("pg_dump"), args, t.Secrets.PostgresPassword, "dumping the database", progress, nil); err != nil {
		return nil, fmt.Errorf("export tenant %q: pg_dump: %w", t.Name(), err)
	}
	out := filepath.Join(work, "dump.sql")
	if err := composeDump(out, data, t.Name(), tables, key); err != nil {
		return nil, fmt.Errorf("export tenant %q: %w", t.Name(), err)
	}
	return []fileEntry{{entryDump, out}}, nil
}

// exportFacts lists the exported tables and reads the credentials key.
func exportFacts(ctx context.Context, adminURL string) ([]string, string, error) {
	conn, err := migrate.Connect(ctx, adminURL)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `select pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
		from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		where n.nspname = any($1) and c.relkind in ('r', 'p') and not c.relispartition
		  and (n.nspname, c.relname) <> ('auth', 'schema_migrations')
		order by 1`, exportSchemas)
	if err != nil {
		return nil, "", fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, "", fmt.Errorf("list tables: %w", err)
	}
	var key string
	err = conn.QueryRow(ctx, `select decrypted_secret from vault.decrypted_secrets where name = 'sfp_credentials_key'`).Scan(&key)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("read the credentials key: %w", err)
	}
	return tables, key, nil
}

func composeDump(out, data, name string, tables []string, key string) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "-- sfp SQL export of tenant %s: the data of schemas %s.\n", name, strings.Join(exportSchemas, ", "))
	w.WriteString("-- Load it with psql as a superuser into a database migrated to the same schema\n")
	w.WriteString("-- version; it replaces the data of these tables there (docs/backups.md).\n")
	w.WriteString("\\set ON_ERROR_STOP on\nbegin;\n")
	if len(tables) > 0 {
		fmt.Fprintf(w, "truncate %s cascade;\n", strings.Join(tables, ", "))
	}
	d, err := os.Open(data)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := io.Copy(w, d); err != nil {
		return err
	}
	if key != "" {
		lit := "'" + strings.ReplaceAll(key, "'", "''") + "'"
		w.WriteString("\n-- The key that encrypts integration credentials, stored in this database's Vault.\n")
		w.WriteString("delete from vault.secrets where name = 'sfp_credentials_key';\n")
		fmt.Fprintf(w, "select vault.create_secret(%s, 'sfp_credentials_key', 'sfp: key that encrypts integration credentials (public.integration_credentials); moved by an sfp SQL export');\n", lit)
	}
	w.WriteString("commit;\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// OpenSQL returns the SQL of an export (`backup --format sql`) for psql,
// after its manifest.
func OpenSQL(r io.Reader, dec Decryption) (io.Reader, *Manifest, error) {
	plain, _, err := openArchive(r, dec)
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(plain)
	h, err := readHead(tr)
	if err != nil {
		return nil, nil, err
	}
	if h.manifest.Kind != KindSQL {
		return nil, nil, errors.New("read SQL export: this is a physical backup; restore it with `sfp server restore`")
	}
	hdr, err := tr.Next()
	if err != nil {
		return nil, nil, fmt.Errorf("read SQL export: %w", truncated(orUnexpected(err)))
	}
	if hdr.Name != entryDump {
		return nil, nil, fmt.Errorf("read SQL export: unexpected entry %q", hdr.Name)
	}
	return tr, h.manifest, nil
}
