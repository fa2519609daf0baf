package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

const (
	accountID     = "0b4c6a9e-5d1f-4c55-9a57-3f0e7a1d2c01"
	integrationID = "0b4c6a9e-5d1f-4c55-9a57-3f0e7a1d2c02"
)

// seed gives a tenant a user, an account, an integration with encrypted
// credentials; it returns the user's email and password.
func seed(t *testing.T, r *running) (string, string) {
	t.Helper()
	c := r.conn(t)
	exec1(t, c, `insert into public.accounts (id, name, slug) values ($1, 'Acme', 'acme')`, accountID)
	exec1(t, c, `insert into public.integrations (id, account_id, name, provider, auth_type) values ($1, $2, 'gh', 'github', 'token')`, integrationID, accountID)
	email, password := "ada@backup.test", "ada-password-1"
	mustCall(t, r, r.T.Secrets.SecretKey, "", "POST", "/auth/v1/admin/users",
		map[string]any{"email": email, "password": password, "email_confirm": true}, 200)
	mustCall(t, r, r.T.Secrets.SecretKey, "", "POST", "/rest/v1/rpc/set_integration_credentials",
		map[string]any{"integration_id": integrationID, "credentials": map[string]string{"token": "ghp_secret_1"}}, 204)
	return email, password
}

// writer inserts documents one transaction at a time until stopped, and
// records for each acknowledged insert a WAL position at or after its
// commit record.
type writer struct {
	mu    sync.Mutex
	acked map[string]pglogrepl.LSN
	stop  chan struct{}
	done  chan error
}

