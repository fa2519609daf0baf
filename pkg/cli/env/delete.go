package env

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// DeleteOptions are the inputs of `sfp env delete`.
type DeleteOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project and the environment
	Yes   bool
}

// NewCmdDelete builds `sfp env delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "delete NAME --project P --yes",
		Short: "Delete an environment and its deployments (members and owners)",
		Long: `Delete an environment with its deployments. On a terminal it asks first;
otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, needEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete environment %s of %s and its deployments?", t.Environment.Name, t.Project.Identifier)); err != nil {
		return err
	}
	if err := c.Environments.Delete(ctx, t.Environment.ID); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted environment %s of %s.\n", t.Environment.Name, t.Project.Identifier)
	return nil
}
