package integration

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// CredentialsDeleteOptions are the inputs of `sfp integration credentials delete`.
type CredentialsDeleteOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc // the service key's, else the user's
	Config cmdutil.ConfigFunc

	Scope   cmdutil.Scope // the account, for an integration named by name
	Name    string        // name or id
	Service cmdutil.ServiceFlags
}

// NewCmdCredentialsDelete builds `sfp integration credentials delete`.
func NewCmdCredentialsDelete(f *cmdutil.Factory, runF func(context.Context, *CredentialsDeleteOptions) error) *cobra.Command {
	opts := &CredentialsDeleteOptions{IO: f.IOStreams}
	opts.Client, opts.Config = f.WorkerOrUser(&opts.Service)
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an integration's credentials (owners, workers)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkWorker(f, &opts.Service, opts.Scope, opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credentialsDeleteRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Service.Register(cmd)
	return cmd
}

func credentialsDeleteRun(ctx context.Context, opts *CredentialsDeleteOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, named(opts.Name))
	if err != nil {
		return err
	}
	defer c.Close()
	i, err := find(ctx, c, t, opts.Name)
	if err != nil {
		return err
	}
	removed, err := c.Integrations.DeleteCredentials(ctx, i.ID)
	if err != nil {
		return err
	}
	if removed {
		fmt.Fprintf(opts.IO.ErrOut, "Deleted the credentials of %s.\n", i.Name)
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "%s had no credentials.\n", i.Name)
	}
	return nil
}
