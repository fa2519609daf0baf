package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// ListOptions are the inputs of `sfp account list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	JSON bool
}

// NewCmdList builds `sfp account list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the accounts you belong to, with your role",
		Long: `List the accounts you belong to, with your role in each. A * in the CURRENT
column (current: true in JSON) marks the account chosen with 'sfp account use'.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []accountJSON{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	out := []accountJSON{}
	for a, err := range c.Accounts.All(ctx) {
		if err != nil {
			return err
		}
		out = append(out, toJSON(&a, cfg.Account))
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "You are not a member of any account. Create one with `sfp account create NAME`.")
		return nil
	}
	t := cmdutil.NewTable(opts.IO.Out, "CURRENT", "SLUG", "NAME", "ROLE", "CREATED")
	for _, a := range out {
		mark := " "
		if a.Current {
			mark = "*"
		}
		t.Row(mark, a.Slug, a.Name, a.Role, a.CreatedAt[:10])
	}
	return t.Flush()
}
