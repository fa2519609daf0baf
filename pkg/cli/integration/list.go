package integration

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp integration list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope    cmdutil.Scope // the account
	Provider string
	List     cmdutil.ListFlags
	JSON     bool
}

// NewCmdList builds `sfp integration list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list [--provider P]",
		Short: "List the account's integrations",
		Long:  `List the account's integrations, with when their credentials were last set. Viewers may.`,
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Only this provider")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Integration{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Integration], error) {
		return c.Integrations.List(ctx, client.IntegrationListOptions{ListOptions: o, AccountID: t.Account.ID, Provider: opts.Provider})
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	tb := cmdutil.NewTable(opts.IO.Out, "NAME", "PROVIDER", "AUTH", "SCOPE", "STATUS", "CREDENTIALS", "ID")
	for _, i := range items {
		creds := "none"
		if i.CredentialsUpdatedAt != nil {
			creds = "set " + cmdutil.FormatTimePtr(i.CredentialsUpdatedAt)
		}
		tb.Row(i.Name, i.Provider, i.AuthType, i.Scope, i.Status, creds, i.ID)
	}
	return tb.Flush()
}
