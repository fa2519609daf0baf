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
if someone else changed the project since you read that version.`,
	}
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// Options are the inputs of the project commands.
type Options struct {
	IO               *cmdutil.IOStreams
	Account          string
	Project          string
	Platform         string
	RemoteURL        string
	Description      string
	Settings         string
	PlatformSettings string
	IfVersion        int64
	Yes              bool
	List             cmdutil.ListFlags
	JSON             bool

	changed func(string) bool
}

func run(f *cmdutil.Factory, opts *Options, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, c *client.Client, a *client.Account) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.Project = args[0]
		}
		opts.changed = cmd.Flags().Changed
		for _, fl := range []struct{ name, v string }{{"settings", opts.Settings}, {"platform-settings", opts.PlatformSettings}} {
			if _, err := cmdutil.ParseJSONFlag(fl.name, fl.v); err != nil {
				return err
			}
		}
		if opts.Platform != "" && opts.Platform != client.PlatformGitHub && opts.Platform != client.PlatformAzureDevOps {
			return cmdutil.FlagErrorf("--platform must be github or azure_devops, not %q", opts.Platform)
		}
		if cmd.Flags().Lookup("limit") != nil {
			if err := opts.List.Validate(); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return f.WithAccount(cmd.Context(), opts.Account, fn)
	}
}

// NewCmdRegister builds `sfp project register`.
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "register IDENTIFIER [--platform github|azure_devops] [--remote-url URL]",
		Short: "Register a project (members and owners)",
		Example: `  sfp project register acme/web --remote-url https://github.com/acme/web.git
  sfp project register acme/core/api --platform azure_devops --platform-settings '{"organization_url":"https://dev.azure.com/acme"}'`,
		Args: cmdutil.ExactArgs(1, "give the project's identifier (org/repo)"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			p, err := c.Projects.Create(ctx, client.NewProject{AccountID: a.ID, Identifier: opts.Project, Platform: opts.Platform,
				RemoteURL: opts.RemoteURL, Description: opts.Description,
				Settings: rawOrNil(opts.Settings), PlatformSettings: rawOrNil(opts.PlatformSettings)})
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, p)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Registered project %s in account %s.\n", p.Identifier, a.Slug)
			fmt.Fprintln(opts.IO.Out, p.ID)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Platform, "platform", "github", "Hosting platform: github or azure_devops")
	cmd.Flags().StringVar(&opts.RemoteURL, "remote-url", "", "Git remote URL")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().StringVar(&opts.Settings, "settings", "", "sfp settings (JSON object)")
	cmd.Flags().StringVar(&opts.PlatformSettings, "platform-settings", "", "Platform settings (JSON object)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// NewCmdList builds `sfp project list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's projects, newest first",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Project], error) {
				return c.Projects.List(ctx, a.ID, &o)
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "IDENTIFIER", "PLATFORM", "VERSION", "REMOTE", "ID")
			for _, p := range items {
				t.Row(p.Identifier, p.Platform, strconv.FormatInt(p.Version, 10), p.RemoteURL, p.ID)
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdShow builds `sfp project show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show IDENTIFIER",
		Short: "Show a project",
		Args:  cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, p)
			}
			return printProject(opts.IO, p)
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func printProject(ios *cmdutil.IOStreams, p *client.Project) error {
	return cmdutil.PrintFields(ios.Out,
		"Project", p.Identifier, "ID", p.ID, "Platform", p.Platform, "Remote", p.RemoteURL,
		"Description", p.Description, "Settings", cmdutil.CompactJSON(p.Settings),
		"Platform settings", cmdutil.CompactJSON(p.PlatformSettings), "Version", strconv.FormatInt(p.Version, 10),
		"Created", cmdutil.FormatTime(p.CreatedAt), "Updated", cmdutil.FormatTime(p.UpdatedAt))
}

// NewCmdUpdate builds `sfp project update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "update IDENTIFIER [--description D] [--remote-url U] [--settings JSON] [--if-version N]",
		Short: "Change a project (members and owners)",
		Long: `Change a project's fields. With --if-version N the change applies only if the
project is still at version N (see 'sfp project show'); otherwise it fails with
exit code 6 and the current version.`,
		Example: `  sfp project update acme/web --description "Storefront" --if-version 3`,
		Args:    cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
			if err != nil {
				return err
			}
			u := client.ProjectUpdate{Version: opts.IfVersion,
				Settings: rawOrNil(opts.Settings), PlatformSettings: rawOrNil(opts.PlatformSettings)}
			if opts.changed("description") {
				u.Description = &opts.Description
			}
			if opts.changed("remote-url") {
				u.RemoteURL = &opts.RemoteURL
			}
			if opts.changed("platform") {
				u.Platform = &opts.Platform
			}
			p, err = c.Projects.Update(ctx, p.ID, u)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, p)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Updated project %s (now version %d).\n", p.Identifier, p.Version)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Platform, "platform", "", "Hosting platform: github or azure_devops")
	cmd.Flags().StringVar(&opts.RemoteURL, "remote-url", "", "Git remote URL (\"\" clears it)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description (\"\" clears it)")
	cmd.Flags().StringVar(&opts.Settings, "settings", "", "sfp settings (JSON object, replaces the old ones)")
	cmd.Flags().StringVar(&opts.PlatformSettings, "platform-settings", "", "Platform settings (JSON object)")
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Apply only if the project is at this version")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdDelete builds `sfp project delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "delete IDENTIFIER --yes",
		Short: "Delete a project and everything under it (owners)",
		Args:  cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
			if err != nil {
				return err
			}
			if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete project %s with its environments, builds, releases and deployments?", p.Identifier)); err != nil {
				return err
			}
			if err := c.Projects.Delete(ctx, p.ID); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "Deleted project %s.\n", p.Identifier)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}
