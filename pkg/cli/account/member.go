package account

import (
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
