// Package platform applies supabase/platform: the roles, schemas, auth
// tables, Vault and publication that the supabase/postgres image, GoTrue and
// supabase_vault would create, so the tenant migrations run unchanged on an
// embedded cluster and on the official image.
package platform

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/supabase"
)

// Files returns the platform SQL files in the order they are applied.
func Files() ([]string, error) {
	names, err := fs.Glob(supabase.Platform(), "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list platform files: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// Apply runs every platform file, each in its own transaction, on the
// database conn is connected to. conn must be a superuser (supabase_admin).
// Every file is idempotent: applying the platform again changes nothing.
func Apply(ctx context.Context, conn *pgx.Conn) error {
	names, err := Files()
	if err != nil {
		return err
	}
	for _, name := range names {
		sql, err := fs.ReadFile(supabase.Platform(), name)
		if err != nil {
			return fmt.Errorf("apply platform: read %s: %w", name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// The simple protocol runs the whole file as one multi-statement query.
			_, err := tx.Conn().PgConn().Exec(ctx, string(sql)).ReadAll()
			return err
		})
		if err != nil {
			return fmt.Errorf("apply platform file %s: %w", name, err)
		}
	}
	return nil
}

// LoginRoles are the platform roles that log in, and so need a password.
var LoginRoles = []string{"supabase_admin", "postgres", "authenticator", "supabase_auth_admin", "supabase_replication_admin"}

// SetPasswords sets role passwords. Each password is turned into a SCRAM
// verifier here, so the server (and its logs) only ever see the verifier.
func SetPasswords(ctx context.Context, conn *pgx.Conn, passwords map[string]string) error {
	roles := make([]string, 0, len(passwords))
	for r := range passwords {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, role := range roles {
		v, err := ScramVerifier(passwords[role])
		if err != nil {
			return fmt.Errorf("set password of %s: %w", role, err)
		}
		// The verifier holds only base64, digits and "$:" characters; it is
		// quoted anyway.
		stmt := "alter role " + pgx.Identifier{role}.Sanitize() + " password '" + strings.ReplaceAll(v, "'", "''") + "'"
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("set password of %s: %w", role, err)
		}
	}
	return nil
}
