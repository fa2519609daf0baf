package metrics_test

import (
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/backup"
)

// A backup of the running tenant (here an SQL one, taken as `sfp server
// backup --sql` takes it, by another part of the process) shows as the
// last successful backup at the next scrape: the catalog is the source.
func TestBackupAge(t *testing.T) {
	s, ctx := sharedStack(t, 5*time.Minute)
	res, err := backup.Backup(ctx, s.Tenant, backup.Options{Kind: backup.KindSQL, Encryption: backup.Encryption{Unencrypted: true}})
	if err != nil {
		t.Fatal(err)
	}
	sc := scrape(t, s)
	got, ok := sc.Value("sfp_backup_last_success_timestamp_seconds")
	want := float64(res.FinishedAt.UnixNano()) / 1e9
	if !ok || got != want {
		t.Fatalf("sfp_backup_last_success_timestamp_seconds = %v (present %v), want %v (the backup's finish)", got, ok, want)
	}
	if v, _ := sc.Value("sfp_backup_last_failure_timestamp_seconds"); v != 0 {
		t.Errorf("sfp_backup_last_failure_timestamp_seconds = %v, want 0", v)
	}
}
