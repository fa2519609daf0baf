package embedded_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
)

// TestBackupRestoreCommands drives sfp server backup and restore as an
// operator would: a running tenant is backed up, the backup restored as a
// second tenant that serves the same users with the same keys and takes an
// update; refusals, a killed backup and a full disk leave no backup file.
func TestBackupRestoreCommands(t *testing.T) {
	base := sfptest.BaseDir(t)
	pw := filepath.Join(base, "pw")
	os.WriteFile(pw, []byte("admin-password-1\n"), 0o600)
	pass := filepath.Join(base, "backup-pass")
	os.WriteFile(pass, []byte("a long backup passphrase\n"), 0o600)
	sfptest.MustRun(t, base, nil, "server", "init", "-t", "acme", "--admin-email", "ops@acme.test", "--admin-password-file", pw, "--admin-account", "Acme")
	stopAtEnd(t, base, "acme")
	sfptest.MustRun(t, base, nil, "server", "start", "-t", "acme", "-d")
	anon := anonKey(t, base, "acme")

	// No encryption configured: refused, saying how to configure it.
	r := sfptest.Run(t, base, nil, "server", "backup", "-t", "acme")
	if r.Code == 0 || !strings.Contains(r.Stderr, "no encryption configured") || !strings.Contains(r.Stderr, "--unencrypted") {
		t.Fatalf("backup without encryption: exit %d\n%s", r.Code, r.Stderr)
	}

	file := filepath.Join(base, "out", "acme.sfpbackup")
	r = sfptest.MustRun(t, base, nil, "server", "backup", "-t", "acme", "--passphrase-file", pass, "-o", file, "--json")
	var res struct {
		File          string `json:"file"`
		SchemaVersion string `json:"schema_version"`
		EndLSN        string `json:"end_lsn"`
		Size          int64  `json:"size"`
		Encrypted     bool   `json:"encrypted"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.File != file || res.Size == 0 || !res.Encrypted || res.EndLSN == "" {
		t.Fatalf("backup --json: %v %s", err, r.Stdout)
	}
	if r := sfptest.MustRun(t, base, nil, "server", "backup", "list", "-t", "acme"); !strings.Contains(r.Stdout, file) {
		t.Errorf("backup list lacks %s:\n%s", file, r.Stdout)
	}
	if st := status(t, base, "acme", nil); st.Backups == nil || len(st.Backups.Backups) != 1 || st.Backups.Backups[0].File != file {
		t.Errorf("status --json backups: %+v", st.Backups)
	}

	t.Run("psql", func(t *testing.T) {
		if r := sfptest.MustRun(t, base, nil, "server", "psql", "-t", "acme", "--", "-At", "-c", "select current_user"); strings.TrimSpace(r.Stdout) != "supabase_admin" {
			t.Errorf("psql as the superuser: %q", r.Stdout)
		}
		// As the admin user, under RLS: their one account, and auth.uid()
		// is theirs; nothing written survives psql.
		q := "select current_user || ' ' || (select count(*) from public.accounts) || ' ' || (auth.uid() is not null)"
		r := sfptest.MustRun(t, base, nil, "server", "psql", "-t", "acme", "--role", "authenticated", "--user", "OPS@acme.test", "--", "-At", "-c", q)
		if strings.TrimSpace(r.Stdout) != "authenticated 1 true" {
			t.Errorf("psql as the admin user: %q %q", r.Stdout, r.Stderr)
		}
		// anon has no grant on accounts, as through PostgREST; psql's exit
		// code is sfp's.
		if r := sfptest.Run(t, base, nil, "server", "psql", "-t", "acme", "--role", "anon", "--", "-At", "-c", "select count(*) from public.accounts"); r.Code != 1 || !strings.Contains(r.Stderr, "permission denied for table accounts") {
			t.Errorf("psql as anon: %d %q %q", r.Code, r.Stdout, r.Stderr)
		}
		q = "insert into public.accounts (name, slug) values ('Tmp', 'tmp'); select current_user || ' ' || count(*) from public.accounts"
		if r := sfptest.MustRun(t, base, nil, "server", "psql", "-t", "acme", "--role", "service_role", "--", "-At", "-c", q); !strings.HasSuffix(strings.TrimSpace(r.Stdout), "service_role 2") {
			t.Errorf("psql as service_role: %q %q", r.Stdout, r.Stderr)
		}
		if r := sfptest.MustRun(t, base, nil, "server", "psql", "-t", "acme", "--", "-At", "-c", "select count(*) from public.accounts"); strings.TrimSpace(r.Stdout) != "1" {
			t.Errorf("psql's transaction was not rolled back: %q", r.Stdout)
		}
		if r := sfptest.Run(t, base, nil, "server", "psql", "-t", "acme", "--user", "nobody@acme.test", "--", "-c", "select 1"); r.Code == 0 || !strings.Contains(r.Stderr, "no user with email") {
			t.Errorf("psql as an unknown user: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("killed backup", func(t *testing.T) { killedBackup(t, base, pass) })
	t.Run("full disk", func(t *testing.T) {
		out := filepath.Join(base, "full", "acme.sfpbackup")
		cmd := sfptest.Command(t.Context(), t, base, nil, "server", "backup", "-t", "acme", "--passphrase-file", pass, "-o", out)
		cmd.Path, cmd.Args = "/usr/bin/prlimit", append([]string{"prlimit", "--fsize=2000000", "--", cmd.Path}, cmd.Args[1:]...)
		msg, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(msg), "is full or a file size limit was reached") {
			t.Fatalf("backup beyond the file size limit: %v\n%s", err, msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a failed backup left %s", out)
		}
	})

	r = sfptest.Run(t, base, nil, "server", "restore", "-t", "copy", "--from", file)
	if r.Code == 0 || !strings.Contains(r.Stderr, "--passphrase-file") {
		t.Fatalf("restore without the passphrase: exit %d\n%s", r.Code, r.Stderr)
	}
	sfptest.MustRun(t, base, nil, "server", "restore", "-t", "copy", "--from", file, "--passphrase-file", pass)
	if r := sfptest.Run(t, base, nil, "server", "restore", "-t", "acme", "--from", file, "--passphrase-file", pass); r.Code != 6 || !strings.Contains(r.Stderr, "--force") {
		t.Errorf("restore over a running tenant: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Run("killed restore", func(t *testing.T) { killedRestore(t, base, file, pass) })
	stopAtEnd(t, base, "copy")
	r = sfptest.MustRun(t, base, nil, "server", "start", "-t", "copy", "-d", "--json")
	var info struct{ URL string }
	json.Unmarshal([]byte(r.Stdout), &info)
	// The admin signs in with the old password through the old key.
	token := signIn(t, info.URL, anon, "ops@acme.test", "admin-password-1")
	if code, body := get(t, info.URL+"/rest/v1/accounts?select=name", anon, token); code != 200 || body != `[{"name":"Acme"}]` {
		t.Errorf("accounts on the restored tenant: %d %s", code, body)
	}
	sfptest.MustRun(t, base, nil, "server", "update", "-t", "copy")
	if st := status(t, base, "copy", nil); !st.Running || st.SchemaVersion != res.SchemaVersion {
		t.Errorf("restored tenant after update: %+v", st)
	}
	if st := status(t, base, "acme", nil); !st.Running {
		t.Errorf("the source stopped: %+v", st)
	}
}

// killAt runs `sfp args…` and kills it (SIGKILL) at the first line of
// its stderr that starts with step. A run that finished before the kill
// landed is undone (undo, when not nil) and tried again, six runs at most.
func killAt(t *testing.T, base, what, step string, undo func(), args ...string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		cmd := sfptest.Command(t.Context(), t, base, nil, args...)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), step) {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		go func() {
			for sc.Scan() {
			}
		}()
		err := cmd.Wait()
		if ee, _ := err.(*exec.ExitError); ee != nil && ee.Sys().(syscall.WaitStatus).Signaled() {
			return
		}
		if undo != nil {
			undo()
		}
		if attempt == 5 {
			t.Fatalf("the %s always finished before it could be killed (%v)", what, err)
		}
	}
}

// killedBackup kills a backup while it copies: no backup file appears, and
// the next backup into that directory removes what the killed one left.
func killedBackup(t *testing.T, base, pass string) {
	dir := filepath.Join(base, "killed")
	out := filepath.Join(dir, "acme.sfpbackup")
	killAt(t, base, "backup", "• Copying", func() { os.Remove(out) },
		"server", "backup", "-t", "acme", "--passphrase-file", pass, "-o", out)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a killed backup left %s: %v", out, err)
	}
	// Its replication slot went with its connection (the server ends the
	// session once it sees the connection closed).
	deadline := time.Now().Add(time.Minute)
	for {
		r := sfptest.MustRun(t, base, nil, "server", "psql", "-t", "acme", "--", "-At", "-c", "select count(*) from pg_replication_slots where slot_name like 'sfp_backup%'")
		if strings.TrimSpace(r.Stdout) == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed backup's replication slot is still there after a minute: %s", r.Stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sfptest.MustRun(t, base, nil, "server", "backup", "-t", "acme", "--passphrase-file", pass, "-o", filepath.Join(dir, "next.sfpbackup"))
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "next.sfpbackup" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after the next backup the directory holds %v", names)
	}
}

// killedRestore kills a restore while it unpacks: the half-made tenant is
// refused by every command, naming the way out, until a restore --force
// replaces it.
func killedRestore(t *testing.T, base, file, pass string) {
	killAt(t, base, "restore", "• Restoring", nil,
		"server", "restore", "-t", "half", "--from", file, "--passphrase-file", pass, "--force")
	for _, args := range [][]string{{"server", "start", "-t", "half", "-d"}, {"server", "status", "-t", "half"}} {
		if r := sfptest.Run(t, base, nil, args...); r.Code == 0 || !strings.Contains(r.Stderr, "restore has not finished") || !strings.Contains(r.Stderr, "--force") {
			t.Errorf("%v on a half-restored tenant: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
	sfptest.MustRun(t, base, nil, "server", "restore", "-t", "half", "--from", file, "--passphrase-file", pass, "--force")
	if st := status(t, base, "half", nil); st.Tenant != "half" {
		t.Errorf("status after restore --force: %+v", st)
	}
}
