package env

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// QueueOptions are the inputs of `sfp env queue`.
type QueueOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project and the environment
	JSON  bool
}

// NewCmdQueue builds `sfp env queue`.
func NewCmdQueue(f *cmdutil.Factory, runF func(context.Context, *QueueOptions) error) *cobra.Command {
	opts := &QueueOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "queue NAME --project P",
		Short: "Show who holds an environment and who waits for it",
		Long:  `Show the ticket that holds the environment (position 0) and those waiting in line.`,
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return queueRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Lease{})
	return cmd
}

func queueRun(ctx context.Context, opts *QueueOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, needEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	q, err := c.Environments.Queue(ctx, t.Environment.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, q)
	}
	if len(q) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Nobody holds or waits for %s.\n", t.Environment.Name)
		return nil
	}
	tb := cmdutil.NewTable(opts.IO.Out, "POSITION", "TICKET", "STATUS", "LEASE", "REQUESTED", "EXPIRES", "REASON")
	for _, l := range q {
		tb.Row(position(&l), l.Ticket, l.Status, l.Lease, cmdutil.FormatTime(l.RequestedAt), cmdutil.FormatTimePtr(l.ExpiresAt), l.Reason)
	}
	return tb.Flush()
}
