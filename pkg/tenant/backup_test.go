package tenant

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBackupConfig(t *testing.T) {
	base := t.TempDir()
	tn := mustCreate(t, base, CreateOptions{Name: "acme"})
	b := tn.Config.Backup
	if b.Directory != DefaultBackupDir || b.Keep != DefaultBackupKeep || b.ArchiveTimeout != DefaultArchiveTimeout {
		t.Errorf("defaults %+v", b)
	}
	if tn.BackupDir() != filepath.Join(tn.Dir, "backups") {
		t.Errorf("backup dir %s", tn.BackupDir())
	}
	tn.Config.Backup.PassphraseFile = "pass"
	if tn.BackupPassphraseFile() != filepath.Join(tn.Dir, "pass") {
		t.Errorf("relative passphrase file %s", tn.BackupPassphraseFile())
	}
	cases := []struct {
		name string
		set  func(*BackupConfig)
		want string
	}{
		{"both", func(b *BackupConfig) { b.PassphraseFile, b.Recipient = "p", "age1x" }, "not both"},
		{"recipient", func(b *BackupConfig) { b.PassphraseFile, b.Recipient = "", "ssh-ed25519 AAAA" }, "backup.recipient"},
		{"schedule", func(b *BackupConfig) { b.Schedule = Duration(time.Second) }, "backup.schedule"},
		{"keep", func(b *BackupConfig) { b.Keep = -1 }, "backup.keep"},
		{"archive", func(b *BackupConfig) { b.WALArchive = "relative/dir" }, "backup.wal_archive"},
		{"timeout", func(b *BackupConfig) { b.ArchiveTimeout = Duration(time.Second) }, "backup.archive_timeout"},
	}
	for _, c := range cases {
		cfg := tn.Config
		c.set(&cfg.Backup)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	// tenant.yaml round-trips the section.
	tn.Config.Backup.Schedule = Duration(24 * time.Hour)
	tn.Config.Backup.WALArchive = "/srv/wal"
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	back, err := Load(base, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if back.Config.Backup != tn.Config.Backup {
		t.Errorf("round trip %+v != %+v", back.Config.Backup, tn.Config.Backup)
	}
}
