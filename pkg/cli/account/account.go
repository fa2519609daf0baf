// Package account holds `sfp account`: accounts (teams) and their members.
package account

import (
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdAccount builds `sfp account`.
func NewCmdAccount(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account <command>",
		Short: "Create accounts, choose one and manage its members",
		Long: `Accounts are teams: every project, environment, deployment, integration and
document belongs to one. Roles are viewer (reads the account's data, never
credentials), member (also writes operational data) and owner (also manages
members, integrations and credentials, and deletes projects).

Commands that act inside an account take --account SLUG (or an id); without it
they use the account chosen with 'sfp account use', else your only account.
With several accounts and none chosen they list them and exit 2.`,
	}
	cmd.AddCommand(
		NewCmdCreate(f, nil),
		NewCmdList(f, nil),
		NewCmdShow(f, nil),
		NewCmdUse(f, nil),
		NewCmdMember(f),
	)
	return cmd
}

// accountJSON is the --json shape of an account.
type accountJSON struct {
	ID        string `json:"id"`
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Role      string `json:"role,omitempty"`
	Current   bool   `json:"current"`
	CreatedAt string `json:"created_at"`
}

func toJSON(a *client.Account, current string) accountJSON {
	return accountJSON{ID: a.ID, Slug: a.Slug, Name: a.Name, Role: string(a.Role), Current: a.Slug == current,
		CreatedAt: a.CreatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")}
}
