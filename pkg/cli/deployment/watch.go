package deployment

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// WatchOptions are the inputs of `sfp deployment watch`.
type WatchOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

	ID   string
	JSON bool
}

// NewCmdWatch builds `sfp deployment watch`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Follow a deployment live until it finishes",
		Long: `Follow a deployment over Realtime until it succeeds, fails or is cancelled: a
progress bar and status messages on a terminal, or with --json one JSON event
per line. Viewers may.

Exit code: 0 when it succeeded, 8 when it failed or was cancelled.`,
		Args: cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if err := cmdutil.CheckID("deployment", opts.ID); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return watchRun(cmd.Context(), opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "Stream JSON events, one per line", cmdutil.WatchEvent{})
	return cmd
}

func watchRun(ctx context.Context, opts *WatchOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	w, err := c.Deployments.Watch(ctx, opts.ID)
	if err != nil {
		return err
	}
	return cmdutil.FollowWatch(ctx, opts.IO, w, "deployment "+cmdutil.ShortID(opts.ID), opts.JSON)
}
