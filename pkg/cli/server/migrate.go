package server

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

// MigrateOptions are the inputs of `sfp server migrate`.
type MigrateOptions struct {
	IO     *cmdutil.IOStreams
	DBURL  string
	DryRun bool
	JSON   bool
	// InitKey calls init_credentials_key() as service_role after migrating
	// (what the docker runtime's migrations container does).
	InitKey bool
}

// NewCmdMigrate builds `sfp server migrate`. runF replaces the run function
// in tests.
func NewCmdMigrate(f *cmdutil.Factory, runF func(context.Context, *MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "migrate --db-url URL [--dry-run]",
		Short: "Apply the tenant schema migrations to a database",
		Long: `Apply the migrations embedded in this binary (supabase/migrations) to a
PostgreSQL database, in order, each file in its own transaction, recording them
in supabase_migrations.schema_migrations as the Supabase CLI does.

The database must already have what the supabase/postgres image provides
(roles, the auth and vault schemas): an embedded tenant's cluster, a docker
tenant's db service, or a hosted Supabase project. Connect as a superuser
(supabase_admin, or postgres on hosted Supabase).

Concurrent runners take turns on an advisory lock; re-running applies nothing;
a database holding versions this binary does not know (migrated by a newer
sfp) is refused. A failing migration is rolled back whole and reported with
its file, statement, position and PostgreSQL's error.`,
		Example: `  sfp server migrate --db-url postgres://supabase_admin:PASSWORD@127.0.0.1:54322/postgres
  SFP_DB_URL=postgres://… sfp server migrate --dry-run
  sfp server migrate status --db-url postgres://… --json`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, func() error { return resolveDBURL(f, &opts.DBURL) }, runF, migrateRun),
	}
	cmd.PersistentFlags().StringVar(&opts.DBURL, "db-url", "", "PostgreSQL connection URL (env SFP_DB_URL)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "List the migrations that would be applied, change nothing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	cmd.Flags().BoolVar(&opts.InitKey, "init-key", false, "Then create the credentials encryption key in Vault if absent (calls init_credentials_key() as service_role)")
	cmd.AddCommand(newCmdMigrateStatus(f, opts, nil))
	return cmd
}

func resolveDBURL(f *cmdutil.Factory, dbURL *string) error {
	if *dbURL == "" {
		*dbURL = f.Getenv("SFP_DB_URL")
	}
	if *dbURL == "" {
		return cmdutil.FlagErrorf("a database is required: pass --db-url URL or set SFP_DB_URL")
	}
	return nil
}

// openMigrations reads the migrations embedded in this binary and connects
// to the database they are for. The caller closes the connection.
func openMigrations(ctx context.Context, dbURL string) (*migrate.Runner, *pgx.Conn, error) {
	runner, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		return nil, nil, err
	}
	conn, err := migrate.Connect(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	return runner, conn, nil
}

type migrationJSON struct {
	Version string `json:"version"`
	Name    string `json:"name"`
}

func migrateRun(ctx context.Context, opts *MigrateOptions) error {
	runner, conn, err := openMigrations(ctx, opts.DBURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	applied, err := runner.Apply(ctx, conn, migrate.Options{
		DryRun: opts.DryRun,
		OnApply: func(m migrate.Migration) {
			fmt.Fprintf(opts.IO.ErrOut, "Applying migration %s…\n", m.File)
		},
	})
	if err != nil {
		if len(applied) > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "%d migration(s) applied before the failure.\n", len(applied))
		}
		return err
	}
	var keyCreated *bool
	if opts.InitKey && !opts.DryRun {
		created, err := migrate.InitCredentialsKey(ctx, conn)
		if err != nil {
			return err
		}
		keyCreated = &created
		if created {
			fmt.Fprintln(opts.IO.ErrOut, "Created the credentials encryption key in Vault.")
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "The credentials encryption key already exists.")
		}
	}
	if opts.JSON {
		out := struct {
			DryRun     bool            `json:"dry_run"`
			Applied    []migrationJSON `json:"applied"`
			KeyCreated *bool           `json:"credentials_key_created,omitempty"`
		}{DryRun: opts.DryRun, Applied: []migrationJSON{}, KeyCreated: keyCreated}
		for _, m := range applied {
			out.Applied = append(out.Applied, migrationJSON{m.Version, m.Name})
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	switch {
	case opts.DryRun && len(applied) == 0:
		fmt.Fprintln(opts.IO.ErrOut, "The database is up to date; nothing would be applied.")
	case opts.DryRun:
		fmt.Fprintf(opts.IO.ErrOut, "Would apply %d migration(s):\n", len(applied))
		for _, m := range applied {
			fmt.Fprintln(opts.IO.Out, m.File)
		}
	case len(applied) == 0:
		fmt.Fprintln(opts.IO.ErrOut, "The database is up to date.")
	default:
		fmt.Fprintf(opts.IO.ErrOut, "Applied %d migration(s).\n", len(applied))
	}
	return nil
}

func newCmdMigrateStatus(f *cmdutil.Factory, parent *MigrateOptions, runF func(context.Context, *MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "status --db-url URL",
		Short: "List applied and pending migrations",
		Args:  cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, func() error {
			opts.DBURL = parent.DBURL
			return resolveDBURL(f, &opts.DBURL)
		}, runF, migrateStatusRun),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func migrateStatusRun(ctx context.Context, opts *MigrateOptions) error {
	runner, conn, err := openMigrations(ctx, opts.DBURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	status, err := runner.Status(ctx, conn)
	if err != nil {
		return err
	}
	if opts.JSON {
		if status == nil {
			status = []migrate.VersionStatus{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, status)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE")
	for _, s := range status {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Version, s.Name, s.State)
	}
	return tw.Flush()
}
