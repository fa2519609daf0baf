package project

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// RegisterOptions are the inputs of `sfp project register`.
type RegisterOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope            cmdutil.Scope // the account
	Identifier       string
	Platform         string
	RemoteURL        string
	Description      string
	Settings         string
	PlatformSettings string
	JSON             bool
}

// NewCmdRegister builds `sfp project register`.
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "register IDENTIFIER [--platform github|azure_devops] [--remote-url URL]",
		Short: "Register a project (members and owners)",
		Long: `Register a repository as a project of the account: org/repo, or on Azure
DevOps org/project/repo. Its id is printed on stdout.`,
		Example: `  sfp project register acme/web --remote-url https://github.com/acme/web.git
  sfp project register acme/core/api --platform azure_devops --platform-settings '{"organization_url":"https://dev.azure.com/acme"}'`,
		Args: cmdutil.ExactArgs(1, "give the project's identifier (org/repo)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Identifier = args[0]
			if err := checkSettings(opts.Settings, opts.PlatformSettings); err != nil {
				return err
			}
			if err := checkPlatform(opts.Platform); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return registerRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.Platform, "platform", "github", "Hosting platform: github or azure_devops")
	cmd.Flags().StringVar(&opts.RemoteURL, "remote-url", "", "Git remote URL")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().StringVar(&opts.Settings, "settings", "", "sfp settings (JSON object)")
	cmd.Flags().StringVar(&opts.PlatformSettings, "platform-settings", "", "Platform settings (JSON object)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Projects.Create(ctx, client.NewProject{AccountID: t.Account.ID, Identifier: opts.Identifier, Platform: opts.Platform,
		RemoteURL: opts.RemoteURL, Description: opts.Description,
		Settings: rawOrNil(opts.Settings), PlatformSettings: rawOrNil(opts.PlatformSettings)})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, p)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Registered project %s in account %s.\n", p.Identifier, t.Account.Slug)
	fmt.Fprintln(opts.IO.Out, p.ID)
	return nil
}
