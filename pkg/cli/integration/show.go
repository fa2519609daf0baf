package integration

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of `sfp integration show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the account, for an integration named by name
	Name  string        // name or id
	JSON  bool
}

// NewCmdShow builds `sfp integration show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an integration (never its credentials)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Integration{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, named(opts.Name))
	if err != nil {
		return err
	}
	defer c.Close()
	i, err := find(ctx, c, t, opts.Name)
	if err != nil {
		return err
	}
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
}
