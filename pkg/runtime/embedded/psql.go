package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// PsqlOptions choose who psql acts as.
type PsqlOptions struct {
	// Role is "" (the superuser supabase_admin), or anon, authenticated or
	// service_role: psql then works inside a transaction with that role
	// and PostgREST's request.jwt.claims, so RLS applies as it does to API
	// requests; the transaction is rolled back when psql exits.
	Role string
	// User is the email of the user whose claims authenticated gets.
	User string
	// Args are passed to psql (e.g. -c "select …").
	Args []string
}

// PsqlCommand returns psql connected to the running tenant's database,
// and a cleanup to call after it has run. The password reaches psql in
// its environment, never on its command line.
func PsqlCommand(ctx context.Context, t *tenant.Tenant, opts PsqlOptions) (*exec.Cmd, func(), error) {
	cluster, err := postgres.New(ctx, postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port, LogFile: t.PostgresLog()})
	if err != nil {
		return nil, nil, err
	}
	if _, up := cluster.Pid(); !up {
		return nil, nil, fmt.Errorf("psql: the database of tenant %q is not running; start it with `sfp server start -t %s -d`", t.Name(), t.Name())
	}
	env := append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(t.Config.Postgres.Port), "PGUSER="+postgres.DefaultSuperUser,
		"PGDATABASE=postgres", "PGPASSWORD="+t.Secrets.PostgresPassword, "PGAPPNAME=sfp psql")
	cleanup := func() {}
	if opts.Role != "" {
		claims, err := psqlClaims(ctx, cluster.ConnString(postgres.DefaultSuperUser, t.Secrets.PostgresPassword, "postgres"), opts)
		if err != nil {
			return nil, nil, err
		}
		dir, err := os.MkdirTemp("", "sfp-psql-")
		if err != nil {
			return nil, nil, fmt.Errorf("psql: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		rc := filepath.Join(dir, "psqlrc")
		if err := os.WriteFile(rc, []byte(psqlrc(opts.Role, claims)), 0o600); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("psql: %w", err)
		}
		env = append(env, "PSQLRC="+rc)
	}
	cmd := exec.CommandContext(ctx, cluster.Config().Binaries.Path("psql"), opts.Args...)
	cmd.Env = env
	return cmd, cleanup, nil
}

// psqlClaims are the JWT claims PostgREST would see for the role (and user).
func psqlClaims(ctx context.Context, adminURL string, opts PsqlOptions) (string, error) {
	claims := map[string]any{"role": opts.Role}
	switch opts.Role {
	case "anon", "service_role":
		if opts.User != "" {
			return "", fmt.Errorf("psql: --user goes with --role authenticated, not %s", opts.Role)
		}
	case "authenticated":
		if opts.User == "" {
			return "", errors.New("psql: --role authenticated needs --user EMAIL (whose claims to use)")
		}
		conn, err := migrate.Connect(ctx, adminURL)
		if err != nil {
			return "", err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var id, email string
		err = conn.QueryRow(ctx, `select id::text, email from auth.users where lower(email) = lower($1)`, opts.User).Scan(&id, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("psql: no user with email %q", opts.User)
		}
		if err != nil {
			return "", fmt.Errorf("psql: look up user: %w", err)
		}
		claims["sub"], claims["email"], claims["aud"], claims["aal"] = id, email, "authenticated", "aal1"
	default:
		return "", fmt.Errorf("psql: --role %q is not anon, authenticated or service_role", opts.Role)
	}
	b, _ := json.Marshal(claims)
	return string(b), nil
}

// psqlrc opens the transaction psql then works in.
func psqlrc(role, claims string) string {
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return `\set QUIET on
\set ON_ERROR_ROLLBACK on
begin;
select set_config('role', ` + lit(role) + `, true), set_config('request.jwt.claims', ` + lit(claims) + `, true) \g /dev/null
\set QUIET off
\warn 'sfp: in a transaction as role ` + role + ` with request.jwt.claims ` + strings.ReplaceAll(claims, "'", "") + `; it is rolled back when psql exits.'
`
}
