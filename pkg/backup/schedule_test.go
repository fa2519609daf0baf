package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

func TestScheduledBackups(t *testing.T) {
	base := sfptest.BaseDir(t)
	pass := writeFile(t, base, "passphrase", "scheduled passphrase\n")
	src := newTenant(t, base, "sched", func(c *tenant.Config) {
		c.Backup.PassphraseFile = pass
		c.Backup.Schedule = tenant.Duration(time.Hour)
		c.Backup.Keep = 2
	})
	// The running tenant takes its first scheduled backup at once (it has
	// none yet).
	deadline := time.Now().Add(3 * time.Minute)
	var s *backup.Summary
	for {
		var err error
		if s, err = backup.List(src.T); err != nil {
			t.Fatal(err)
		}
		if len(s.Backups) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scheduled backup after 3 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first := s.Backups[0]
	if !first.Scheduled || !first.Encrypted || filepath.Dir(first.File) != src.T.BackupDir() {
		t.Fatalf("scheduled backup %+v", first)
	}
	ctx := context.Background()
	manual, err := backup.Backup(ctx, src.T, backup.Options{Output: filepath.Join(src.T.BackupDir(), "manual.sfpbackup"), Encryption: backup.Encryption{PassphraseFile: pass}})
	if err != nil {
		t.Fatal(err)
	}

	// A failure is recorded, not dropped; the next success clears it.
	broken := *src.T
	broken.Config.Backup.PassphraseFile = ""
	if _, err := (&backup.Scheduler{T: &broken}).RunOnce(ctx); err == nil {
		t.Fatal("a scheduled backup without encryption succeeded")
	}
	if s, _ := backup.List(src.T); s.LastError == nil || !strings.Contains(s.LastError.Error, "no encryption configured") {
		t.Errorf("failure not recorded: %+v", s.LastError)
	}
	sch := &backup.Scheduler{T: src.T}
	for i := 0; i < 2; i++ {
		if _, err := sch.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s, _ = backup.List(src.T)
	if s.LastError != nil {
		t.Errorf("the failure outlived a success: %+v", s.LastError)
	}
	var scheduled int
	for _, b := range s.Backups {
		if b.Scheduled {
			scheduled++
		}
	}
	if scheduled != 2 || len(s.Backups) != 3 {
		t.Errorf("after three scheduled backups with keep 2 and one manual: %+v", s.Backups)
	}
	if _, err := os.Stat(first.File); !os.IsNotExist(err) {
		t.Errorf("the oldest scheduled backup was kept: %v", err)
	}
	if _, err := os.Stat(manual.File); err != nil {
		t.Errorf("the manual backup was removed: %v", err)
	}
}
