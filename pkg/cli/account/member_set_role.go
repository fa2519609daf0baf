package account

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// MemberSetRoleOptions are the inputs of `sfp account member set-role`.
type MemberSetRoleOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope
	User  string // email or user id
	Role  string
	JSON  bool
}

// NewCmdMemberSetRole builds `sfp account member set-role`.
func NewCmdMemberSetRole(f *cmdutil.Factory, runF func(context.Context, *MemberSetRoleOptions) error) *cobra.Command {
	opts := &MemberSetRoleOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "set-role EMAIL ROLE",
		Short: "Change a member's role (owners)",
		Long: `Change a member's role to viewer, member or owner. Owners only; the last owner
of an account cannot be demoted.`,
		Example: `  sfp account member set-role dev@acme.test viewer`,
		Args:    cmdutil.ExactArgs(2, "give the member's email (or user id) and the role: viewer, member or owner"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.User, opts.Role = args[0], args[1]
			if err := checkRole(opts.Role); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return memberSetRoleRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", memberJSON{})
	return cmd
}

func memberSetRoleRun(ctx context.Context, opts *MemberSetRoleOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Accounts.SetMemberRole(ctx, t.Account.ID, opts.User, client.Role(opts.Role))
	if err != nil {
		return err
	}
	return printMemberChange(opts.IO, m, opts.User, t.Account.Slug, opts.JSON)
}