func startWriter(t *testing.T, r *running) *writer {
	w := &writer{acked: map[string]pglogrepl.LSN{}, stop: make(chan struct{}), done: make(chan error, 1)}
	c := r.conn(t)
	go func() {
		ctx := context.Background()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			key := "doc-" + strconv.Itoa(i)
			if _, err := c.Exec(ctx, `insert into public.documents (account_id, collection, key, data) values ($1, 'load', $2, '{"n": 1}')`, accountID, key); err != nil {
				w.done <- err
				return
			}
			var lsn string
			if err := c.QueryRow(ctx, `select pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
				w.done <- err
				return
			}
			l, _ := pglogrepl.ParseLSN(lsn)
			w.mu.Lock()
			w.acked[key] = l
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writer) finish(t *testing.T) map[string]pglogrepl.LSN {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	return w.acked
}

func TestBackupUnderWritesAndRestore(t *testing.T) {
	base := sfptest.BaseDir(t)
	pass := writeFile(t, base, "passphrase", "correct horse battery staple\n")
	src := newTenant(t, base, "src", func(c *tenant.Config) { c.Backup.PassphraseFile = pass })
	email, password := seed(t, src)

	w := startWriter(t, src)
	// Let some writes land before the backup starts.
	for {
		w.mu.Lock()
		n := len(w.acked)
		w.mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx := context.Background()
	file := filepath.Join(base, "out", "src.sfpbackup")
	var phases sync.Map
	res, err := backup.Backup(ctx, src.T, backup.Options{Output: file,
		Encryption: backup.Encryption{PassphraseFile: src.T.Config.Backup.PassphraseFile},
		Progress:   func(p backup.Progress) { phases.Store(p.Phase, true) }})
	if err != nil {
		t.Fatal(err)
	}
	acked := w.finish(t)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != res.Size {
		t.Fatalf("backup file: %v %v (result %+v)", err, fi, res)
	}
	if !res.Encrypted || res.EndLSN == "" || res.SchemaVersion == "" {
		t.Errorf("result: %+v", res)
	}
	for _, p := range []string{"copying the database"} {
		if _, ok := phases.Load(p); !ok {
			t.Errorf("no progress for %q", p)
		}
	}
	if raw, _ := os.ReadFile(file); strings.Contains(string(raw), src.T.Secrets.SecretKey) || strings.Contains(string(raw), "ghp_secret") {
		t.Error("the encrypted backup holds the secret key in the clear")
	}
	if left, _ := filepath.Glob(filepath.Join(base, "out", ".*")); len(left) != 0 {
		t.Errorf("backup left %v behind", left)
	}

	rr, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "copy", From: file,
		Decryption: backup.Decryption{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Source != "src" || rr.SchemaVersion != res.SchemaVersion || rr.APIPort == src.T.Config.API.Port || rr.PostgresPort == src.T.Config.Postgres.Port {
		t.Errorf("restore result: %+v", rr)
	}
	cp := boot(t, base, "copy")
	cc := cp.conn(t)

	// Every write acknowledged before the backup's consistent point is
	// there; nothing that was never acknowledged is.
	end, _ := pglogrepl.ParseLSN(res.EndLSN)
	rows, err := cc.Query(ctx, `select key from public.documents where collection = 'load'`)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		present[k] = true
	}
	rows.Close()
	before := 0
	for k, l := range acked {
		if l <= end {
			before++
			if !present[k] {
				t.Errorf("write %s acknowledged at %s, before the backup's end %s, is missing", k, l, end)
			}
		}
	}
	for k := range present {
		if _, ok := acked[k]; !ok && !strings.HasPrefix(k, "doc-") {
			t.Errorf("unexpected document %s", k)
		}
	}
	if before < 20 || len(present) < before || len(present) > len(acked)+1 {
		t.Errorf("%d documents restored, %d acknowledged before the end, %d acknowledged in all", len(present), before, len(acked))
	}

	// The same users, keys and credentials.
	var session struct {
		AccessToken string `json:"access_token"`
	}
	raw := mustCall(t, cp, src.T.Secrets.PublishableKey, "", "POST", "/auth/v1/token?grant_type=password", map[string]string{"email": email, "password": password}, 200)
	json.Unmarshal(raw, &session)
	if session.AccessToken == "" {
		t.Fatalf("sign-in on the restored tenant: %s", raw)
	}
	mustCall(t, cp, src.T.Secrets.AnonKey, session.AccessToken, "GET", "/rest/v1/accounts?select=id", nil, 200)
	creds := mustCall(t, cp, src.T.Secrets.SecretKey, "", "POST", "/rest/v1/rpc/get_integration_credentials", map[string]string{"integration_id": integrationID}, 200)
	if !strings.Contains(string(creds), "ghp_secret_1") {
		t.Errorf("credentials on the restored tenant: %s", creds)
	}
	history := `select string_agg(version || ' ' || coalesce(name, '') || ' ' || md5(array_to_string(statements, ';')), ',' order by version) from supabase_migrations.schema_migrations`
	var h1, h2 string
	src.conn(t).QueryRow(ctx, history).Scan(&h1)
	cc.QueryRow(ctx, history).Scan(&h2)
	if h1 == "" || h1 != h2 {
		t.Errorf("migration history differs:\nsource %s\ncopy   %s", h1, h2)
	}
	// The source serves on, untouched.
	mustCall(t, src, src.T.Secrets.PublishableKey, "", "POST", "/auth/v1/token?grant_type=password", map[string]string{"email": email, "password": password}, 200)

	// The restored tenant takes an update like any other.
	cp.stop(t)
	upd, err := embedded.New(embedded.Options{}).Update(ctx, cp.T, runtime.UpdateOptions{})
	if err != nil || len(upd.Applied) != 0 {
		t.Errorf("update of the restored tenant: %v %+v", err, upd)
	}

	if _, err := backup.Backup(ctx, cp.T, backup.Options{Encryption: backup.Encryption{Unencrypted: true}}); !errors.Is(err, backup.ErrNotRunning) || !strings.Contains(err.Error(), "sfp server start") {
		t.Errorf("backup of a stopped tenant: %v", err)
	}
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "pitr", From: file, Decryption: backup.Decryption{PassphraseFile: pass},
		ToTime: time.Now()}); err == nil || !strings.Contains(err.Error(), "--archive") {
		t.Errorf("restore to a time without a WAL archive: %v", err)
	}
	t.Run("force", func(t *testing.T) {
		// A failed restore over an existing tenant puts it back as it was;
		// a good one replaces it.
		broken := filepath.Join(base, "broken.sfpbackup")
		raw, _ := os.ReadFile(file)
		os.WriteFile(broken, raw[:len(raw)-4096], 0o600)
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "copy", From: broken, Decryption: backup.Decryption{PassphraseFile: pass}, Force: true}); err == nil {
			t.Fatal("restore of a truncated backup succeeded")
		}
		back, err := tenant.Load(base, "copy")
		if err != nil || back.Config.API.Port != cp.T.Config.API.Port {
			t.Fatalf("the replaced tenant was not put back: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(base, "tenants", ".copy.*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "copy", From: file, Decryption: backup.Decryption{PassphraseFile: pass}, Force: true}); err != nil {
			t.Fatalf("restore --force: %v", err)
		}
	})
	t.Run("existing tenant refused without --force", func(t *testing.T) {
		_, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "copy", From: file, Decryption: backup.Decryption{PassphraseFile: pass}})
		if !errors.Is(err, tenant.ErrExists) || !strings.Contains(err.Error(), "--force") {
			t.Errorf("restore over copy: %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) { badInput(t, base, file, pass, src) })
}

// badInput restores damaged and mismatched backups: each fails with an
// error naming the problem and leaves no tenant behind.
func badInput(t *testing.T, base, file, pass string, src *running) {
	ctx := context.Background()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	wrong := writeFile(t, base, "wrong", "not the passphrase\n")
	corrupt := append([]byte(nil), raw...)
	corrupt[len(corrupt)/2] ^= 0xff
	cases := []struct {
		name string
		data []byte
		dec  backup.Decryption
		want string
	}{
		{"truncated", raw[:len(raw)*2/3], backup.Decryption{PassphraseFile: pass}, "truncated"},
		{"corrupted", corrupt, backup.Decryption{PassphraseFile: pass}, "corrupted"},
		{"wrong passphrase", raw, backup.Decryption{PassphraseFile: wrong}, "wrong passphrase or key"},
		{"no passphrase", raw, backup.Decryption{}, "--passphrase-file"},
		{"not a backup", []byte("hello, this is not a backup at all, just some text that is long enough"), backup.Decryption{}, "not an sfp backup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(base, "bad-"+strings.ReplaceAll(c.name, " ", "-"))
			os.WriteFile(f, c.data, 0o600)
			_, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "bad", From: f, Decryption: c.dec})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore of a %s backup: %v, want an error saying %q", c.name, err, c.want)
			}
			if _, err := os.Stat(tenant.Dir(base, "bad")); !os.IsNotExist(err) {
				t.Errorf("a failed restore left %s: %v", tenant.Dir(base, "bad"), err)
			}
		})
	}
	// The source still serves.
	if code, _ := call(t, src, src.T.Secrets.SecretKey, "", "GET", "/rest/v1/accounts?select=id", nil); code != 200 {
		t.Errorf("the source answers %d after the failed restores", code)
	}
}
