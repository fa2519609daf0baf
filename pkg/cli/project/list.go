package project

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp project list`.
type ListOptions struct {
	cmdutil.ListInputs // Scope: the account
}

// NewCmdList builds `sfp project list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the account's projects, newest first",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, opts.List.Validate, runF, listRun),
	}
	opts.Register(cmd, []client.Project{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, cmdutil.Need{Account: true}, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Project], error) {
		return c.Projects.List(ctx, t.Account.ID, &o)
	}, cmdutil.Columns[client.Project]{Header: []string{"IDENTIFIER", "PLATFORM", "VERSION", "REMOTE", "ID"}, Row: func(p client.Project) []string {
		return []string{p.Identifier, p.Platform, strconv.FormatInt(p.Version, 10), p.RemoteURL, p.ID}
	}})
}

// ShowOptions are the inputs of `sfp project show`.
type ShowOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project (the argument) and its account
	JSON  bool
}

// NewCmdShow builds `sfp project show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "show IDENTIFIER|ID",
		Short: "Show a project",
		Long:  `Show a project, with its version (for 'sfp project update --if-version').`,
		Args:  cmdutil.ExactArgs(1, "give the project's identifier (org/repo) or id"),
		RunE:  cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Scope.Project), runF, showRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Project{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Project: true}, func(c *client.Client, t *cmdutil.Target) error {
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, t.Project)
		}
		return printProject(opts.IO, t.Project)
	})
}
