package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// UseOptions are the inputs of `sfp account use`.
type UseOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Account string
}

// NewCmdUse builds `sfp account use`.
func NewCmdUse(f *cmdutil.Factory, runF func(context.Context, *UseOptions) error) *cobra.Command {
	opts := &UseOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	return &cobra.Command{
		Use:   "use SLUG",
		Short: "Choose the account later commands act in",
		Long: `Choose the account that commands act in when they are not given --account. The
choice is kept in the configuration directory with the session; logging in as
another user or to another server forgets it.`,
		Args: cmdutil.ExactArgs(1, "give the account's slug"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Account = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return useRun(cmd.Context(), opts)
		},
	}
}

func useRun(ctx context.Context, opts *UseOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	a, err := c.Accounts.Get(ctx, opts.Account)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	cfg.Account = a.Slug
	if err := cfg.Save(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Commands now act in account %s (your role: %s).\n", a.Slug, a.Role)
	return nil
}
