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
func Bootstrap(ctx context.Context, conn *pgx.Conn, opts BootstrapOptions) (*BootstrapResult, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res := &BootstrapResult{}
	tr := opts.trace
	done := tr.phase("platform stamp")
	stamp, err := platformStamp(ctx, conn)
	if err != nil {
		return nil, err
	}
	done()
	if opts.StampFile == "" || readStamp(opts.StampFile) != stamp {
		progress("Applying platform SQL (roles, auth, vault, realtime publication)")
		done := tr.phase("platform SQL and role passwords")
		if err := platform.Apply(ctx, conn); err != nil {
			return nil, err
		}
		if err := platform.SetPasswords(ctx, conn, opts.Passwords); err != nil {
			return nil, err
		}
		res.PlatformApplied = true
		done()
		if opts.StampFile != "" {
			if err := os.WriteFile(opts.StampFile, []byte(stamp+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("record platform stamp: %w", err)
			}
		}
	}
	if opts.SkipMigrations {
		return res, nil
	}
	fsys := opts.Migrations
	if fsys == nil {
		fsys = supabase.Migrations()
	}
	done = tr.phase("migrations (check and apply)")
	runner, err := migrate.NewRunner(fsys, nil)
	if err != nil {
		return nil, err
	}
	res.Applied, err = runner.Apply(ctx, conn, migrate.Options{OnApply: func(m migrate.Migration) {
		progress("Applying migration " + m.File)
	}})
	if err != nil {
		return res, err
	}
	done()
	done = tr.phase("credentials key")
	created, err := migrate.InitCredentialsKey(ctx, conn)
	done()
	switch {
	case err == nil:
		res.KeyCreated = created
		if created {
			progress("Created the credentials encryption key in Vault")
		}
	case errors.Is(err, migrate.ErrNoInitKeyFunction):
		// A schema without credentials (tests with their own migrations).
	default:
		return res, err
	}
	return res, nil
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
