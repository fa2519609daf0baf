package integration

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// RemoveOptions are the inputs of `sfp integration remove`.
type RemoveOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the account, for an integration named by name
	Name  string        // name or id
	Yes   bool
}

// NewCmdRemove builds `sfp integration remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "remove NAME --yes",
		Short: "Remove an integration and its credentials (owners)",
		Long: `Delete an integration with its credentials. On a terminal it asks first;
otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return removeRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func removeRun(ctx context.Context, opts *RemoveOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, named(opts.Name))
	if err != nil {
		return err
	}
	defer c.Close()
	i, err := find(ctx, c, t, opts.Name)
	if err != nil {
		return err
	}
	if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Remove integration %s and its credentials?", i.Name)); err != nil {
		return err
	}
	if err := c.Integrations.Delete(ctx, i.ID); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Removed integration %s.\n", i.Name)
	return nil
}
