package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// MemberAddOptions are the inputs of `sfp account member add`.
type MemberAddOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope
	User  string // email or user id
	Role  string
	JSON  bool
}

// NewCmdMemberAdd builds `sfp account member add`.
func NewCmdMemberAdd(f *cmdutil.Factory, runF func(context.Context, *MemberAddOptions) error) *cobra.Command {
	opts := &MemberAddOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "add EMAIL [--role viewer|member|owner]",
		Short: "Add a user to the account (owners)",
		Long: `Add a user, who must have signed up, to the account with a role (default
member); a user who is a member already gets the role. Owners only. An unknown
email exits 3.`,
		Example: `  sfp account member add dev@acme.test --role member`,
		Args:    cmdutil.ExactArgs(1, "give the user's email (or user id)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.User = args[0]
			if err := checkRole(opts.Role); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return memberAddRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.Role, "role", "member", "Role: viewer, member or owner")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", memberJSON{})
	return cmd
}

func memberAddRun(ctx context.Context, opts *MemberAddOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.Accounts.AddMember(ctx, t.Account.ID, opts.User, client.Role(opts.Role))
	if err != nil {
		return err
	}
	return printMemberChange(opts.IO, m, opts.User, t.Account.Slug, opts.JSON)
}

// printMemberChange reports a member's new role.
func printMemberChange(ios *cmdutil.IOStreams, m *client.Member, user, account string, asJSON bool) error {
	if m.Email == "" {
		m.Email = user
	}
	if asJSON {
		return cmdutil.WriteJSON(ios.Out, membersJSON([]client.Member{*m})[0])
	}
	fmt.Fprintf(ios.ErrOut, "%s is now %s of account %s.\n", m.Email, article(m.Role), account)
	return nil
}
