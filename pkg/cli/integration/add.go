package integration

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// AddOptions are the inputs of `sfp integration add`.
type AddOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

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
	opts := &AddOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "add NAME --provider P --auth-type A [--project P]... [--metadata JSON]",
		Short: "Add an integration (owners)",
		Long: `Add an integration for the whole account, or only for the projects given with
--project; its id is printed on stdout. Set its credentials next with
'sfp integration credentials set'.`,
		Example: `  sfp integration add github-acme --provider github --auth-type token --metadata '{"org":"acme"}'
  sfp integration add prod-org --provider salesforce --auth-type jwt --project acme/web`,
		Args: cmdutil.ExactArgs(1, "give the integration's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Provider == "" || opts.AuthType == "" {
				return cmdutil.FlagErrorf("pass --provider (e.g. github) and --auth-type (e.g. token)")
			}
			if _, err := cmdutil.ParseJSONFlag("metadata", opts.Metadata); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return addRun(cmd.Context(), opts)
		},
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
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
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
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, i)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Added integration %s (%s, %s). Set its credentials with `sfp integration credentials set %s`.\n",
		i.Name, i.Provider, i.Scope, i.Name)
	fmt.Fprintln(opts.IO.Out, i.ID)
	return nil
}
