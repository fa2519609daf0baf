package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// TestBackupCommands checks what `sfp server backup` runs against a docker
// tenant's db service — pg_basebackup or pg_dump and psql inside the
// container, their output streamed into the encrypted backup — with the
// fake runner, since no Docker engine runs here.
func TestBackupCommands(t *testing.T) {
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		if !slices.Equal(args[:3], []string{"exec", "-T", "db"}) {
			return Result{}, nil
		}
		prog := args[3]
		switch {
		case prog == "pg_basebackup":
			io.WriteString(c.Stdout, "TAR-OF-THE-CLUSTER")
		case prog == "cat" && args[4] == "/var/lib/postgresql/data/PG_VERSION":
			io.WriteString(c.Stdout, "17\n")
		case prog == "pg_dump":
			io.WriteString(c.Stdout, "COPY public.accounts (id) FROM stdin;\n\\.\n")
		case prog == "psql" && strings.Contains(args[len(args)-1], "schema_migrations) "):
			return Result{Stdout: []byte("20261206000100\n")}, nil
		case prog == "psql" && strings.Contains(args[len(args)-1], "string_agg"):
			io.WriteString(c.Stdout, "auth.users, public.accounts\n")
		case prog == "psql" && strings.Contains(args[len(args)-1], "decrypted_secret"):
			io.WriteString(c.Stdout, "00ff00ff\n")
		case prog == "psql":
			return Result{Stdout: []byte("20261206000100\n")}, nil
		}
		return Result{}, nil
	}}
	tn, rt, pass := backupSetup(t, fake)
	ctx := context.Background()
	_, res := backupTo(t, tn, rt, pass)
	if res.SchemaVersion != "20261206000100" || !res.Encrypted {
		t.Errorf("result %+v", res)
	}
	wantBase := "exec -T db pg_basebackup -h localhost -U supabase_admin -D - --format=tar --wal-method=fetch --checkpoint=fast --label=sfp backup of acme"
	if !slices.Contains(fake.composeCalls(), wantBase) {
		t.Errorf("compose calls %q lack\n%q", fake.composeCalls(), wantBase)
	}

	sqlFile := filepath.Join(t.TempDir(), "acme.sql.sfpbackup")
	if _, err := backup.Backup(ctx, tn, backup.Options{Output: sqlFile, Kind: backup.KindSQL, Docker: rt, Encryption: backup.Encryption{PassphraseFile: pass}}); err != nil {
		t.Fatal(err)
	}
	wantDump := "exec -T db pg_dump -h localhost -U supabase_admin --dbname=postgres --data-only --disable-triggers --exclude-table=auth.schema_migrations --schema=public --schema=auth"
	if !slices.Contains(fake.composeCalls(), wantDump) {
		t.Errorf("compose calls %q lack\n%q", fake.composeCalls(), wantDump)
	}
	f, _ := os.Open(sqlFile)
	defer f.Close()
	r, _, err := backup.OpenSQL(f, backup.Decryption{PassphraseFile: pass})
	if err != nil {
		t.Fatal(err)
	}
	sql, _ := io.ReadAll(r)
	for _, want := range []string{"truncate auth.users, public.accounts cascade;", "COPY public.accounts (id) FROM stdin;", "vault.create_secret('00ff00ff', 'sfp_credentials_key'", "commit;"} {
		if !bytes.Contains(sql, []byte(want)) {
			t.Errorf("export lacks %q:\n%s", want, sql)
		}
	}
}

