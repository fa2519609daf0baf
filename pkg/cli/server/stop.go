package server

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// StopOptions are the inputs of `sfp server stop`.
type StopOptions struct {
	tenantInputs
}

// NewCmdStop builds `sfp server stop`.
func NewCmdStop(f *cmdutil.Factory, runF func(context.Context, *StopOptions) error) *cobra.Command {
	opts := &StopOptions{}
	cmd := &cobra.Command{
		Use:   "stop -t NAME",
		Short: "Stop a running tenant",
		Long: `Stop a running tenant: its sfp process drains requests, closes WebSockets
with a reason and stops PostgreSQL cleanly. A PostgreSQL server left running by
a killed sfp process is stopped too. A tenant that is not running: says so,
exit code 0.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, onRuntime(f, stopRun)),
	}
	opts.register(f, cmd)
	return cmd
}

// stopRun stops the tenant the flags name, saying whether it ran.
func stopRun(ctx context.Context, opts *StopOptions, t *tenant.Tenant, rt runtime.Runtime) error {
	stopped, err := rt.Stop(ctx, t)
	if err != nil {
		return err
	}
	if stopped {
		fmt.Fprintf(opts.IO.ErrOut, "Stopped tenant %q.\n", t.Name())
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "Tenant %q is not running.\n", t.Name())
	}
	return nil
}
