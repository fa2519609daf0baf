package account

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// MemberListOptions are the inputs of `sfp account member list`.
type MemberListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope
	JSON  bool
}

// NewCmdMemberList builds `sfp account member list`.
func NewCmdMemberList(f *cmdutil.Factory, runF func(context.Context, *MemberListOptions) error) *cobra.Command {
	opts := &MemberListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's members, owners first",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return memberListRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []memberJSON{})
	return cmd
}

func memberListRun(ctx context.Context, opts *MemberListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	ms, err := c.Accounts.Members(ctx, t.Account.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, membersJSON(ms))
	}
	return printMembers(opts.IO, ms)
}
