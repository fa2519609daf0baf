package project

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of `sfp project show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project (the argument) and its account
	JSON  bool
}

// NewCmdShow builds `sfp project show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show IDENTIFIER|ID",
		Short: "Show a project",
		Long:  `Show a project, with its version (for 'sfp project update --if-version').`,
		Args:  cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Project = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, t.Project)
	}
	return printProject(opts.IO, t.Project)
}