// backupSetup is a docker tenant, a runtime whose docker is fake, and a
// passphrase file for encrypted backups.
func backupSetup(t *testing.T, fake *fakeDocker) (*tenant.Tenant, *Runtime, string) {
	t.Helper()
	tn := dockerTenant(t, Options{})
	rt := New(Options{Runner: fake, BuildContext: "/src"})
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("docker backup pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tn, rt, pass
}

// backupTo makes an encrypted physical backup of tn into a new file.
func backupTo(t *testing.T, tn *tenant.Tenant, rt *Runtime, pass string) (string, *backup.Result) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "acme.sfpbackup")
	res, err := backup.Backup(context.Background(), tn, backup.Options{Output: file, Docker: rt, Encryption: backup.Encryption{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}
	return file, res
}

// TestRestoreCommands: `sfp server restore` of a docker tenant's backup
// makes a docker tenant — its directory on new ports, its compose project —
// and streams the backed-up cluster into its db volume through a one-off db
// container; what it refuses (point in time, another PostgreSQL major
// version, a failed load) leaves no tenant and no volume behind.
func TestRestoreCommands(t *testing.T) {
	pgVersion := "17\n"
	var loaded bytes.Buffer
	loadErr := error(nil)
	fake := &fakeDocker{compose: func(args []string, c Cmd) (Result, error) {
		switch {
		case slices.Equal(args[:4], []string{"exec", "-T", "db", "pg_basebackup"}):
			io.WriteString(c.Stdout, "TAR-OF-THE-CLUSTER")
		case slices.Equal(args[:4], []string{"exec", "-T", "db", "cat"}):
			io.WriteString(c.Stdout, pgVersion)
		case slices.Equal(args[:4], []string{"exec", "-T", "db", "psql"}):
			return Result{Stdout: []byte("20261206000100\n")}, nil
		case len(args) > 2 && args[0] == "run" && slices.Contains(args, "sh"):
			if c.Stdin == nil {
				return Result{}, errors.New("fake docker: load without input")
			}
			loaded.Reset()
			io.Copy(&loaded, c.Stdin)
			return Result{}, loadErr
		}
		return Result{}, nil
	}}
	src, rt, pass := backupSetup(t, fake)
	ctx := context.Background()
	file, _ := backupTo(t, src, rt, pass)
	base := t.TempDir()
	restore := func(name string, mod func(*backup.RestoreOptions)) (*backup.RestoreResult, error) {
		o := backup.RestoreOptions{Base: base, Name: name, From: file, Decryption: backup.Decryption{PassphraseFile: pass}, Docker: rt}
		if mod != nil {
			mod(&o)
		}
		return backup.Restore(ctx, o)
	}

	res, err := restore("copy", nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.String() != "TAR-OF-THE-CLUSTER" {
		t.Errorf("the db volume got %q, want the backed-up cluster", loaded.String())
	}
	cp, err := tenant.Load(base, "copy")
	if err != nil {
		t.Fatalf("the restored tenant does not load: %v", err)
	}
	if cp.Config.Runtime != tenant.RuntimeDocker || cp.Config.API.Port != res.APIPort || cp.Secrets.SecretKey != src.Secrets.SecretKey || cp.Secrets.PostgresPassword != src.Secrets.PostgresPassword {
		t.Errorf("restored tenant: runtime %s, port %d (result %d), same keys %v", cp.Config.Runtime, cp.Config.API.Port, res.APIPort, cp.Secrets.SecretKey == src.Secrets.SecretKey)
	}
	if _, err := os.Stat(filepath.Join(cp.Dir, ComposeFileName)); err != nil {
		t.Errorf("no compose project: %v", err)
	}
	wantLoad := "run --rm --no-deps -T --entrypoint sh db -c " + loadDBScript
	if !slices.Contains(fake.composeCalls(), wantLoad) {
		t.Errorf("compose calls %q lack the load", fake.composeCalls())
	}
	if env := envOf(t, cp); env["COMPOSE_PROJECT_NAME"] != "sfp-copy" {
		t.Errorf("COMPOSE_PROJECT_NAME = %q, want sfp-copy", env["COMPOSE_PROJECT_NAME"])
	}

	// Again over it: refused, then with --force the old volumes go first.
	if _, err := restore("copy", nil); !errors.Is(err, tenant.ErrExists) {
		t.Errorf("restore over an existing tenant: %v", err)
	}
	calls0 := len(fake.composeCalls())
	if _, err := restore("copy", func(o *backup.RestoreOptions) { o.Force = true }); err != nil {
		t.Fatalf("restore --force: %v", err)
	}
	after := fake.composeCalls()[calls0:]
	if down, load := slices.Index(after, "down --volumes --remove-orphans"), slices.Index(after, wantLoad); down < 0 || load < down {
		t.Errorf("restore --force: the replaced tenant's volumes are not removed before the load: %q", after)
	}

	gone := func(name string) {
		t.Helper()
		if _, err := os.Stat(tenant.Dir(base, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("tenant %q left behind: %v", name, err)
		}
	}
	if _, err := restore("pitr", func(o *backup.RestoreOptions) { o.ToLSN = "0/3000000" }); err == nil || !strings.Contains(err.Error(), "point-in-time recovery is for embedded tenants") {
		t.Errorf("docker restore to an LSN: %v", err)
	}
	gone("pitr")

	loadErr = &ExitError{Args: []string{"docker"}, Code: 1, Stderr: "no space left on device"}
	calls := len(fake.composeCalls())
	if _, err := restore("broken", nil); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("a failed load: %v", err)
	}
	gone("broken")
	if !slices.Contains(fake.composeCalls()[calls:], "down --volumes --remove-orphans") {
		t.Errorf("a failed load left the volume: calls %q", fake.composeCalls()[calls:])
	}
	loadErr = nil

	pgVersion = "15\n"
	old := filepath.Join(t.TempDir(), "old.sfpbackup")
	if _, err := backup.Backup(ctx, src, backup.Options{Output: old, Docker: rt, Encryption: backup.Encryption{PassphraseFile: pass}}); err != nil {
		t.Fatal(err)
	}
	loaded.Reset()
	if _, err := restore("pg15", func(o *backup.RestoreOptions) { o.From = old }); err == nil || !strings.Contains(err.Error(), "PostgreSQL 15 cluster") {
		t.Errorf("a PostgreSQL 15 cluster under the 17 image: %v", err)
	}
	gone("pg15")
	if loaded.Len() != 0 {
		t.Error("the PostgreSQL 15 cluster was loaded")
	}

	// Without Docker at hand (RestoreOptions.Docker unset), a clear error.
	if _, err := restore("nodocker", func(o *backup.RestoreOptions) { o.Docker = nil }); err == nil || !strings.Contains(err.Error(), "docker runtime is not available") {
		t.Errorf("restore without docker: %v", err)
	}
	gone("nodocker")
}
