package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
	sfpcli "github.com/sfp-dev/sfp/pkg/cli"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/runtime/docker"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
	"github.com/sfp-dev/sfp/supabase"
)

// The cluster holds the platform only (what the supabase/postgres image
// provides): the tests here apply the tenant migrations themselves.
func TestMain(m *testing.M) { pgtest.MainWith(m, pgtest.Options{SkipMigrations: true}) }

// migrationsCommand returns the supabase-migrations service's command and
// environment, as docker compose would run them for a fresh docker tenant.
func migrationsCommand(t *testing.T) ([]string, map[string]string) {
	t.Helper()
	root, ok := docker.FindCheckout(".")
	if !ok {
		t.Fatal("no checkout above the test directory")
	}
	base := t.TempDir()
	tn, err := tenant.Create(base, tenant.CreateOptions{Name: "acme", Runtime: tenant.RuntimeDocker})
	if err != nil {
		t.Fatal(err)
	}
	if err := docker.New(docker.Options{BuildContext: root}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithName(docker.ProjectName(tn)), cli.WithWorkingDirectory(root), cli.WithEnvFiles(tn.EnvFile()), cli.WithDotEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := p.Services["supabase-migrations"]
	if !ok {
		t.Fatal("docker-compose.yml has no supabase-migrations service")
	}
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	if want := "postgres://supabase_admin:" + tn.Secrets.PostgresPassword + "@db:5432/postgres"; env["SFP_DB_URL"] != want {
		t.Fatalf("SFP_DB_URL = %q, want the db service as supabase_admin", env["SFP_DB_URL"])
	}
	return svc.Command, env
}

// runSfp runs the sfp command tree in process, as the image's entrypoint
// (/usr/local/bin/sfp) would with these arguments and environment.
func runSfp(t *testing.T, args []string, env map[string]string) (stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	root := sfpcli.NewCmdRoot(f)
	root.SetArgs(args)
	if _, err := root.ExecuteContextC(context.Background()); err != nil {
		t.Fatalf("sfp %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out.String(), errOut.String()
}

// TestMigrationsContainerSchema: the migrations container's command, applied
// to a database with the platform (what the image provides), gives the same
// schema as the embedded runtime's own start (embedded.Bootstrap).
func TestMigrationsContainerSchema(t *testing.T) {
	ctx := context.Background()
	command, env := migrationsCommand(t)
	if !slices.Contains(command, "--init-key") || command[0] != "server" || command[1] != "migrate" {
		t.Fatalf("supabase-migrations runs %q, want `sfp server migrate … --init-key`", command)
	}
	runner, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(runner.Migrations) == 0 {
		t.Fatal("no migrations in supabase/migrations: nothing to compare")
	}

	// The docker path: the container's command against this database.
	viaContainer := pgtest.NewDB(t)
	env["SFP_DB_URL"] = viaContainer.URL("supabase_admin")
	stdout, _ := runSfp(t, command, env)
	var report struct {
		Applied    []struct{ Version, Name string } `json:"applied"`
		KeyCreated *bool                            `json:"credentials_key_created"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("the container's stdout is not its JSON report: %v\n%s", err, stdout)
	}
	if len(report.Applied) != len(runner.Migrations) || report.KeyCreated == nil || !*report.KeyCreated {
		t.Errorf("report = %s; want %d migrations applied and the key created", stdout, len(runner.Migrations))
	}
	// A second start runs the container again: nothing more to do.
	stdout, _ = runSfp(t, command, env)
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || len(report.Applied) != 0 || *report.KeyCreated {
		t.Errorf("second run report = %s (%v); want nothing applied, no key created", stdout, err)
	}

	// The embedded path: what the embedded runtime's first start does.
	viaEmbedded := pgtest.NewDB(t)
	conn, err := pgx.Connect(ctx, viaEmbedded.URL("supabase_admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res, err := embedded.Bootstrap(ctx, conn, embedded.BootstrapOptions{Passwords: pgtest.Shared().Passwords})
	if err != nil {
		t.Fatalf("embedded.Bootstrap: %v", err)
	}
	if len(res.Applied) != len(runner.Migrations) || !res.KeyCreated {
		t.Errorf("Bootstrap applied %d migrations, key created %v", len(res.Applied), res.KeyCreated)
	}

	a := schemaDump(t, viaContainer)
	b := schemaDump(t, viaEmbedded)
	for _, want := range []string{"CREATE TABLE public.", "CREATE POLICY", "FUNCTION public.init_credentials_key()"} {
		if !strings.Contains(a, want) {
			t.Errorf("the schema dump has no %q: the comparison would prove nothing", want)
		}
	}
	if a != b {
		t.Errorf("schemas differ (-container +embedded):\n%s", lineDiff(a, b))
	}
	for _, q := range []string{
		"select string_agg(version || ' ' || coalesce(name, ''), ',' order by version) from supabase_migrations.schema_migrations",
		"select string_agg(name, ',' order by name) from vault.secrets",
	} {
		if x, y := scalar(t, viaContainer, q), scalar(t, viaEmbedded, q); x != y || x == "" {
			t.Errorf("%s:\n container %q\n embedded  %q", q, x, y)
		}
	}
}

// schemaDump is pg_dump --schema-only of the test database, without the
// per-run \restrict keys of newer pg_dump versions.
func schemaDump(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	bins, err := postgres.FindBinaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins.Path("pg_dump"), "--schema-only", "--dbname", db.URL("supabase_admin"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	restrict := regexp.MustCompile(`(?m)^\\(un)?restrict .*\n`)
	return restrict.ReplaceAllString(string(out), "")
}

func scalar(t *testing.T, db *pgtest.DB, q string) string {
	t.Helper()
	var s *string
	if err := db.Pool(t, "supabase_admin").QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// lineDiff lists the lines only one side has (enough to see what differs).
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, "-"+l)
		case n < 0:
			out = append(out, "+"+l)
		}
	}
	slices.Sort(out)
	if len(out) > 60 {
		out = append(out[:60], "…")
	}
	return strings.Join(out, "\n")
}

// Statements of docs/postgres-upgrade.md ("Upgrade to PostgreSQL 17"): the
// data of the tables sfp and GoTrue own, and the credentials key in Vault.
var (
	upgradeDumpArgs = []string{"--data-only", "--schema=public", "--schema=auth", "--exclude-table=auth.schema_migrations"}
	upgradeVaultSQL = `select format('select vault.update_secret(id, %L) from vault.secrets where name = %L;', decrypted_secret, name) ` +
		`from vault.decrypted_secrets where name = 'sfp_credentials_key'`
	upgradeKeyHashSQL = `select encode(sha256(convert_to(decrypted_secret, 'UTF8')), 'hex') from vault.decrypted_secrets where name = 'sfp_credentials_key'`
	// empty-tables.sql: the new database's copies of those tables are
	// emptied first, so rows its migrations seeded give way to the old ones.
	upgradeEmptySQL = `do $$
declare t text;
begin
  for t in
    select format('%I.%I', n.nspname, c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('public', 'auth') and c.relkind in ('r', 'p')
      and not (n.nspname = 'auth' and c.relname = 'schema_migrations')
      and not exists (select 1 from pg_depend d
                      where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  loop
    execute 'truncate table ' || t || ' cascade';
  end loop;
end $$;
`
)

// TestMajorUpgradeDataCopy runs the data copy of the documented PostgreSQL
// major upgrade between two databases: a tenant's, with a user, an account
// and encrypted integration credentials; and a fresh one migrated by the
// migrations container (as the new volume is on its first start, with a
// credentials key of its own). After the restore the new database has the
// rows, the old key, and decrypts the old credentials.
func TestMajorUpgradeDataCopy(t *testing.T) {
	ctx := context.Background()
	bins, err := postgres.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	command, env := migrationsCommand(t)
	old := pgtest.NewDB(t)
	env["SFP_DB_URL"] = old.URL("supabase_admin")
	runSfp(t, command, env)
	pool := old.Pool(t, "supabase_admin")
	const user, account, integration = "6f9619ff-8b86-4d11-b42d-00c04fc964ff", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "9b2f6f4e-1c1d-4c8e-9a61-1c2a3b4c5d6e"
	for _, q := range []string{
		`insert into auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at) values ('` + user + `', 'authenticated', 'authenticated', 'owner@acme.test', now(), now(), now())`,
		`insert into public.accounts (id, name, slug, created_by) values ('` + account + `', 'Acme', 'acme', '` + user + `')`,
		`insert into public.accounts_memberships (account_id, user_id, account_role) values ('` + account + `', '` + user + `', 'owner')`,
		`insert into public.integrations (id, account_id, name, provider, auth_type) values ('` + integration + `', '` + account + `', 'ci', 'github', 'token')`,
		`select public.set_integration_credentials('` + integration + `', '{"token":"t0p-s3cret"}')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	oldKey := scalar(t, old, upgradeKeyHashSQL)

	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bins.Path(name), args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	dir := t.TempDir()
	dataSQL, vaultSQL, emptySQL := filepath.Join(dir, "data.sql"), filepath.Join(dir, "vault.sql"), filepath.Join(dir, "empty-tables.sql")
	writeFile(t, emptySQL, upgradeEmptySQL)
	writeFile(t, dataSQL, run("pg_dump", append(upgradeDumpArgs, "--dbname", old.URL("supabase_admin"))...))
	writeFile(t, vaultSQL, run("psql", "-At", "-v", "ON_ERROR_STOP=1", "-c", upgradeVaultSQL, "--dbname", old.URL("supabase_admin")))

	fresh := pgtest.NewDB(t)
	env["SFP_DB_URL"] = fresh.URL("supabase_admin")
	runSfp(t, command, env)
	if scalar(t, fresh, upgradeKeyHashSQL) == oldKey {
		t.Fatal("the fresh database has the old key already: the test proves nothing")
	}
	if scalar(t, fresh, "select count(*)::text from public.document_stores") == "0" {
		t.Error("the migrations seed no rows any more: the test no longer shows that they give way")
	}
	run("psql", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-c", "set session_replication_role = replica",
		"-f", emptySQL, "-f", dataSQL, "--dbname", fresh.URL("supabase_admin"))
	run("psql", "-v", "ON_ERROR_STOP=1", "-f", vaultSQL, "--dbname", fresh.URL("supabase_admin"))

	if got := scalar(t, fresh, upgradeKeyHashSQL); got != oldKey {
		t.Errorf("credentials key after the restore: hash %s, want the old key's %s", got, oldKey)
	}
	for _, q := range []string{
		"select count(*)::text from auth.users",
		"select string_agg(slug, ',') from public.accounts",
		"select string_agg(account_role::text, ',') from public.accounts_memberships",
		"select count(*)::text from public.credential_access_log",
		"select string_agg(collection, ',' order by collection) from public.document_stores",
	} {
		if a, b := scalar(t, old, q), scalar(t, fresh, q); a != b || a == "" {
			t.Errorf("%s: old %q, restored %q", q, a, b)
		}
	}
	if got := scalar(t, fresh, `select public.get_integration_credentials('`+integration+`')->>'token'`); got != "t0p-s3cret" {
		t.Errorf("the restored credentials decrypt to %q", got)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
