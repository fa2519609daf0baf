// Package backup takes and restores backups of embedded tenants: an online
// physical base backup of the whole cluster taken by PostgreSQL's own
// pg_basebackup (every schema, the Vault root key file in the data
// directory, the WAL needed to make it consistent), together with the
// tenant's tenant.yaml and .env (keys, JWT signing keys, role passwords),
// in one tar stream encrypted with age. A restore makes a new tenant from
// it; with the WAL archive (backup.wal_archive) PostgreSQL's recovery
// brings it to a chosen time or LSN. docs/backups.md is the operator's
// page.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

// FormatVersion is the version of the backup file format this binary
// writes and reads.
const FormatVersion = 1

// Kinds of backup.
const (
	KindPhysical = "physical" // pg_basebackup: restorable here, to a point in time
	KindSQL      = "sql"      // pg_dump: portable to the docker runtime or hosted Supabase
)

// Manifest describes a backup; it is the first entry of the archive.
type Manifest struct {
	Format int    `json:"format"`
	Kind   string `json:"kind"`
	// Runtime is the backed-up tenant's (embedded or docker).
	Runtime string `json:"runtime,omitempty"`
	Tenant  string `json:"tenant"`
	// StartedAt and FinishedAt bracket the backup; a restore to a time
	// needs a time after FinishedAt.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// SchemaVersion is the latest migration applied to the tenant.
	SchemaVersion string `json:"schema_version"`
	PostgresMajor int    `json:"postgres_major"`
	// The WAL range of the base backup (from pg_basebackup's manifest):
	// the backup is consistent at EndLSN.
	StartLSN string `json:"start_lsn,omitempty"`
	EndLSN   string `json:"end_lsn,omitempty"`
	Timeline int    `json:"timeline,omitempty"`
	// WALArchive is the tenant's backup.wal_archive when the backup was
	// taken: where a restore to a point in time finds the later WAL.
	WALArchive string `json:"wal_archive,omitempty"`
}

// Archive entries.
const (
	entryManifest     = "manifest.json"
	entryConfig       = "tenant/tenant.yaml"
	entrySecrets      = "tenant/.env"
	entryData         = "pgdata/" // prefix of the cluster's files
	entryPGManifest   = "pgdata/backup_manifest"
	entryFinal        = "final.json" // the manifest once the backup finished
	entryDump         = "sql/dump.sql"
	maxSmallEntrySize = 16 << 20
)

// ErrNewerSchema is returned for a backup of a tenant migrated by a newer
// sfp than this one.
var ErrNewerSchema = errors.New("the backup's schema is newer than this sfp knows")

// ErrNotABackup is returned for a file that is not an sfp backup.
var ErrNotABackup = errors.New("not an sfp backup")

func decodeManifest(raw []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("read backup manifest: %w: %w", ErrNotABackup, err)
	}
	if m.Format == 0 || m.Tenant == "" {
		return nil, fmt.Errorf("read backup manifest: %w (no format or tenant)", ErrNotABackup)
	}
	if m.Format > FormatVersion {
		return nil, fmt.Errorf("read backup manifest: format %d is newer than this sfp reads (%d); restore with a newer sfp", m.Format, FormatVersion)
	}
	return &m, nil
}

// checkSchema refuses a backup whose schema this binary's migrations do not
// reach: the restored tenant would run code older than its data.
func checkSchema(m *Manifest, migrations fs.FS) error {
	if migrations == nil {
		migrations = supabase.Migrations()
	}
	ms, err := migrate.Load(migrations)
	if err != nil {
		return err
	}
	latest := ""
	for _, x := range ms {
		if x.Version > latest {
			latest = x.Version
		}
	}
	if m.SchemaVersion > latest {
		return fmt.Errorf("restore backup of %q: schema version %s, but this sfp knows migrations up to %s: %w; restore it with the sfp that took it or a newer one",
			m.Tenant, m.SchemaVersion, latest, ErrNewerSchema)
	}
	return nil
}
