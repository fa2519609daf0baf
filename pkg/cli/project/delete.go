package project

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// DeleteOptions are the inputs of `sfp project delete`.
type DeleteOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project (the argument) and its account
	Yes   bool
}

// NewCmdDelete builds `sfp project delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "delete IDENTIFIER --yes",
		Short: "Delete a project and everything under it (owners)",
		Long: `Delete a project with its environments, builds, releases and deployments. On a
terminal it asks first; otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Project = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	p := t.Project
	if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete project %s with its environments, builds, releases and deployments?", p.Identifier)); err != nil {
		return err
	}
	if err := c.Projects.Delete(ctx, p.ID); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted project %s.\n", p.Identifier)
	return nil
}
