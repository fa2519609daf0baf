package docker

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/backup"
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
	tn := dockerTenant(t, Options{})
	rt := New(Options{Runner: fake, BuildContext: "/src"})
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("docker backup pass\n"), 0o600)
	ctx := context.Background()

	file := filepath.Join(t.TempDir(), "acme.sfpbackup")
	res, err := backup.Backup(ctx, tn, backup.Options{Output: file, Docker: rt, Encryption: backup.Encryption{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if res.SchemaVersion != "20261206000100" || !res.Encrypted {
		t.Errorf("result %+v", res)
	}
	wantBase := "exec -T db pg_basebackup -h localhost -U supabase_admin -D - --format=tar --wal-method=fetch --checkpoint=fast --label=sfp backup of acme"
	if !slices.Contains(fake.composeCalls(), wantBase) {
		t.Errorf("compose calls %q lack\n%q", fake.composeCalls(), wantBase)
	}
	// The stream is in the backup, which restore refuses with advice.
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: t.TempDir(), Name: "copy", From: file, Decryption: backup.Decryption{PassphraseFile: pass}}); err == nil || !strings.Contains(err.Error(), "docker tenant") {
		t.Errorf("restore of a docker backup: %v", err)
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
