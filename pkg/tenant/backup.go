package tenant

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BackupConfig is tenant.yaml's backup: section — where backups go, how
// they are encrypted, how often the running tenant takes them, and where
// PostgreSQL archives its WAL for point-in-time recovery (docs/backups.md).
type BackupConfig struct {
	// Directory receives scheduled backups and is the default of
	// `sfp server backup`; relative to the tenant directory. Default
	// "backups".
	Directory string `yaml:"directory,omitempty"`
	// PassphraseFile encrypts backups to the passphrase in that file
	// (age's scrypt recipient); relative to the tenant directory. Recipient instead encrypts to an age
	// public key (age1…). One of them, or none: a backup then needs
	// --unencrypted.
	PassphraseFile string `yaml:"passphrase_file,omitempty"`
	Recipient      string `yaml:"recipient,omitempty"`
	// Schedule is how often the running tenant takes a backup into
	// Directory (e.g. "24h"); unset, it takes none.
	Schedule Duration `yaml:"schedule,omitempty"`
	// Keep is how many scheduled backups are kept (oldest removed first);
	// default 7.
	Keep int `yaml:"keep,omitempty"`
	// WALArchive is a directory PostgreSQL copies every completed WAL
	// segment to (archive_mode), for restores to a point in time. It is
	// mode 0700 and owned by the user PostgreSQL runs as. Unset, WAL is
	// not archived.
	WALArchive string `yaml:"wal_archive,omitempty"`
	// ArchiveTimeout forces a segment switch after this long, so the
	// archive is at most this far behind; default 5m (embedded runtime).
	ArchiveTimeout Duration `yaml:"archive_timeout,omitempty"`
}

// Defaults of BackupConfig.
const (
	DefaultBackupDir      = "backups"
	DefaultBackupKeep     = 7
	DefaultArchiveTimeout = Duration(5 * time.Minute)
	minBackupSchedule     = time.Minute
)

func (b *BackupConfig) defaults() {
	setDefault(&b.Directory, DefaultBackupDir)
	setDefault(&b.Keep, DefaultBackupKeep)
	setDefault(&b.ArchiveTimeout, DefaultArchiveTimeout)
}

func (b BackupConfig) validate() error {
	if b.PassphraseFile != "" && b.Recipient != "" {
		return errors.New("backup: set passphrase_file or recipient, not both")
	}
	if b.Recipient != "" && !strings.HasPrefix(b.Recipient, "age1") {
		return fmt.Errorf("backup.recipient: %q is not an age public key (age1…)", b.Recipient)
	}
	if b.Schedule != 0 && time.Duration(b.Schedule) < minBackupSchedule {
		return fmt.Errorf("backup.schedule: %s is shorter than %s", b.Schedule, minBackupSchedule)
	}
	if b.Keep < 1 {
		return fmt.Errorf("backup.keep: %d must be at least 1", b.Keep)
	}
	if b.WALArchive != "" && !filepath.IsAbs(b.WALArchive) {
		return fmt.Errorf("backup.wal_archive: %q must be an absolute path (PostgreSQL's archive command runs elsewhere)", b.WALArchive)
	}
	if t := time.Duration(b.ArchiveTimeout); t < 10*time.Second || t > 24*time.Hour {
		return fmt.Errorf("backup.archive_timeout: %s is outside 10s..24h", b.ArchiveTimeout)
	}
	return nil
}

// BackupDir is the absolute directory of the tenant's backups.
func (t *Tenant) BackupDir() string {
	if filepath.IsAbs(t.Config.Backup.Directory) {
		return t.Config.Backup.Directory
	}
	return filepath.Join(t.Dir, t.Config.Backup.Directory)
}

// BackupPassphraseFile is backup.passphrase_file, a relative path taken
// from the tenant directory (the running tenant's scheduled backups and
// the CLI, run from anywhere, must find the same file).
func (t *Tenant) BackupPassphraseFile() string {
	f := t.Config.Backup.PassphraseFile
	if f == "" || filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(t.Dir, f)
}

// restoringMarker is in a tenant directory from Place until FinishRestore:
// a restore that was killed leaves a directory that every command refuses
// rather than a half-restored tenant that looks usable.
const restoringMarker = ".restoring"

// ErrIncomplete is returned by Load for a tenant whose restore has not
// finished.
var ErrIncomplete = errors.New("its restore has not finished (it is running, or was interrupted)")

// FinishRestore marks a restored tenant complete: commands accept it from
// now on.
func (t *Tenant) FinishRestore() error {
	if err := os.Remove(filepath.Join(t.Dir, restoringMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("finish restore: %w", err)
	}
	return nil
}

func checkComplete(dir, name string) error {
	if _, err := os.Stat(filepath.Join(dir, restoringMarker)); err == nil {
		return fmt.Errorf("tenant %q: %w; restore it again with `sfp server restore -t %s --from FILE --force`, or remove %s", name, ErrIncomplete, name, dir)
	}
	return nil
}

// PlaceOptions are the inputs of Place.
type PlaceOptions struct {
	Name string
	// Config and Secrets are the tenant's (from a backup); Place gives
	// the config the new name and free ports.
	Config  Config
	Secrets *Secrets
	// Force replaces an existing stopped tenant.
	Force bool
}

// Place writes a tenant directory for an existing tenant's configuration
// and secrets under a (possibly new) name, on ports no other tenant uses:
// the first step of a restore. The caller fills pgdata, and calls
// FinishRestore when done or removes the directory if the restore fails;
// until then Load refuses the tenant.
func Place(base string, opts PlaceOptions) (*Tenant, error) {
	if err := ValidateName(opts.Name); err != nil {
		return nil, err
	}
	dir := Dir(base, opts.Name)
	if err := replaceExisting(dir, opts.Name, "restore", opts.Force); err != nil {
		return nil, err
	}
	cfg := opts.Config
	cfg.Name = opts.Name
	cfg.API.Port, cfg.Postgres.Port, cfg.Monitoring.Port = 0, 0, 0
	if cfg.Runtime == RuntimeDocker {
		cfg.Postgres.Port = 5432
	}
	if err := cfg.allocatePorts(base, "restore", 0, 0, 0); err != nil {
		return nil, err
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("restore tenant: %w", err)
	}
	t := &Tenant{Dir: dir, Config: cfg, Secrets: opts.Secrets}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create tenant directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, restoringMarker), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create tenant directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create tenant directory: %w", err)
	}
	if err := t.writeNew(); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeConfig reads a tenant.yaml (from a backup) as Load does: unknown
// settings are errors, defaults applied, validated.
func DecodeConfig(raw []byte, filename string) (Config, error) {
	var cfg Config
	err := decodeConfig(raw, filename, &cfg)
	return cfg, err
}

// DecodeSecrets reads a .env (from a backup) as Load does.
func DecodeSecrets(raw []byte, filename string) (*Secrets, error) {
	return parseSecrets(raw, filename)
}
