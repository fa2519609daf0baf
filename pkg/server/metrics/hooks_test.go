package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/metrics"
)

// The hooks the backup code calls show in /metrics; the WAL archive time
// only moves forward (the archiver and pg_stat_archiver both report it).
func TestBackupHooks(t *testing.T) {
	m := metrics.New()
	m.Watch(metrics.Sources{})
	srv := httptest.NewServer(metrics.Handler(m, nil))
	defer srv.Close()
	backup := time.Unix(1_800_000_000, 0)
	m.BackupSucceeded(backup)
	m.WALArchived(backup.Add(time.Minute))
	m.WALArchived(backup) // an older report changes nothing
	sc, err := metrics.Fetch(t.Context(), http.DefaultClient, srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"sfp_backup_last_success_timestamp_seconds":      1_800_000_000,
		"sfp_wal_archive_last_success_timestamp_seconds": 1_800_000_060,
	} {
		if v, ok := sc.Value(name); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
