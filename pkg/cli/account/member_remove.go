package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// MemberRemoveOptions are the inputs of `sfp account member remove`.
type MemberRemoveOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope
	User  string // email or user id
}

// NewCmdMemberRemove builds `sfp account member remove`.
func NewCmdMemberRemove(f *cmdutil.Factory, runF func(context.Context, *MemberRemoveOptions) error) *cobra.Command {
	opts := &MemberRemoveOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a member (owners; anyone may remove themselves)",
		Long: `Remove a member from the account. Owners remove anyone but the last owner;
every member may remove themselves (leave the account).`,
		Args: cmdutil.ExactArgs(1, "give the member's email (or user id)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.User = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return memberRemoveRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	return cmd
}

func memberRemoveRun(ctx context.Context, opts *MemberRemoveOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Accounts.RemoveMember(ctx, t.Account.ID, opts.User); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Removed %s from account %s.\n", opts.User, t.Account.Slug)
	return nil
}
