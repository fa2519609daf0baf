package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// StartOptions are the inputs of `sfp server start`.
type StartOptions struct {
	tenantJSONInputs

	Detach bool
	// child and noMigrate are set by the detached parent.
	child, noMigrate bool
}

// NewCmdStart builds `sfp server start`.
func NewCmdStart(f *cmdutil.Factory, runF func(context.Context, *StartOptions) error) *cobra.Command {
	opts := &StartOptions{}
	cmd := &cobra.Command{
		Use:   "start -t NAME [--detach]",
		Short: "Start a tenant (creating it on first use)",
		Long: `Start a tenant. On the embedded runtime the first start creates the PostgreSQL
cluster, applies the platform SQL and the migrations, creates the credentials
key and the admin user; later starts apply pending migrations. Then auth, REST,
realtime and the gateway serve on the tenant's API URL.

In the foreground it runs until Ctrl-C (SIGINT) or SIGTERM, then drains requests
and stops everything cleanly. With --detach it runs in the background, with a
pid file and a log file under the tenant directory.

A tenant that does not exist yet is created with default settings first
(embedded runtime; see 'sfp server init' for the options). A tenant already
running, or a port another process holds, is a clear error.

--json prints, once the tenant is ready: {tenant, runtime, url, pid, env_file,
log_file, started_at, applied_migrations}.`,
		Example: `  sfp server start -t dev
  sfp server start -t acme --detach --json`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, withFactory(f, startRun)),
	}
	cmd.Flags().BoolVarP(&opts.Detach, "detach", "d", false, "Run in the background")
	opts.registerJSON(f, cmd, "Print the tenant's details as JSON once it is ready", nil)
	cmd.Flags().BoolVar(&opts.child, embedded.ChildFlag[2:], false, "internal: the detached process")
	cmd.Flags().BoolVar(&opts.noMigrate, "no-migrate", false, "internal: start without applying pending migrations")
	cmd.Flags().MarkHidden(embedded.ChildFlag[2:])
	cmd.Flags().MarkHidden("no-migrate")
	return cmd
}

func startRun(ctx context.Context, f *cmdutil.Factory, opts *StartOptions) error {
	base, err := opts.Flags.resolve(f, true)
	if err != nil {
		return err
	}
	t, err := tenant.Load(base, opts.Flags.Tenant)
	if errors.Is(err, tenant.ErrNotFound) && !opts.child {
		t, err = tenant.Create(base, tenant.CreateOptions{Name: opts.Flags.Tenant, Now: f.Now()})
		if err == nil {
			fmt.Fprintf(opts.IO.ErrOut, "• Created tenant %q in %s\n", t.Name(), t.Dir)
		}
	}
	if err != nil {
		return err
	}
	rt, err := runtimeFor(f, t, embedded.Options{ChildArgs: opts.Flags.childArgs(base), SkipMigrations: opts.noMigrate})
	if err != nil {
		return err
	}
	return rt.Start(ctx, t, runtime.StartOptions{
		Detach:   opts.Detach && !opts.child,
		Progress: progressTo(opts.IO),
		Ready: func(info runtime.Info) {
			if opts.JSON {
				cmdutil.WriteJSON(opts.IO.Out, info)
				return
			}
			printReady(opts, t, info)
		},
	})
}

func printReady(opts *StartOptions, t *tenant.Tenant, info runtime.Info) {
	w := opts.IO.ErrOut
	fmt.Fprintf(w, "\nTenant %q is ready.\n", t.Name())
	fmt.Fprintf(w, "  API URL:  %s\n", info.URL)
	fmt.Fprintf(w, "  Keys:     sfp server keys -t %s   (stored in %s)\n", t.Name(), info.EnvFile)
	if t.Config.Admin.Email != "" {
		fmt.Fprintf(w, "  Log in:   sfp login -t %s --email %s\n", t.Name(), t.Config.Admin.Email)
	} else {
		fmt.Fprintf(w, "  Sign up:  sfp signup -t %s --email you@example.com   (then: sfp account create NAME)\n", t.Name())
	}
	if opts.Detach {
		fmt.Fprintf(w, "  Logs:     sfp server logs -t %s -f\n  Stop:     sfp server stop -t %s\n", t.Name(), t.Name())
	} else if !opts.child {
		fmt.Fprintln(w, "Press Ctrl-C to stop.")
	}
}
