package server

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
)

// UpdateOptions are the inputs of `sfp server update`.
type UpdateOptions struct {
	tenantJSONInputs
}

// NewCmdUpdate builds `sfp server update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{}
	cmd := &cobra.Command{
		Use:   "update -t NAME",
		Short: "Stop a tenant, apply pending migrations, start it again",
		Long: `Stop the tenant's services, apply the migrations this binary has that the
database lacks, and start the services again (in the background) — how a tenant
moves to a new sfp release. If a migration fails it is rolled back whole, the
services come back on the schema as it was, and the failure is shown.

A docker tenant also gets this release's images and gateway configuration. If
its database is of another PostgreSQL major version than this release's db
image (a tenant created on PostgreSQL 15, say), nothing is changed and the
message says how to pin the old image or upgrade (docs/postgres-upgrade.md).`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, withFactory(f, updateRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	return cmd
}

// updateRun updates the tenant the flags name and reports the migrations
// applied (with --json, also when the update failed).
func updateRun(ctx context.Context, f *cmdutil.Factory, opts *UpdateOptions) error {
	base, err := opts.Flags.resolve(f, true)
	if err != nil {
		return err
	}
	t, err := loadTenant(f, &opts.Flags)
	if err != nil {
		return err
	}
	rt, err := runtimeFor(f, t, embedded.Options{ChildArgs: opts.Flags.childArgs(base)})
	if err != nil {
		return err
	}
	res, uerr := rt.Update(ctx, t, runtime.UpdateOptions{Progress: progressTo(opts.IO)})
	if res != nil {
		applied := []migrationJSON{}
		for _, m := range res.Applied {
			applied = append(applied, migrationJSON{m.Version, m.Name})
		}
		if opts.JSON {
			out := struct {
				Applied    []migrationJSON `json:"applied"`
				WasRunning bool            `json:"was_running"`
				Restarted  bool            `json:"restarted"`
				Error      string          `json:"error,omitempty"`
			}{applied, res.WasRunning, res.Restarted, ""}
			if uerr != nil {
				out.Error = uerr.Error()
			}
			cmdutil.WriteJSON(opts.IO.Out, out)
		} else {
			if len(applied) == 0 && uerr == nil {
				fmt.Fprintln(opts.IO.ErrOut, "The schema was up to date; nothing applied.")
			}
			for _, m := range res.Applied {
				fmt.Fprintf(opts.IO.ErrOut, "Applied %s_%s\n", m.Version, m.Name)
			}
			if res.Restarted {
				fmt.Fprintf(opts.IO.ErrOut, "Tenant %q is running again.\n", t.Name())
			}
		}
	}
	return uerr
}
