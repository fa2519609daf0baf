// Package integration holds `sfp integration`: connections to external
// services and their encrypted credentials.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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

// integrationRef is what every command on one integration names: the
// integration, by name in the account or by id.
type integrationRef struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the account, for an integration named by name
	Name  string        // name or id
}

// with opens the client, finds the integration — by id wherever it is, by
// name in the account — and runs fn with both; the client is closed after.
func (r *integrationRef) with(ctx context.Context, fn func(*client.Client, *client.Integration) error) error {
	byID := client.IsUUID(r.Name)
	return r.WithTarget(ctx, r.Scope, cmdutil.Need{Account: !byID}, func(c *client.Client, t *cmdutil.Target) error {
		var i *client.Integration
		var err error
		if byID {
			i, err = c.Integrations.Get(ctx, r.Name)
		} else {
			i, err = c.Integrations.GetByName(ctx, t.Account.ID, r.Name)
		}
		if err != nil {
			return err
		}
		return fn(c, i)
	})
}

func keys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// AddOptions are the inputs of `sfp integration add`.
type AddOptions struct {
	cmdutil.Deps

	Scope    cmdutil.Scope // the account
	Name     string
	Provider string
	AuthType string
	Projects []string // identifiers or ids; none: the whole account
	Metadata string
	JSON     bool
}

// NewCmdAdd builds `sfp integration add`.
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "add NAME --provider P --auth-type A [--project P]... [--metadata JSON]",
		Short: "Add an integration (owners)",
		Long: `Add an integration for the whole account, or only for the projects given with
--project; its id is printed on stdout. Set its credentials next with
'sfp integration credentials set'.`,
		Example: `  sfp integration add github-acme --provider github --auth-type token --metadata '{"org":"acme"}'
  sfp integration add prod-org --provider salesforce --auth-type jwt --project acme/web`,
		Args: cmdutil.ExactArgs(1, "give the integration's name"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Provider == "" || opts.AuthType == "" {
				return cmdutil.FlagErrorf("pass --provider (e.g. github) and --auth-type (e.g. token)")
			}
			return cmdutil.CheckJSONFlags(cmdutil.JSONFlagValue{Name: "metadata", Value: opts.Metadata})
		}, runF, addRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Service: github, azure_devops, salesforce, ...")
	cmd.Flags().StringVar(&opts.AuthType, "auth-type", "", "How it authenticates: token, oauth, github_app, jwt, ...")
	cmd.Flags().StringArrayVarP(&opts.Projects, "project", "p", nil, "Limit it to this project (repeatable; default: the whole account)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Non-secret settings (JSON object)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Integration{})
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		in := client.NewIntegration{AccountID: t.Account.ID, Name: opts.Name, Provider: opts.Provider, AuthType: opts.AuthType}
		if opts.Metadata != "" {
			in.Metadata = []byte(opts.Metadata)
		}
		for _, ref := range opts.Projects {
			p, err := t.FindProject(ctx, c, ref)
			if err != nil {
				return err
			}
			in.ProjectIDs = append(in.ProjectIDs, p.ID)
		}
		i, err := c.Integrations.Create(ctx, in)
		if err != nil {
			return err
		}
		return cmdutil.PrintCreated(opts.IO, opts.JSON, i, i.ID, fmt.Sprintf("Added integration %s (%s, %s). Set its credentials with `sfp integration credentials set %s`.", i.Name, i.Provider, i.Scope, i.Name))
	})
}

// ListOptions are the inputs of `sfp integration list`.
type ListOptions struct {
	cmdutil.ListInputs // Scope: the account

	Provider string
}

// NewCmdList builds `sfp integration list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list [--provider P]",
		Short: "List the account's integrations",
		Long:  `List the account's integrations, with when their credentials were last set. Viewers may.`,
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, opts.List.Validate, runF, listRun),
	}
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Only this provider")
	opts.Register(cmd, []client.Integration{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, cmdutil.Need{Account: true}, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Integration], error) {
		return c.Integrations.List(ctx, client.IntegrationListOptions{ListOptions: o, AccountID: t.Account.ID, Provider: opts.Provider})
	}, cmdutil.Columns[client.Integration]{Header: []string{"NAME", "PROVIDER", "AUTH", "SCOPE", "STATUS", "CREDENTIALS", "ID"}, Row: func(i client.Integration) []string {
		creds := "none"
		if i.CredentialsUpdatedAt != nil {
			creds = "set " + cmdutil.FormatTimePtr(i.CredentialsUpdatedAt)
		}
		return []string{i.Name, i.Provider, i.AuthType, i.Scope, i.Status, creds, i.ID}
	}})
}

// ShowOptions are the inputs of `sfp integration show`.
type ShowOptions struct {
	integrationRef

	JSON bool
}

// NewCmdShow builds `sfp integration show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{integrationRef: integrationRef{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an integration (never its credentials)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE:  cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Name), runF, showRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Integration{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return opts.with(ctx, func(c *client.Client, i *client.Integration) error {
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, i)
		}
		creds := "none"
		if i.CredentialsUpdatedAt != nil {
			creds = "set at " + cmdutil.FormatTimePtr(i.CredentialsUpdatedAt)
		}
		return cmdutil.PrintFields(opts.IO.Out, "Integration", i.Name, "ID", i.ID, "Provider", i.Provider, "Auth type", i.AuthType,
			"Scope", i.Scope, "Projects", strings.Join(i.ProjectIDs, ", "), "Status", i.Status,
			"Metadata", cmdutil.CompactJSON(i.Metadata), "Credentials", creds, "Created", cmdutil.FormatTime(i.CreatedAt))
	})
}

// RemoveOptions are the inputs of `sfp integration remove`.
type RemoveOptions struct {
	integrationRef

	Yes bool
}

// NewCmdRemove builds `sfp integration remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{integrationRef: integrationRef{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "remove NAME --yes",
		Short: "Remove an integration and its credentials (owners)",
		Long: `Delete an integration with its credentials. On a terminal it asks first;
otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Name), runF, removeRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func removeRun(ctx context.Context, opts *RemoveOptions) error {
	return opts.with(ctx, func(c *client.Client, i *client.Integration) error {
		if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Remove integration %s and its credentials?", i.Name)); err != nil {
			return err
		}
		if err := c.Integrations.Delete(ctx, i.ID); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Removed integration %s.\n", i.Name)
		return nil
	})
}
