package server

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ListOptions are the inputs of `sfp server list`.
type ListOptions struct {
	tenantJSONInputs // --base-dir and --json only: list is on the base directory
}

// NewCmdList builds `sfp server list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{tenantJSONInputs{tenantInputs: tenantInputs{IO: f.IOStreams}}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tenants in the base directory",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, nil, runF, withFactory(f, listRun)),
	}
	opts.Flags.registerBaseDir(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", nil)
	return cmd
}

// listRun lists the tenants of the base directory.
func listRun(ctx context.Context, f *cmdutil.Factory, opts *ListOptions) error {
	base, err := opts.Flags.resolve(f, false)
	if err != nil {
		return err
	}
	ts, errs := tenant.List(base)
	for _, e := range errs {
		fmt.Fprintln(opts.IO.ErrOut, "warning:", e)
	}
	out := []tenantJSON{}
	for _, t := range ts {
		out = append(out, describe(ctx, f, t))
	}
	return cmdutil.PrintItems(opts.IO, opts.JSON, out,
		fmt.Sprintf("No tenants in %s; create one with `sfp server init -t NAME`.", base),
		[]string{"NAME", "RUNTIME", "STATE", "URL"}, func(t tenantJSON) []string {
			state := "stopped"
			if t.Running {
				state = "running"
				if t.PID > 0 {
					state = fmt.Sprintf("running (pid %d)", t.PID)
				}
			}
			return []string{t.Tenant, t.Runtime, state, t.URL}
		})
}
