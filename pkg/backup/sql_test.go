package backup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
)

// TestSQLExport moves a tenant's data with --format sql into another
// tenant migrated by the same binary (as into a docker tenant's db): users
// sign in with their passwords there and credentials decrypt.
func TestSQLExport(t *testing.T) {
	base := sfptest.BaseDir(t)
	src := newTenant(t, base, "src", nil)
	email, password := seed(t, src)
	exec1(t, src.conn(t), `insert into public.documents (account_id, collection, key, data) values ($1, 'moved', 'a', '{"x": "it''s"}')`, accountID)
	ctx := context.Background()
	pass := writeFile(t, base, "pass", "export passphrase\n")
	file := filepath.Join(base, "src.sql.sfpbackup")
	res, err := backup.Backup(ctx, src.T, backup.Options{Output: file, Kind: backup.KindSQL, Encryption: backup.Encryption{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != backup.KindSQL || !res.Encrypted {
		t.Errorf("result %+v", res)
	}
	// sfp server restore refuses an export, saying what it is.
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "nope", From: file, Decryption: backup.Decryption{PassphraseFile: pass}}); err == nil || !strings.Contains(err.Error(), "SQL export") {
		t.Errorf("restore of an export: %v", err)
	}

	f, _ := os.Open(file)
	defer f.Close()
	sql, m, err := backup.OpenSQL(f, backup.Decryption{PassphraseFile: pass})
	if err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion != res.SchemaVersion {
		t.Errorf("manifest %+v", m)
	}
	dst := newTenant(t, base, "dst", nil)
	cmd, cleanup, err := embedded.PsqlCommand(ctx, dst.T, embedded.PsqlOptions{Args: []string{"-q", "-X"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sql, &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql < export: %v\n%s", err, out.String())
	}

	mustCall(t, dst, dst.T.Secrets.PublishableKey, "", "POST", "/auth/v1/token?grant_type=password", map[string]string{"email": email, "password": password}, 200)
	creds := mustCall(t, dst, dst.T.Secrets.SecretKey, "", "POST", "/rest/v1/rpc/get_integration_credentials", map[string]string{"integration_id": integrationID}, 200)
	if !strings.Contains(string(creds), "ghp_secret_1") {
		t.Errorf("credentials after the move: %s", creds)
	}
	for _, q := range []string{`select count(*) from public.documents`, `select count(*) from auth.users`, `select count(*) from public.document_stores`} {
		if a, b := count(t, src.conn(t), q), count(t, dst.conn(t), q); a != b || a == 0 {
			t.Errorf("%s: source %d, target %d", q, a, b)
		}
	}
}
