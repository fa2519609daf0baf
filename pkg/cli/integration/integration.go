// Package integration holds `sfp integration`: connections to external
// services and their encrypted credentials.
package integration

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdIntegration builds `sfp integration`.
func NewCmdIntegration(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "integration <command>",
		Short: "Connect external services and store their credentials",
		Long: `An integration connects an account (or some of its projects) to an external
service: GitHub, Azure DevOps, Salesforce... Every member sees integrations;
only owners add, change and remove them.

Credentials are stored encrypted in the database under a key kept in Vault.
Only owners and workers with the service_role key may set or read them, and
every read, write and delete is recorded in the account's credential audit
log (who, what, when).`,
	}
	creds := &cobra.Command{
		Use:   "credentials <command>",
		Short: "Set, read and delete an integration's credentials",
		Long: `The credential commands act as an owner, or as a worker with --service-key,
SFP_SERVICE_KEY or -t TENANT; a worker names the account with --account (or
gives the integration's id).`,
	}
	creds.AddCommand(NewCmdCredentialsSet(f, nil), NewCmdCredentialsGet(f, nil), NewCmdCredentialsDelete(f, nil))
	cmd.AddCommand(NewCmdAdd(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdRemove(f, nil), creds)
	return cmd
}

// named is the scope of a command that names an integration: an id is
// found wherever it is, a name in the account.
func named(name string) cmdutil.Need {
	return cmdutil.Need{Account: !client.IsUUID(name)}
}

// find returns the integration named by id, or by name in the account.
func find(ctx context.Context, c *client.Client, t *cmdutil.Target, name string) (*client.Integration, error) {
	if client.IsUUID(name) {
		return c.Integrations.Get(ctx, name)
	}
	return c.Integrations.GetByName(ctx, t.Account.ID, name)
}

// checkWorker refuses a worker naming an integration by name without an
// account: a worker has no account of its own.
func checkWorker(f *cmdutil.Factory, s *cmdutil.ServiceFlags, scope cmdutil.Scope, name string) error {
	if s.Given(f.Getenv) && scope.Account == "" && !client.IsUUID(name) {
		return cmdutil.FlagErrorf("with the service key, name the account with --account SLUG (or give the integration's id)")
	}
	return nil
}

func keys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
