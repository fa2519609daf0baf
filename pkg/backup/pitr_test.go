package backup_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// archived waits until the WAL segment holding the current position is in
// the archive (after forcing a switch).
func archived(t *testing.T, r *running) {
	t.Helper()
	c := r.conn(t)
	var seg string
	if err := c.QueryRow(context.Background(), `select pg_walfile_name(pg_switch_wal())`).Scan(&seg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var last *string
		c.QueryRow(context.Background(), `select last_archived_wal from pg_stat_archiver`).Scan(&last)
		if last != nil && *last >= seg {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment %s not archived after 3 minutes (last %v)", seg, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPointInTimeRecovery(t *testing.T) {
	base := sfptest.BaseDir(t)
	archive := filepath.Join(base, "wal-archive")
	src := newTenant(t, base, "src", func(c *tenant.Config) { c.Backup.WALArchive = archive })
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("archive directory: %v %v", err, fi)
	}
	c := src.conn(t)
	ctx := context.Background()
	exec1(t, c, `insert into public.accounts (id, name, slug) values ($1, 'Acme', 'acme')`, accountID)
	file := filepath.Join(base, "src.sfpbackup")
	res, err := backup.Backup(ctx, src.T, backup.Options{Output: file, Encryption: backup.Encryption{Unencrypted: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Encrypted {
		t.Error("an --unencrypted backup says it is encrypted")
	}
	exec1(t, c, `insert into public.documents (account_id, collection, key, data) values ($1, 'pitr', 'first', '{}')`, accountID)
	var between time.Time
	var betweenLSN string
	if err := c.QueryRow(ctx, `select clock_timestamp(), pg_current_wal_lsn()::text`).Scan(&between, &betweenLSN); err != nil {
		t.Fatal(err)
	}
	exec1(t, c, `insert into public.documents (account_id, collection, key, data) values ($1, 'pitr', 'second', '{}')`, accountID)
	archived(t, src)

	keys := func(r *running) string {
		var s string
		r.conn(t).QueryRow(ctx, `select coalesce(string_agg(key, ',' order by key), '') from public.documents where collection = 'pitr'`).Scan(&s)
		return s
	}
	for _, target := range []struct {
		name string
		opts backup.RestoreOptions
	}{
		{"time", backup.RestoreOptions{ToTime: between}},
		{"lsn", backup.RestoreOptions{ToLSN: betweenLSN}},
	} {
		t.Run(target.name, func(t *testing.T) {
			o := target.opts
			o.Base, o.Name, o.From = base, "at-"+target.name, file
			rr, err := backup.Restore(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if rr.RecoveredTo == nil || rr.RecoveredTo.LSN == "" {
				t.Fatalf("no recovery point in %+v", rr)
			}
			if target.name == "time" && (rr.RecoveredTo.LastTransaction == nil || rr.RecoveredTo.LastTransaction.After(between)) {
				t.Errorf("recovery to %s stopped at %+v", between, rr.RecoveredTo)
			}
			r := boot(t, base, o.Name)
			if got := keys(r); got != "first" {
				t.Errorf("documents after recovery to the %s between the writes: %q, want first", target.name, got)
			}
			// A recovered tenant is an ordinary one: it takes writes.
			exec1(t, r.conn(t), `insert into public.documents (account_id, collection, key, data) values ($1, 'pitr', 'third', '{}')`, accountID)
			r.stop(t)
		})
	}
	// The whole archive: both writes.
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "latest", From: file, ToLSN: "FFFF/0"}); !errors.Is(err, backup.ErrOutsideArchive) {
		t.Errorf("restore to an LSN past the archive: %v", err)
	}
	for name, when := range map[string]time.Time{"after": time.Now().Add(time.Hour), "before": res.StartedAt.Add(-time.Hour)} {
		_, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "out-" + name, From: file, ToTime: when})
		if err == nil || !strings.Contains(err.Error(), "--to-time") {
			t.Errorf("restore to a time %s the archive: %v", name, err)
		}
		if _, err := os.Stat(tenant.Dir(base, "out-"+name)); !os.IsNotExist(err) {
			t.Errorf("failed restore left its tenant: %v", err)
		}
	}
	// A backup of a schema newer than this binary's migrations.
	newer := filepath.Join(base, "newer.sfpbackup")
	withSchemaVersion(t, file, newer, "99991231000000")
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "newer", From: newer}); !errors.Is(err, backup.ErrNewerSchema) || !strings.Contains(err.Error(), "99991231000000") {
		t.Errorf("restore of a newer schema: %v", err)
	}
	if _, err := os.Stat(tenant.Dir(base, "newer")); !os.IsNotExist(err) {
		t.Errorf("refused restore left its tenant: %v", err)
	}
	if got := keys(src); got != "first,second" {
		t.Errorf("source documents %q", got)
	}
}

// withSchemaVersion rewrites an unencrypted backup's manifest to claim
// another schema version (a backup taken by a newer sfp).
func withSchemaVersion(t *testing.T, from, to, version string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			var m map[string]any
			json.Unmarshal(data, &m)
			m["schema_version"] = version
			data, _ = json.Marshal(m)
			h.Size = int64(len(data))
		}
		tw.WriteHeader(h)
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
