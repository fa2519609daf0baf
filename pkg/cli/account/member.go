package account

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdMember builds `sfp account member`.
func NewCmdMember(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member <command>",
		Short: "Add, list, re-role and remove the members of an account",
		Long: `Owners add members, change their roles and remove them; every member may
list them and remove themselves. An account always keeps at least one owner.
Users are named by email (or user id); they must have signed up first.`,
	}
	cmd.AddCommand(NewCmdMemberAdd(f, nil), NewCmdMemberList(f, nil), NewCmdMemberSetRole(f, nil), NewCmdMemberRemove(f, nil))
	return cmd
}

// memberJSON is the --json shape of a member.
type memberJSON struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
}

func membersJSON(ms []client.Member) []memberJSON {
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{UserID: m.UserID, Email: m.Email, Role: string(m.Role),
			CreatedAt: jsonTime(m.CreatedAt)}
	}
	return out
}

func printMembers(ios *cmdutil.IOStreams, ms []client.Member) error {
	t := cmdutil.NewTable(ios.Out, "EMAIL", "ROLE", "USER ID", "SINCE")
	for _, m := range ms {
		t.Row(m.Email, string(m.Role), m.UserID, cmdutil.FormatTime(m.CreatedAt))
	}
	return t.Flush()
}

// checkRole refuses a role that is not viewer, member or owner.
func checkRole(role string) error {
	if _, err := client.ParseRole(role); err != nil {
		return cmdutil.FlagErrorf("--role must be viewer, member or owner, not %q", role)
	}
	return nil
}

func article(r client.Role) string {
	if r == client.RoleOwner {
		return "an owner"
	}
	return "a " + string(r)
}

// memberRole is what add and set-role name: a user of the account and the
// role to give them.
type memberRole struct {
	cmdutil.Deps

	Scope cmdutil.Scope
	User  string // email or user id
	Role  string
	JSON  bool
}

// register adds --account and --json, which prints the member.
func (mr *memberRole) register(cmd *cobra.Command) {
	mr.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &mr.JSON, "", memberJSON{})
}

// give gives the user the role in the account with set (AddMember or
// SetMemberRole, which return the member with the new role) and reports it.
func (mr *memberRole) give(ctx context.Context, set func(c *client.Client, accountID string) (*client.Member, error)) error {
	return mr.WithTarget(ctx, mr.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		m, err := set(c, t.Account.ID)
		if err != nil {
			return err
		}
		if m.Email == "" {
			m.Email = mr.User
		}
		if mr.JSON {
			return cmdutil.WriteJSON(mr.IO.Out, membersJSON([]client.Member{*m})[0])
		}
		fmt.Fprintf(mr.IO.ErrOut, "%s is now %s of account %s.\n", m.Email, article(m.Role), t.Account.Slug)
		return nil
	})
}

// MemberAddOptions are the inputs of `sfp account member add`.
type MemberAddOptions struct {
	memberRole
}

// NewCmdMemberAdd builds `sfp account member add`.
func NewCmdMemberAdd(f *cmdutil.Factory, runF func(context.Context, *MemberAddOptions) error) *cobra.Command {
	opts := &MemberAddOptions{memberRole{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "add EMAIL [--role viewer|member|owner]",
		Short: "Add a user to the account (owners)",
		Long: `Add a user, who must have signed up, to the account with a role (default
member); a user who is a member already gets the role. Owners only. An unknown
email exits 3.`,
		Example: `  sfp account member add dev@acme.test --role member`,
		Args:    cmdutil.ExactArgs(1, "give the user's email (or user id)"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.User = args[0]
			return checkRole(opts.Role)
		}, runF, memberAddRun),
	}
	opts.register(cmd)
	cmd.Flags().StringVar(&opts.Role, "role", "member", "Role: viewer, member or owner")
	return cmd
}

func memberAddRun(ctx context.Context, opts *MemberAddOptions) error {
	return opts.give(ctx, func(c *client.Client, accountID string) (*client.Member, error) {
		return c.Accounts.AddMember(ctx, accountID, opts.User, client.Role(opts.Role))
	})
}

// MemberListOptions are the inputs of `sfp account member list`.
type MemberListOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope
	JSON  bool
}

// NewCmdMemberList builds `sfp account member list`.
func NewCmdMemberList(f *cmdutil.Factory, runF func(context.Context, *MemberListOptions) error) *cobra.Command {
	opts := &MemberListOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's members, owners first",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, nil, runF, memberListRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []memberJSON{})
	return cmd
}

func memberListRun(ctx context.Context, opts *MemberListOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		ms, err := c.Accounts.Members(ctx, t.Account.ID)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, membersJSON(ms))
		}
		return printMembers(opts.IO, ms)
	})
}

// MemberSetRoleOptions are the inputs of `sfp account member set-role`.
type MemberSetRoleOptions struct {
	memberRole
}

// NewCmdMemberSetRole builds `sfp account member set-role`.
func NewCmdMemberSetRole(f *cmdutil.Factory, runF func(context.Context, *MemberSetRoleOptions) error) *cobra.Command {
	opts := &MemberSetRoleOptions{memberRole{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "set-role EMAIL ROLE",
		Short: "Change a member's role (owners)",
		Long: `Change a member's role to viewer, member or owner. Owners only; the last owner
of an account cannot be demoted.`,
		Example: `  sfp account member set-role dev@acme.test viewer`,
		Args:    cmdutil.ExactArgs(2, "give the member's email (or user id) and the role: viewer, member or owner"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.User, opts.Role = args[0], args[1]
			return checkRole(opts.Role)
		}, runF, memberSetRoleRun),
	}
	opts.register(cmd)
	return cmd
}

func memberSetRoleRun(ctx context.Context, opts *MemberSetRoleOptions) error {
	return opts.give(ctx, func(c *client.Client, accountID string) (*client.Member, error) {
		return c.Accounts.SetMemberRole(ctx, accountID, opts.User, client.Role(opts.Role))
	})
}

// MemberRemoveOptions are the inputs of `sfp account member remove`.
type MemberRemoveOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope
	User  string // email or user id
}

// NewCmdMemberRemove builds `sfp account member remove`.
func NewCmdMemberRemove(f *cmdutil.Factory, runF func(context.Context, *MemberRemoveOptions) error) *cobra.Command {
	opts := &MemberRemoveOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a member (owners; anyone may remove themselves)",
		Long: `Remove a member from the account. Owners remove anyone but the last owner;
every member may remove themselves (leave the account).`,
		Args: cmdutil.ExactArgs(1, "give the member's email (or user id)"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.User), runF, memberRemoveRun),
	}
	opts.Scope.AccountFlag(cmd)
	return cmd
}

func memberRemoveRun(ctx context.Context, opts *MemberRemoveOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		if err := c.Accounts.RemoveMember(ctx, t.Account.ID, opts.User); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Removed %s from account %s.\n", opts.User, t.Account.Slug)
		return nil
	})
}
