package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// ShowOptions are the inputs of `sfp account show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the account: the argument, or the chosen one
	JSON  bool
}

// showJSON is the --json shape of `sfp account show`.
type showJSON struct {
	accountJSON
	Members []memberJSON `json:"members"`
}

// NewCmdShow builds `sfp account show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show [SLUG]",
		Short: "Show an account and its members",
		Long: `Show an account (by default the one commands act in), your role in it, and
its members. Viewers and above may.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Scope.Account = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", showJSON{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	a := t.Account
	members, err := c.Accounts.Members(ctx, a.ID)
	if err != nil {
		return err
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, showJSON{toJSON(a, cfg.Account), membersJSON(members)})
	}
	if err := cmdutil.PrintFields(opts.IO.Out, "Account", a.Slug, "Name", a.Name, "ID", a.ID, "Your role", string(a.Role),
		"Created", cmdutil.FormatTime(a.CreatedAt)); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out)
	return printMembers(opts.IO, members)
}
