// Package build holds `sfp build` and `sfp release`: builds recorded by CI
// and release definitions.
package build

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdBuild builds `sfp build`.
func NewCmdBuild(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build <command>",
		Short: "List and show builds recorded by CI",
		Long: `Builds are recorded by CI through the client library (Builds.Create); viewers
list and show them. Commands take --account where they need an account (not
with ids).`,
	}
	cmd.AddCommand(NewCmdBuildList(f, nil), NewCmdBuildShow(f, nil))
	return cmd
}

// NewCmdRelease builds `sfp release`.
func NewCmdRelease(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release <command>",
		Short: "Create, list and show release definitions",
		Long: `A release definition says what to deploy and how (the sfp release definition,
as a JSON object). Deployments name one with 'sfp deployment create --release
NAME'. Members create them; viewers list and show them.`,
	}
	cmd.AddCommand(NewCmdReleaseCreate(f, nil), NewCmdReleaseList(f, nil), NewCmdReleaseShow(f, nil))
	return cmd
}

// BuildListOptions are the inputs of `sfp build list`.
type BuildListOptions struct {
	cmdutil.ListInputs // Scope: account, optional project

	Status string
}

// NewCmdBuildList builds `sfp build list`.
func NewCmdBuildList(f *cmdutil.Factory, runF func(context.Context, *BuildListOptions) error) *cobra.Command {
	opts := &BuildListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list [--project P] [--status S]",
		Short: "List builds, newest first",
		Long:  `List the builds of the account, or of one project, newest first. Viewers may.`,
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, opts.List.Validate, runF, buildListRun),
	}
	opts.ProjectFilter(cmd)
	cmdutil.StatusFilter(cmd, &opts.Status)
	opts.Register(cmd, []client.Build{})
	return cmd
}

func buildListRun(ctx context.Context, opts *BuildListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, cmdutil.Need{Account: true}, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Build], error) {
		return c.Builds.List(ctx, client.BuildListOptions{ListOptions: o, AccountID: t.AccountID(), ProjectID: t.ProjectID(), Status: opts.Status})
	}, cmdutil.Columns[client.Build]{Header: []string{"BUILD", "STATUS", "BRANCH", "COMMIT", "VERSION", "CREATED", "ID"}, Row: func(b client.Build) []string {
		return []string{b.BuildNumber, b.Status, b.Branch, cmdutil.Ellipsis(b.CommitSHA, 12), b.Version, cmdutil.FormatTime(b.CreatedAt), b.ID}
	}})
}

// NewCmdBuildShow builds `sfp build show`.
func NewCmdBuildShow(f *cmdutil.Factory, runF func(context.Context, *cmdutil.ShowOptions) error) *cobra.Command {
	return cmdutil.NewCmdShow(&cobra.Command{Use: "show ID", Short: "Show a build"},
		&cmdutil.ShowOptions{Deps: f.UserDeps(), Kind: "build"}, runF,
		func(ctx context.Context, c *client.Client, id string) (*client.Build, error) {
			return c.Builds.Get(ctx, id)
		}, printBuild)
}

// printBuild prints a build for people.
func printBuild(ios *cmdutil.IOStreams, b *client.Build) error {
	return cmdutil.PrintFields(ios.Out, "Build", b.BuildNumber, "ID", b.ID, "Project", b.ProjectID, "Status", b.Status,
		"Branch", b.Branch, "Commit", b.CommitSHA, "Version", b.Version, "URL", b.URL,
		"Metadata", cmdutil.CompactJSON(b.Metadata), "Started", cmdutil.FormatTimePtr(b.StartedAt),
		"Finished", cmdutil.FormatTimePtr(b.FinishedAt), "Created", cmdutil.FormatTime(b.CreatedAt))
}
