package server

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// PsqlOptions are the inputs of `sfp server psql`.
type PsqlOptions struct {
	tenantInputs

	Role string
	User string
	Args []string
}

// NewCmdPsql builds `sfp server psql`.
func NewCmdPsql(f *cmdutil.Factory, runF func(context.Context, *PsqlOptions) error) *cobra.Command {
	opts := &PsqlOptions{}
	cmd := &cobra.Command{
		Use:   "psql -t NAME [--role ROLE [--user EMAIL]] [-- PSQL-ARGS...]",
		Short: "Open psql on a tenant's database",
		Long: `Open psql on the running tenant's database as the superuser (supabase_admin):
the administrator's direct door, since the embedded runtime has no Studio.

With --role anon, authenticated or service_role, psql works inside a
transaction that sets the role and request.jwt.claims as PostgREST does for an
API request (authenticated takes the claims of --user EMAIL), so row-level
security applies as it does to that caller. The transaction is rolled back when
psql exits; each statement runs under a savepoint, so an error does not end it.

Arguments after -- go to psql.`,
		Example: `  sfp server psql -t acme
  sfp server psql -t acme --role authenticated --user ada@example.com
  sfp server psql -t acme -- -c 'select count(*) from auth.users'`,
		RunE: cmdutil.RunArgsE(opts, opts.parse, runF, onTenant(f, psqlRun)),
	}
	opts.register(f, cmd)
	cmd.Flags().StringVar(&opts.Role, "role", "", "Act as anon, authenticated or service_role (inside a rolled-back transaction)")
	cmd.Flags().StringVar(&opts.User, "user", "", "With --role authenticated: the email of the user whose claims to use")
	return cmd
}

// parse takes psql's own arguments and checks --role (--user implies
// authenticated).
func (opts *PsqlOptions) parse(_ *cobra.Command, args []string) error {
	opts.Args = args
	if opts.User != "" && opts.Role == "" {
		opts.Role = "authenticated"
	}
	switch opts.Role {
	case "", "anon", "authenticated", "service_role":
	default:
		return cmdutil.FlagErrorf("--role: %q is not anon, authenticated or service_role", opts.Role)
	}
	return nil
}

// psqlRun opens psql on the tenant the flags name.
func psqlRun(ctx context.Context, f *cmdutil.Factory, opts *PsqlOptions, t *tenant.Tenant) error {
	if t.Config.Runtime != tenant.RuntimeEmbedded {
		return fmt.Errorf("psql: tenant %q runs on the %s runtime; use `docker compose exec db psql -U supabase_admin postgres` in its directory (docs/backups.md)", t.Name(), t.Config.Runtime)
	}
	cmd, cleanup, err := embedded.PsqlCommand(ctx, t, embedded.PsqlOptions{Role: opts.Role, User: opts.User, Args: opts.Args})
	if err != nil {
		return err
	}
	defer cleanup()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &cmdutil.ExitError{Code: ee.ExitCode()}
		}
		return fmt.Errorf("psql: %w", err)
	}
	return nil
}
