package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// CreateOptions are the inputs of `sfp account create`.
type CreateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Name string
	Slug string
	Use  bool
	JSON bool
}

// NewCmdCreate builds `sfp account create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "create NAME [--slug SLUG] [--use]",
		Short: "Create an account; you become its owner",
		Long: `Create an account and become its owner; anyone signed in may. The slug (its
short handle, used with --account) is printed on stdout; it defaults to the
name in lowercase with hyphens, and a name whose slug would be longer than 63
characters needs --slug. A taken slug exits 6.`,
		Example: `  sfp account create "Acme Corp"            # slug acme-corp
  sfp account create "Acme Corp" --slug acme --use`,
		Args: cmdutil.ExactArgs(1, "give the account's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Slug == "" {
				if _, err := cmdutil.SlugFromName(opts.Name); err != nil {
					return cmdutil.FlagErrorf("cannot derive a slug from the name: %v; pass --slug", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Slug, "slug", "", "Short handle: 1-63 lowercase letters, digits or hyphens (default: from the name)")
	cmd.Flags().BoolVar(&opts.Use, "use", false, "Also make it the current account (as 'sfp account use')")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", accountJSON{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	a, err := c.Accounts.Create(ctx, opts.Name, opts.Slug)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if opts.Use {
		cfg.Account = a.Slug
		if err := cfg.Save(); err != nil {
			return err
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, toJSON(a, cfg.Account))
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created account %s (%s); you are its owner.\n", a.Slug, a.Name)
	if opts.Use {
		fmt.Fprintf(opts.IO.ErrOut, "Commands now act in account %s.\n", a.Slug)
	}
	fmt.Fprintln(opts.IO.Out, a.Slug)
	return nil
}
