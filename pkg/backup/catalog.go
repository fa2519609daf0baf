package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Catalog is the tenant's record of its backups (backups.json in the
// tenant directory): an encrypted backup's manifest cannot be read without
// its key, so `sfp server backup list` and status read this instead.
type Catalog struct {
	Backups []Result `json:"backups"`
	// LastError is the latest failed scheduled backup, cleared by the next
	// success.
	LastError *Failure `json:"last_error,omitempty"`
}

// Failure is a failed scheduled backup.
type Failure struct {
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}

// Summary is what status shows about a tenant's backups.
type Summary struct {
	Backups []Result `json:"backups"`
	// LastError is the latest failed scheduled backup.
	LastError *Failure `json:"last_error,omitempty"`
	// WALArchive is backup.wal_archive; EarliestRestorable the earliest
	// time a restore with --to-time can reach: the end of the oldest
	// physical backup still on disk, when WAL is archived.
	WALArchive         string     `json:"wal_archive,omitempty"`
	EarliestRestorable *time.Time `json:"earliest_restorable,omitempty"`
}

func catalogFile(t *tenant.Tenant) string { return filepath.Join(t.Dir, "backups.json") }

// updateCatalog changes the catalog under an exclusive lock (a scheduled
// backup and a manual one may finish together) and writes it atomically.
func updateCatalog(t *tenant.Tenant, fn func(*Catalog)) error {
	lock, err := os.OpenFile(catalogFile(t)+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("record backup: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("record backup: %w", err)
	}
	c, err := readCatalog(t)
	if err != nil {
		return err
	}
	fn(c)
	raw, _ := json.MarshalIndent(c, "", "  ")
	tmp := catalogFile(t) + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("record backup: %w", err)
	}
	return os.Rename(tmp, catalogFile(t))
}

func readCatalog(t *tenant.Tenant) (*Catalog, error) {
	c := &Catalog{}
	raw, err := os.ReadFile(catalogFile(t))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backup catalog: %w", err)
	}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("read backup catalog %s: %w", catalogFile(t), err)
	}
	return c, nil
}

// List returns the tenant's backups whose files still exist, newest first,
// and the earliest point a restore can reach.
func List(t *tenant.Tenant) (*Summary, error) {
	c, err := readCatalog(t)
	if err != nil {
		return nil, err
	}
	s := &Summary{Backups: []Result{}, LastError: c.LastError, WALArchive: t.Config.Backup.WALArchive}
	for _, b := range c.Backups {
		if fi, err := os.Stat(b.File); err == nil && fi.Size() == b.Size {
			s.Backups = append(s.Backups, b)
		}
	}
	sort.Slice(s.Backups, func(i, j int) bool { return s.Backups[i].FinishedAt.After(s.Backups[j].FinishedAt) })
	for _, b := range s.Backups {
		if b.Kind == KindPhysical {
			e := b.FinishedAt
			s.EarliestRestorable = &e
		}
	}
	return s, nil
}
