package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// RestoreOptions change Restore.
type RestoreOptions struct {
	// Base is the base directory; Name the tenant to create.
	Base, Name string
	// From is the backup file.
	From       string
	Decryption Decryption
	// Force replaces an existing (stopped) tenant of that name. Its
	// directory is set aside during the restore and put back if it fails.
	Force bool
	// ToTime or ToLSN recover to a point after the backup, from the WAL
	// archive: Archive, else the one the backup's tenant used.
	ToTime  time.Time
	ToLSN   string
	Archive string
	// Docker restores a docker tenant's backup (pkg/runtime/docker).
	Docker ComposeRestore
	// Migrations are the binary's (nil: embedded); a backup of a newer
	// schema is refused.
	Migrations fs.FS
	Progress   func(Progress)
	Logger     *slog.Logger
}

// RestoreResult describes a restored tenant.
type RestoreResult struct {
	Tenant       string    `json:"tenant"`
	Dir          string    `json:"dir"`
	URL          string    `json:"url"`
	APIPort      int       `json:"api_port"`
	PostgresPort int       `json:"postgres_port"`
	From         string    `json:"from"`
	Source       string    `json:"source_tenant"`
	BackupTime   time.Time `json:"backup_time"`
	// SchemaVersion is the restored tenant's latest migration.
	SchemaVersion string `json:"schema_version"`
	// RecoveredTo is where a recovery to a point in time stopped.
	RecoveredTo *RecoveryPoint `json:"recovered_to,omitempty"`
}

// restoreResult describes tenant t restored from the backup whose final
// manifest is final; a recovery to a point in time then sets where it
// stopped and the schema version it reached.
func restoreResult(t *tenant.Tenant, opts *RestoreOptions, final *Manifest) *RestoreResult {
	return &RestoreResult{Tenant: opts.Name, Dir: t.Dir, URL: t.URL(), APIPort: t.Config.API.Port, PostgresPort: t.Config.Postgres.Port,
		From: opts.From, Source: final.Tenant, BackupTime: final.FinishedAt, SchemaVersion: final.SchemaVersion}
}

// RecoveryPoint is where PostgreSQL's recovery stopped: the last replayed
// WAL position and the commit time of the last transaction it applied.
type RecoveryPoint struct {
	LSN             string     `json:"lsn"`
	LastTransaction *time.Time `json:"last_transaction_time,omitempty"`
}

