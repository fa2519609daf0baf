// Package project holds `sfp project`.
package project

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdProject builds `sfp project`.
func NewCmdProject(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project <command>",
		Short: "Register and manage projects (repositories)",
		Long: `A project is one repository (org/repo; Azure DevOps: org/project/repo) on GitHub
or Azure DevOps. Viewers read projects, members register and update them,
owners delete them. Updates are optimistic: --if-version refuses the change
if someone else changed the project since you read that version. All project
commands take --account.`,
	}
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// Fields are the flags of a project's own fields: register sets them,
// update changes those given.
type Fields struct {
	Platform         string
	RemoteURL        string
	Description      string
	Settings         string
	PlatformSettings string
}

// register adds the flags. For an update (change) --platform has no
// default, "" clears a text field and --settings replaces the old ones,
// and the help says so.
func (p *Fields) register(cmd *cobra.Command, change bool) {
	platform, clears, replaces := client.PlatformGitHub, "", ""
	if change {
		platform, clears, replaces = "", ` ("" clears it)`, ", replaces the old ones"
	}
	cmd.Flags().StringVar(&p.Platform, "platform", platform, "Hosting platform: github or azure_devops")
	cmd.Flags().StringVar(&p.RemoteURL, "remote-url", "", "Git remote URL"+clears)
	cmd.Flags().StringVar(&p.Description, "description", "", "Description"+clears)
	cmd.Flags().StringVar(&p.Settings, "settings", "", "sfp settings (JSON object"+replaces+")")
	cmd.Flags().StringVar(&p.PlatformSettings, "platform-settings", "", "Platform settings (JSON object)")
}

// check checks the JSON of --settings and --platform-settings, and that
// the platform is one sfp knows.
func (p *Fields) check() error {
	if err := cmdutil.CheckJSONFlags(cmdutil.JSONFlagValue{Name: "settings", Value: p.Settings},
		cmdutil.JSONFlagValue{Name: "platform-settings", Value: p.PlatformSettings}); err != nil {
		return err
	}
	if p.Platform != "" && p.Platform != client.PlatformGitHub && p.Platform != client.PlatformAzureDevOps {
		return cmdutil.FlagErrorf("--platform must be github or azure_devops, not %q", p.Platform)
	}
	return nil
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func printProject(ios *cmdutil.IOStreams, p *client.Project) error {
	return cmdutil.PrintFields(ios.Out,
		"Project", p.Identifier, "ID", p.ID, "Platform", p.Platform, "Remote", p.RemoteURL,
		"Description", p.Description, "Settings", cmdutil.CompactJSON(p.Settings),
		"Platform settings", cmdutil.CompactJSON(p.PlatformSettings), "Version", strconv.FormatInt(p.Version, 10),
		"Created", cmdutil.FormatTime(p.CreatedAt), "Updated", cmdutil.FormatTime(p.UpdatedAt))
}

// RegisterOptions are the inputs of `sfp project register`.
type RegisterOptions struct {
	cmdutil.Deps

	Fields

	Scope      cmdutil.Scope // the account
	Identifier string
	JSON       bool
}

// NewCmdRegister builds `sfp project register`.
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "register IDENTIFIER [--platform github|azure_devops] [--remote-url URL]",
		Short: "Register a project (members and owners)",
		Long: `Register a repository as a project of the account: org/repo, or on Azure
DevOps org/project/repo. Its id is printed on stdout.`,
		Example: `  sfp project register acme/web --remote-url https://github.com/acme/web.git
  sfp project register acme/core/api --platform azure_devops --platform-settings '{"organization_url":"https://dev.azure.com/acme"}'`,
		Args: cmdutil.ExactArgs(1, "give the project's identifier (org/repo)"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Identifier = args[0]
			return opts.check()
		}, runF, registerRun),
	}
	opts.Scope.AccountFlag(cmd)
	opts.register(cmd, false)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func registerRun(ctx context.Context, opts *RegisterOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		p, err := c.Projects.Create(ctx, client.NewProject{AccountID: t.Account.ID, Identifier: opts.Identifier, Platform: opts.Platform,
			RemoteURL: opts.RemoteURL, Description: opts.Description,
			Settings: rawOrNil(opts.Settings), PlatformSettings: rawOrNil(opts.PlatformSettings)})
		if err != nil {
			return err
		}
		return cmdutil.PrintCreated(opts.IO, opts.JSON, p, p.ID, fmt.Sprintf("Registered project %s in account %s.", p.Identifier, t.Account.Slug))
	})
}

// UpdateOptions are the inputs of `sfp project update`.
type UpdateOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project (the argument) and its account
	// Changes holds the fields whose flags were given, and --if-version.
	Changes client.ProjectUpdate
	JSON    bool
}

// NewCmdUpdate builds `sfp project update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Deps: f.UserDeps()}
	var flags Fields
	cmd := &cobra.Command{
		Use:   "update IDENTIFIER [--description D] [--remote-url U] [--settings JSON] [--if-version N]",
		Short: "Change a project (members and owners)",
		Long: `Change the fields whose flags are given ("" clears a text field). With
--if-version N the change applies only if the project is still at version N
(see 'sfp project show'); otherwise it fails with exit code 6 and the current
version.`,
		Example: `  sfp project update acme/web --description "Storefront" --if-version 3`,
		Args:    cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: cmdutil.RunArgsE(opts, func(cmd *cobra.Command, args []string) error {
			opts.Scope.Project = args[0]
			if err := flags.check(); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			u := &opts.Changes
			u.Settings, u.PlatformSettings = rawOrNil(flags.Settings), rawOrNil(flags.PlatformSettings)
			u.Description = cmdutil.IfChanged(changed, "description", &flags.Description)
			u.RemoteURL = cmdutil.IfChanged(changed, "remote-url", &flags.RemoteURL)
			u.Platform = cmdutil.IfChanged(changed, "platform", &flags.Platform)
			return nil
		}, runF, updateRun),
	}
	opts.Scope.AccountFlag(cmd)
	flags.register(cmd, true)
	cmd.Flags().Int64Var(&opts.Changes.Version, "if-version", 0, "Apply only if the project is at this version")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Project: true}, func(c *client.Client, t *cmdutil.Target) error {
		p, err := c.Projects.Update(ctx, t.Project.ID, opts.Changes)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, p)
		}
		fmt.Fprintf(opts.IO.ErrOut, "Updated project %s (now version %d).\n", p.Identifier, p.Version)
		return nil
	})
}

// DeleteOptions are the inputs of `sfp project delete`.
type DeleteOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project (the argument) and its account
	Yes   bool
}

// NewCmdDelete builds `sfp project delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "delete IDENTIFIER --yes",
		Short: "Delete a project and everything under it (owners)",
		Long: `Delete a project with its environments, builds, releases and deployments. On a
terminal it asks first; otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Scope.Project), runF, deleteRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Project: true}, func(c *client.Client, t *cmdutil.Target) error {
		p := t.Project
		if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete project %s with its environments, builds, releases and deployments?", p.Identifier)); err != nil {
			return err
		}
		if err := c.Projects.Delete(ctx, p.ID); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Deleted project %s.\n", p.Identifier)
		return nil
	})
}
