package deployment

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of `sfp deployment show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

	ID   string
	JSON bool
}

// NewCmdShow builds `sfp deployment show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a deployment",
		Args:  cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if err := cmdutil.CheckID("deployment", opts.ID); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Deployment{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.Deployments.Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	return printDeployment(opts.IO, d)
}
