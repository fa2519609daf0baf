package server

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// LogsOptions are the inputs of `sfp server logs`.
type LogsOptions struct {
	tenantInputs

	Follow bool
	Tail   int
	Source string
}

// NewCmdLogs builds `sfp server logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs -t NAME [-f] [--tail N]",
		Short: "Print a tenant's logs",
		Long: `Print the log of a tenant's sfp process (written when it runs detached), or
with --source postgres the PostgreSQL server log. On the docker runtime --source
names a compose service.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.validate, runF, onRuntime(f, logsRun)),
	}
	opts.register(f, cmd)
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "Keep printing new lines")
	cmd.Flags().IntVar(&opts.Tail, "tail", 0, "Print only the last N lines")
	cmd.Flags().StringVar(&opts.Source, "source", "", "Which log: sfp (default) or postgres; docker: a service")
	return cmd
}

// validate checks the flags before anything runs.
func (opts *LogsOptions) validate() error {
	if opts.Tail < 0 {
		return cmdutil.FlagErrorf("--tail must not be negative")
	}
	return nil
}

// logsRun prints the log of the tenant the flags name.
func logsRun(ctx context.Context, opts *LogsOptions, t *tenant.Tenant, rt runtime.Runtime) error {
	return rt.Logs(ctx, t, runtime.LogOptions{Follow: opts.Follow, Tail: opts.Tail, Source: opts.Source}, opts.IO.Out)
}
