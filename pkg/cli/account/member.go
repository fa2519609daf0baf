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
			CreatedAt: m.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")}
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

// MemberOptions are the inputs of the member commands.
type MemberOptions struct {
	IO      *cmdutil.IOStreams
	Account string
	User    string
	Role    string
	JSON    bool
}

func memberCmd(f *cmdutil.Factory, opts *MemberOptions, runF func(context.Context, *MemberOptions) error,
	run func(ctx context.Context, c *client.Client, a *client.Account) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.User = args[0]
		}
		if len(args) > 1 {
			opts.Role = args[1]
		}
		if opts.Role != "" {
			if _, err := client.ParseRole(opts.Role); err != nil {
				return cmdutil.FlagErrorf("--role must be viewer, member or owner, not %q", opts.Role)
			}
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return f.WithAccount(cmd.Context(), opts.Account, run)
	}
}

// NewCmdMemberAdd builds `sfp account member add`.
func NewCmdMemberAdd(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	opts := &MemberOptions{IO: f.IOStreams, Role: "member"}
	cmd := &cobra.Command{
		Use:     "add EMAIL [--role viewer|member|owner]",
		Short:   "Add a user to the account (owners)",
		Example: `  sfp account member add dev@acme.test --role member`,
		Args:    cmdutil.ExactArgs(1, "give the user's email (or user id)"),
		RunE: memberCmd(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			m, err := c.Accounts.AddMember(ctx, a.ID, opts.User, client.Role(opts.Role))
			if err != nil {
				return err
			}
			if m.Email == "" {
				m.Email = opts.User
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, membersJSON([]client.Member{*m})[0])
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s is now %s of account %s.\n", m.Email, article(m.Role), a.Slug)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Role, "role", "member", "Role: viewer, member or owner")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func article(r client.Role) string {
	if r == client.RoleOwner {
		return "an owner"
	}
	return "a " + string(r)
}

// NewCmdMemberList builds `sfp account member list`.
func NewCmdMemberList(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	opts := &MemberOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's members, owners first",
		Args:  cmdutil.NoArgs,
		RunE: memberCmd(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			ms, err := c.Accounts.Members(ctx, a.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, membersJSON(ms))
			}
			return printMembers(opts.IO, ms)
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdMemberSetRole builds `sfp account member set-role`.
func NewCmdMemberSetRole(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	opts := &MemberOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "set-role EMAIL ROLE",
		Short:   "Change a member's role (owners)",
		Example: `  sfp account member set-role dev@acme.test viewer`,
		Args:    cmdutil.ExactArgs(2, "give the member's email (or user id) and the role: viewer, member or owner"),
		RunE: memberCmd(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			m, err := c.Accounts.SetMemberRole(ctx, a.ID, opts.User, client.Role(opts.Role))
			if err != nil {
				return err
			}
			if m.Email == "" {
				m.Email = opts.User
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, membersJSON([]client.Member{*m})[0])
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s is now %s of account %s.\n", m.Email, article(m.Role), a.Slug)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdMemberRemove builds `sfp account member remove`.
func NewCmdMemberRemove(f *cmdutil.Factory, runF func(context.Context, *MemberOptions) error) *cobra.Command {
	opts := &MemberOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "remove EMAIL",
		Short: "Remove a member (owners; anyone may remove themselves)",
		Args:  cmdutil.ExactArgs(1, "give the member's email (or user id)"),
		RunE: memberCmd(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			if err := c.Accounts.RemoveMember(ctx, a.ID, opts.User); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "Removed %s from account %s.\n", opts.User, a.Slug)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	return cmd
}