// Restore creates tenant opts.Name from a backup file: its configuration
// and secrets, on free ports, and its cluster, started once (crash
// recovery, or archive recovery to the target) and stopped cleanly. On any
// error what it created is removed, so no half-restored tenant remains.
func Restore(ctx context.Context, opts RestoreOptions) (res *RestoreResult, err error) {
	if err := tenant.ValidateName(opts.Name); err != nil {
		return nil, err
	}
	if !opts.ToTime.IsZero() && opts.ToLSN != "" {
		return nil, errors.New("restore: --to-time or --to-lsn, not both")
	}
	dir := tenant.Dir(opts.Base, opts.Name)
	if _, err := os.Stat(dir); err == nil {
		if !opts.Force {
			return nil, fmt.Errorf("restore tenant %q in %s: %w (use --force to replace it and its data)", opts.Name, dir, tenant.ErrExists)
		}
		if old, lerr := tenant.Load(opts.Base, opts.Name); lerr == nil {
			if running, pid := old.Running(); running {
				return nil, fmt.Errorf("restore tenant %q: it is running (pid %d); stop it first with `sfp server stop -t %s`", opts.Name, pid, opts.Name)
			}
		}
	}
	f, err := os.Open(opts.From)
	if err != nil {
		return nil, fmt.Errorf("restore: open backup: %w", err)
	}
	defer f.Close()
	plain, _, err := openArchive(f, opts.Decryption)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(plain)
	head, err := readHead(tr)
	if err != nil {
		return nil, err
	}
	if err := checkHead(ctx, head, &opts); err != nil {
		return nil, err
	}
	if head.manifest.Runtime == string(tenant.RuntimeDocker) {
		return restoreDocker(ctx, tr, head, opts)
	}

	// From here on the tenant directory is ours: set an existing one
	// aside, and on failure remove ours and put it back.
	aside := ""
	if _, err := os.Stat(dir); err == nil {
		aside = filepath.Join(filepath.Dir(dir), fmt.Sprintf(".%s.replaced-%d", opts.Name, os.Getpid()))
		if err := os.Rename(dir, aside); err != nil {
			return nil, fmt.Errorf("restore tenant %q: set the existing tenant aside: %w", opts.Name, err)
		}
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			if aside != "" {
				os.Rename(aside, dir)
			}
		} else if aside != "" {
			os.RemoveAll(aside)
		}
	}()
	// The restored tenant does not archive into the source tenant's WAL
	// archive: two clusters writing one archive would mix their histories.
	head.config.Backup.WALArchive = ""
	t, err := tenant.Place(opts.Base, tenant.PlaceOptions{Name: opts.Name, Config: head.config, Secrets: head.secrets})
	if err != nil {
		return nil, err
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size() // the files are about as large as the backup (no compression)
	}
	final, err := extractData(tr, t.DataDir(), size, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	if err := checkTarget(final, &opts); err != nil {
		return nil, err
	}
	cluster, err := postgres.New(ctx, postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port,
		SuperPassword: t.Secrets.PostgresPassword, LogFile: t.PostgresLog(), Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if err := verifyBackup(ctx, cluster); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	res = restoreResult(t, &opts, final)
	if res.RecoveredTo, res.SchemaVersion, err = recoverCluster(ctx, cluster, t, &opts); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	if err := t.FinishRestore(); err != nil {
		return nil, err
	}
	return res, nil
}

// head is what precedes the database files in a backup.
type head struct {
	manifest *Manifest
	config   tenant.Config
	secrets  *tenant.Secrets
}

// readHead reads the manifest (the first entry), tenant.yaml and .env.
func readHead(tr *tar.Reader) (*head, error) {
	var h head
	var cfgRaw, envRaw []byte
	for i := 0; i < 3; i++ {
		hdr, err := tr.Next()
		if err != nil {
			if i == 0 && !errors.Is(err, ErrTruncated) {
				return nil, fmt.Errorf("read backup: %w (%w)", ErrNotABackup, err)
			}
			return nil, fmt.Errorf("read backup: %w", truncated(orUnexpected(err)))
		}
		raw, err := readSmall(tr, hdr)
		if err != nil {
			return nil, err
		}
		switch {
		case i == 0 && hdr.Name == entryManifest:
			if h.manifest, err = decodeManifest(raw); err != nil {
				return nil, err
			}
		case i == 0:
			return nil, fmt.Errorf("read backup: %w (it starts with %q, not the manifest)", ErrNotABackup, hdr.Name)
		case hdr.Name == entryConfig:
			cfgRaw = raw
		case hdr.Name == entrySecrets:
			envRaw = raw
		}
	}
	if cfgRaw == nil || envRaw == nil {
		return nil, fmt.Errorf("read backup: tenant.yaml or .env missing: %w", ErrTruncated)
	}
	var err error
	if h.config, err = tenant.DecodeConfig(cfgRaw, "tenant.yaml in the backup"); err != nil {
		return nil, err
	}
	if h.secrets, err = tenant.DecodeSecrets(envRaw, ".env in the backup"); err != nil {
		return nil, err
	}
	return &h, nil
}

// orUnexpected makes a plain EOF in the middle of an archive what it is.
func orUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkHead refuses what cannot be restored before anything is written.
func checkHead(ctx context.Context, h *head, opts *RestoreOptions) error {
	m := h.manifest
	if m.Kind == KindSQL {
		return fmt.Errorf("restore: %s is a SQL export (--format sql) for loading into another PostgreSQL with psql; restore needs a physical backup (see docs/backups.md)", opts.From)
	}
	if m.Kind != KindPhysical {
		return fmt.Errorf("restore: unknown backup kind %q", m.Kind)
	}
	if err := checkSchema(m, opts.Migrations); err != nil {
		return err
	}
	if m.Runtime == string(tenant.RuntimeDocker) {
		if !opts.ToTime.IsZero() || opts.ToLSN != "" {
			return fmt.Errorf("restore: %s is a backup of docker tenant %q; point-in-time recovery is for embedded tenants (a docker tenant archives no WAL)", opts.From, m.Tenant)
		}
		return nil
	}
	bins, err := postgres.FindBinaries(ctx)
	if err != nil {
		return err
	}
	if bins.Major != m.PostgresMajor {
		return fmt.Errorf("restore: the backup holds a PostgreSQL %d cluster, but the binaries in %s are PostgreSQL %s; use PostgreSQL %d binaries (SFP_PG_BIN)",
			m.PostgresMajor, bins.Dir, bins.Version, m.PostgresMajor)
	}
	if opts.ToTime.IsZero() && opts.ToLSN == "" {
		return nil
	}
	if opts.Archive == "" {
		opts.Archive = m.WALArchive
	}
	if opts.Archive == "" {
		return errors.New("restore to a point in time: the backup's tenant had no backup.wal_archive; pass --archive DIR")
	}
	if _, err := os.Stat(opts.Archive); err != nil {
		return fmt.Errorf("restore to a point in time: WAL archive: %w", err)
	}
	return nil
}

// checkTarget refuses a target time before the backup finished: recovery
// cannot stop before the backup is consistent.
func checkTarget(m *Manifest, opts *RestoreOptions) error {
	if !opts.ToTime.IsZero() && !opts.ToTime.After(m.FinishedAt) {
		return fmt.Errorf("restore to a point in time: --to-time %s is before the backup finished (%s); choose a later time or an older backup",
			opts.ToTime.UTC().Format(time.RFC3339Nano), m.FinishedAt.Format(time.RFC3339Nano))
	}
	return nil
}

// extractData unpacks the cluster's files into dataDir and reads the
// archive to its end — so a truncated or tampered file (age authenticates
// every chunk) fails here, before the cluster is started — and returns the
// manifest written when the backup finished.
func extractData(tr *tar.Reader, dataDir string, total int64, progress func(Progress)) (*Manifest, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	var done int64
	count := func(n int64) {
		done += n
		if progress != nil {
			progress(Progress{Phase: "restoring", Done: min(done, total), Total: total})
		}
	}
	files := 0
	final, err := readToEnd(tr, func(hdr *tar.Header) (bool, error) {
		rel, ok := strings.CutPrefix(hdr.Name, entryData)
		if !ok {
			return false, nil
		}
		files++
		return true, extractEntry(tr, hdr, dataDir, rel, count)
	})
	if err != nil {
		return nil, err
	}
	if files == 0 || final == nil {
		return nil, fmt.Errorf("read backup: the database files or the final manifest are missing: %w", ErrTruncated)
	}
	return final, nil
}

// readToEnd reads the rest of a backup archive: entry handles the entries
// of the restore at hand (and says whether it knew the entry), the final
// manifest is decoded and returned (nil when missing), anything else is an
// error — reading to the end is what detects a truncated file.
func readToEnd(tr *tar.Reader, entry func(*tar.Header) (bool, error)) (*Manifest, error) {
	var final *Manifest
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return final, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read backup: %w", truncated(err))
		}
		known, err := entry(hdr)
		switch {
		case known:
		case hdr.Name == entryFinal:
			var raw []byte
			if raw, err = readSmall(tr, hdr); err == nil {
				final, err = decodeManifest(raw)
			}
		default:
			err = fmt.Errorf("read backup: unexpected entry %q", hdr.Name)
		}
		if err != nil {
			return nil, err
		}
	}
}

// verifyBackup checks the restored files against pg_basebackup's manifest
// (sizes, checksums, the WAL it needs) with pg_verifybackup.
func verifyBackup(ctx context.Context, cluster *postgres.Cluster) error {
	bin := cluster.Config().Binaries.Path("pg_verifybackup")
	out, err := exec.CommandContext(ctx, bin, "--quiet", cluster.DataDir()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("the restored files do not match the backup's manifest (pg_verifybackup: %v): %s: %w", err, strings.TrimSpace(string(out)), ErrTruncated)
	}
	return os.Remove(filepath.Join(cluster.DataDir(), "backup_manifest"))
}
