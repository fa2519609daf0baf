package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Connect opens the one connection a migration run uses. The error names
// the host and user, never the password.
func Connect(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", redact(err, dbURL))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s@%s:%d/%s: %w", cfg.User, cfg.Host, cfg.Port, cfg.Database, redact(err, dbURL))
	}
	return conn, nil
}

// redact removes the URL's password from an error message.
func redact(err error, dbURL string) error {
	u, perr := url.Parse(dbURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, pw, "xxxxx"))
}

const (
	hasInitKey = `select to_regprocedure('public.init_credentials_key()') is not null`
	initKey    = `select public.init_credentials_key()`
)

// ErrNoInitKeyFunction is returned by InitCredentialsKey when the schema
// has no init_credentials_key() (the migrations were not applied).
var ErrNoInitKeyFunction = errors.New("the database has no public.init_credentials_key(); apply the migrations first")

// InitCredentialsKey calls init_credentials_key() as service_role, as a
// worker would, creating the credentials encryption key in Vault if it does
// not exist yet. It reports whether it created it; the key itself never
// leaves the database.
func InitCredentialsKey(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, hasInitKey).Scan(&exists); err != nil {
		return false, fmt.Errorf("init credentials key: %w", err)
	}
	if !exists {
		return false, fmt.Errorf("init credentials key: %w", ErrNoInitKeyFunction)
	}
	var created bool
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local role service_role"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, initKey).Scan(&created)
	})
	if err != nil {
		return false, fmt.Errorf("init credentials key: %w", err)
	}
	return created, nil
}
