package project

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// UpdateOptions are the inputs of `sfp project update`.
type UpdateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project (the argument) and its account
	// Changes holds the fields whose flags were given, and --if-version.
	Changes client.ProjectUpdate
	JSON    bool
}

// NewCmdUpdate builds `sfp project update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	var flags struct{ platform, remoteURL, description, settings, platformSettings string }
	cmd := &cobra.Command{
		Use:   "update IDENTIFIER [--description D] [--remote-url U] [--settings JSON] [--if-version N]",
		Short: "Change a project (members and owners)",
		Long: `Change the fields whose flags are given ("" clears a text field). With
--if-version N the change applies only if the project is still at version N
(see 'sfp project show'); otherwise it fails with exit code 6 and the current
version.`,
		Example: `  sfp project update acme/web --description "Storefront" --if-version 3`,
		Args:    cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Project = args[0]
			if err := checkSettings(flags.settings, flags.platformSettings); err != nil {
				return err
			}
			if err := checkPlatform(flags.platform); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			u := &opts.Changes
			u.Settings, u.PlatformSettings = rawOrNil(flags.settings), rawOrNil(flags.platformSettings)
			if changed("description") {
				u.Description = &flags.description
			}
			if changed("remote-url") {
				u.RemoteURL = &flags.remoteURL
			}
			if changed("platform") {
				u.Platform = &flags.platform
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&flags.platform, "platform", "", "Hosting platform: github or azure_devops")
	cmd.Flags().StringVar(&flags.remoteURL, "remote-url", "", "Git remote URL (\"\" clears it)")
	cmd.Flags().StringVar(&flags.description, "description", "", "Description (\"\" clears it)")
	cmd.Flags().StringVar(&flags.settings, "settings", "", "sfp settings (JSON object, replaces the old ones)")
	cmd.Flags().StringVar(&flags.platformSettings, "platform-settings", "", "Platform settings (JSON object)")
	cmd.Flags().Int64Var(&opts.Changes.Version, "if-version", 0, "Apply only if the project is at this version")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Projects.Update(ctx, t.Project.ID, opts.Changes)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, p)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Updated project %s (now version %d).\n", p.Identifier, p.Version)
	return nil
}
