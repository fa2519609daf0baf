package embedded

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/platform"
	"github.com/sfp-dev/sfp/supabase"
)

// BootstrapOptions change Bootstrap.
type BootstrapOptions struct {
	// Passwords of the login roles (tenant.Secrets.RolePasswords).
	Passwords map[string]string
	// Migrations to apply; nil means the ones embedded in the binary.
	Migrations fs.FS
	// StampFile, if set, records that the platform SQL of this binary was
	// applied to this cluster, so later starts skip it.
	StampFile string
	// SkipMigrations applies the platform only.
	SkipMigrations bool
	Progress       func(string)
	trace          *startTrace
}

// BootstrapResult reports what Bootstrap did.
type BootstrapResult struct {
	PlatformApplied bool
	Applied         []migrate.Migration
	KeyCreated      bool
}

// Bootstrap prepares a tenant database the way the embedded runtime's start
// does: the platform SQL (roles, auth, vault, publication) and role
// passwords when this binary's platform was not applied to this cluster yet,
// then pending migrations, then init_credentials_key() as service_role.
// conn is a superuser (supabase_admin) connection to the tenant database.
//
// Its transactions commit without waiting for their WAL to reach the disk
// (synchronous_commit off for this session), and one synchronous commit at
// the end makes all of them durable at once before Bootstrap returns, also
// when it fails: a first start commits about twenty transactions (each
// platform file, each role password, each migration), and waiting for a
// WAL flush after each was a good part of a cold start. A crash in between
// loses only whole transactions at the end — each file with its history
// row — which the next start applies again; the platform stamp file is
// written only after the flush.
func Bootstrap(ctx context.Context, conn *pgx.Conn, opts BootstrapOptions) (res *BootstrapResult, err error) {
	if _, err := conn.Exec(ctx, "set synchronous_commit = off"); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	var stamp string
	defer func() {
		// Nothing written (a warm start): nothing to flush, and no
		// transaction that would wait for the disk.
		wrote := err != nil || res == nil || res.PlatformApplied || len(res.Applied) > 0 || res.KeyCreated
		if !wrote {
			_, err = conn.Exec(context.WithoutCancel(ctx), "reset synchronous_commit")
			return
		}
		if ferr := flushCommits(ctx, conn); ferr != nil {
			err = errors.Join(err, ferr)
			return
		}
		if err == nil && stamp != "" && opts.StampFile != "" {
			if werr := os.WriteFile(opts.StampFile, []byte(stamp+"\n"), 0o600); werr != nil {
				err = fmt.Errorf("record platform stamp: %w", werr)
			}
		}
	}()
	res = &BootstrapResult{}
	if stamp, err = applyPlatform(ctx, conn, opts, res); err != nil {
		return nil, err
	}
	if opts.SkipMigrations {
		return res, nil
	}
	return res, applyMigrations(ctx, conn, opts, res)
}

// flushCommits ends the bootstrap's asynchronous commits: one transaction
// that commits synchronously flushes the WAL up to its commit record, so
// every transaction committed before it is on disk when it returns.
func flushCommits(ctx context.Context, conn *pgx.Conn) error {
	ctx = context.WithoutCancel(ctx)
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// A transaction id makes the commit write (and flush) a record.
		_, err := tx.Exec(ctx, "set local synchronous_commit = on; select pg_catalog.pg_current_xact_id()")
		return err
	})
	if err == nil {
		_, err = conn.Exec(ctx, "reset synchronous_commit")
	}
	if err != nil {
		return fmt.Errorf("bootstrap: flush commits to disk: %w", err)
	}
	return nil
}

// applyPlatform applies the platform SQL and role passwords unless the
// stamp file says this binary's platform is on this cluster already. It
// returns the stamp to record once the commits are durable ("" when there
// is nothing to record).
func applyPlatform(ctx context.Context, conn *pgx.Conn, opts BootstrapOptions, res *BootstrapResult) (string, error) {
	done := opts.trace.phase("platform stamp")
	stamp, err := platformStamp(ctx, conn)
	if err != nil {
		return "", err
	}
	done()
	if opts.StampFile != "" && readStamp(opts.StampFile) == stamp {
		return "", nil
	}
	opts.progress("Applying platform SQL (roles, auth, vault, realtime publication)")
	done = opts.trace.phase("platform SQL and role passwords")
	if err := platform.Apply(ctx, conn); err != nil {
		return "", err
	}
	if err := platform.SetPasswords(ctx, conn, opts.Passwords); err != nil {
		return "", err
	}
	res.PlatformApplied = true
	done()
	return stamp, nil
}

// applyMigrations applies the pending migrations and creates the
// credentials key.
func applyMigrations(ctx context.Context, conn *pgx.Conn, opts BootstrapOptions, res *BootstrapResult) error {
	fsys := opts.Migrations
	if fsys == nil {
		fsys = supabase.Migrations()
	}
	done := opts.trace.phase("migrations (check and apply)")
	runner, err := migrate.NewRunner(fsys, nil)
	if err != nil {
		return err
	}
	res.Applied, err = runner.Apply(ctx, conn, migrate.Options{OnApply: func(m migrate.Migration) {
		opts.progress("Applying migration " + m.File)
	}})
	if err != nil {
		return err
	}
	done()
	done = opts.trace.phase("credentials key")
	created, err := migrate.InitCredentialsKey(ctx, conn)
	done()
	switch {
	case err == nil:
		res.KeyCreated = created
		if created {
			opts.progress("Created the credentials encryption key in Vault")
		}
	case errors.Is(err, migrate.ErrNoInitKeyFunction):
		// A schema without credentials (tests with their own migrations).
	default:
		return err
	}
	return nil
}

func (o BootstrapOptions) progress(step string) {
	if o.Progress != nil {
		o.Progress(step)
	}
}

// platformStamp identifies "this binary's platform SQL on this cluster": the
// cluster's system identifier and a hash of the platform files. A new
// cluster or a binary with changed platform SQL gets a different stamp.
func platformStamp(ctx context.Context, conn *pgx.Conn) (string, error) {
	var sysid string
	if err := conn.QueryRow(ctx, `select system_identifier::text from pg_control_system()`).Scan(&sysid); err != nil {
		return "", fmt.Errorf("read cluster identifier: %w", err)
	}
	h := sha256.New()
	names, err := platform.Files()
	if err != nil {
		return "", err
	}
	for _, n := range names {
		b, err := fs.ReadFile(supabase.Platform(), n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return sysid + " " + hex.EncodeToString(h.Sum(nil)), nil
}

func readStamp(path string) string {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
