package postgres

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files of a data directory that belong to the server that wrote them, not
// to the data: a copy taken from another cluster must not carry them into a
// new one.
var runtimeFiles = []string{"postmaster.pid", "postmaster.opts", "recovery.signal", "standby.signal"}

// Adopt makes a data directory copied from another cluster (a restored base
// backup) this cluster's: sfp.conf is written again with this cluster's port
// and socket directory, and the server files of the cluster it was copied
// from are removed. The recovery settings of a previous restore are dropped
// too, so a restored cluster starts as an ordinary primary unless
// WriteRecovery asks otherwise.
func (c *Cluster) Adopt() error {
	if !c.Initialized() {
		return fmt.Errorf("adopt data directory %s: %w", c.cfg.DataDir, ErrNotInitialized)
	}
	owner, err := serverOwner()
	if err != nil {
		return fmt.Errorf("adopt data directory: %w", err)
	}
	for _, f := range append(runtimeFiles, RecoveryConfFile) {
		if err := os.Remove(filepath.Join(c.cfg.DataDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("adopt data directory: %w", err)
		}
	}
	if err := os.Chmod(c.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("adopt data directory: %w", err)
	}
	if err := owner.writeFile(filepath.Join(c.cfg.DataDir, "sfp.conf"), []byte(c.settingsText()), 0o600); err != nil {
		return fmt.Errorf("adopt data directory: %w", err)
	}
	// postgresql.conf includes sfp.conf (Init wrote that line) and the
	// recovery file if present.
	main := filepath.Join(c.cfg.DataDir, "postgresql.conf")
	raw, err := os.ReadFile(main)
	if err != nil {
		return fmt.Errorf("adopt data directory: %w", err)
	}
	if !strings.Contains(string(raw), "include_if_exists '"+RecoveryConfFile+"'") {
		raw = append(raw, []byte("include_if_exists '"+RecoveryConfFile+"'\n")...)
		if err := owner.writeFile(main, raw, 0o600); err != nil {
			return fmt.Errorf("adopt data directory: %w", err)
		}
	}
	if err := owner.giveTree(c.cfg.DataDir); err != nil {
		return fmt.Errorf("adopt data directory: %w", err)
	}
	return nil
}

// RecoveryConfFile holds the settings of a point-in-time recovery; Adopt
// includes it from postgresql.conf and removes it once recovery is done.
const RecoveryConfFile = "sfp-recovery.conf"

// RecoveryTarget is where a point-in-time recovery stops. Exactly one of
// Time and LSN is set; RestoreCommand fetches archived WAL segments.
type RecoveryTarget struct {
	Time           string // recovery_target_time, e.g. "2026-12-07 04:00:00+00"
	LSN            string // recovery_target_lsn, e.g. "0/3000060"
	RestoreCommand string
}

// WriteRecovery asks the next start to recover from the WAL archive up to
// the target and then to promote: recovery.signal plus the recovery
// settings (PostgreSQL's targeted archive recovery). The server stops with
// an error if the archive ends before the target.
func (c *Cluster) WriteRecovery(target RecoveryTarget) error {
	owner, err := serverOwner()
	if err != nil {
		return fmt.Errorf("write recovery settings: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Written by sfp for a point-in-time recovery; removed once it is done.\n")
	fmt.Fprintf(&b, "restore_command = %s\n", quoteConf(target.RestoreCommand))
	switch {
	case target.Time != "" && target.LSN != "":
		return errors.New("write recovery settings: a target time or a target LSN, not both")
	case target.Time != "":
		fmt.Fprintf(&b, "recovery_target_time = %s\n", quoteConf(target.Time))
	case target.LSN != "":
		fmt.Fprintf(&b, "recovery_target_lsn = %s\n", quoteConf(target.LSN))
	default:
		b.WriteString("recovery_target = ''\n") // the end of the archive
	}
	b.WriteString("recovery_target_action = 'promote'\n")
	if err := owner.writeFile(filepath.Join(c.cfg.DataDir, RecoveryConfFile), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write recovery settings: %w", err)
	}
	if err := owner.writeFile(filepath.Join(c.cfg.DataDir, "recovery.signal"), nil, 0o600); err != nil {
		return fmt.Errorf("write recovery settings: %w", err)
	}
	return nil
}

// ClearRecovery removes the recovery settings after a finished recovery,
// so later starts do not read a restore_command that points elsewhere.
func (c *Cluster) ClearRecovery() error {
	err := os.Remove(filepath.Join(c.cfg.DataDir, RecoveryConfFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear recovery settings: %w", err)
	}
	return nil
}

// PrepareArchiveDir creates the WAL archive directory, mode 0700, owned by
// the user PostgreSQL runs as: the server writes segments into it and reads
// them back during recovery; nobody else but root can read them.
func PrepareArchiveDir(dir string) error {
	owner, err := serverOwner()
	if err != nil {
		return fmt.Errorf("prepare WAL archive: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("prepare WAL archive: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("prepare WAL archive: %w", err)
	}
	if err := owner.give(dir); err != nil {
		return fmt.Errorf("prepare WAL archive: %w", err)
	}
	return owner.checkReachable(filepath.Join(dir, "x"))
}

// ArchiveSettings are the settings that archive every completed WAL segment
// into dir (PostgreSQL's continuous archiving): a segment already there is
// never overwritten, and a segment is switched at least every timeout so
// the archive is never far behind on a quiet tenant.
func ArchiveSettings(dir, timeout string) map[string]string {
	q := shellQuote(dir)
	return map[string]string{
		"archive_mode":    "on",
		"archive_command": "test ! -f " + q + "/%f && cp %p " + q + "/%f.tmp && mv " + q + "/%f.tmp " + q + "/%f",
		"archive_timeout": timeout,
	}
}

// RestoreCommand is the restore_command reading segments from dir.
func RestoreCommand(dir string) string {
	return "cp " + shellQuote(dir) + "/%f %p"
}

// shellQuote quotes s for /bin/sh, which runs archive and restore commands.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
