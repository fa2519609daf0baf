package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ReleaseCreateOptions are the inputs of `sfp release create`.
type ReleaseCreateOptions struct {
	cmdutil.Deps

	Scope       cmdutil.Scope // the project
	Name        string
	Description string
	Definition  string // a file, or - for stdin
	JSON        bool
}

// NewCmdReleaseCreate builds `sfp release create`.
func NewCmdReleaseCreate(f *cmdutil.Factory, runF func(context.Context, *ReleaseCreateOptions) error) *cobra.Command {
	opts := &ReleaseCreateOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "create NAME --project P [--definition FILE|-] [--description D]",
		Short: "Create a release definition (members and owners)",
		Long: `Create a release definition of a project from a JSON object (--definition FILE,
or - for stdin); its id is printed on stdout. A taken name exits 6.`,
		Example: `  sfp release create 2026.12 --project acme/web --definition release.json`,
		Args:    cmdutil.ExactArgs(1, "give the release's name"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			return opts.Scope.Check(cmdutil.Need{Project: true})
		}, runF, releaseCreateRun),
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id (required)")
	cmd.Flags().StringVar(&opts.Definition, "definition", "", "File holding the definition (JSON object), or - for stdin")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Release{})
	return cmd
}

func releaseCreateRun(ctx context.Context, opts *ReleaseCreateOptions) error {
	var def json.RawMessage
	if opts.Definition != "" {
		var err error
		if def, err = cmdutil.ReadJSONInput(opts.IO, opts.Definition, "the release definition"); err != nil {
			return err
		}
	}
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Project: true}, func(c *client.Client, t *cmdutil.Target) error {
		r, err := c.Releases.Create(ctx, client.NewRelease{ProjectID: t.Project.ID, Name: opts.Name, Description: opts.Description, Definition: def})
		if err != nil {
			return err
		}
		return cmdutil.PrintCreated(opts.IO, opts.JSON, r, r.ID, fmt.Sprintf("Created release %s of %s.", r.Name, t.Project.Identifier))
	})
}

// ReleaseListOptions are the inputs of `sfp release list`.
type ReleaseListOptions struct {
	cmdutil.ListInputs // Scope: account, optional project
}

// NewCmdReleaseList builds `sfp release list`.
func NewCmdReleaseList(f *cmdutil.Factory, runF func(context.Context, *ReleaseListOptions) error) *cobra.Command {
	opts := &ReleaseListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List release definitions, newest first",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, opts.List.Validate, runF, releaseListRun),
	}
	opts.ProjectFilter(cmd)
	opts.Register(cmd, []client.Release{})
	return cmd
}

func releaseListRun(ctx context.Context, opts *ReleaseListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, cmdutil.Need{Account: true}, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Release], error) {
		return c.Releases.List(ctx, client.ReleaseListOptions{ListOptions: o, AccountID: t.AccountID(), ProjectID: t.ProjectID()})
	}, cmdutil.Columns[client.Release]{Header: []string{"NAME", "ACTIVE", "DESCRIPTION", "CREATED", "ID"}, Row: func(r client.Release) []string {
		return []string{r.Name, cmdutil.YesNo(r.Active), cmdutil.Ellipsis(r.Description, 40), cmdutil.FormatTime(r.CreatedAt), r.ID}
	}})
}

// ReleaseShowOptions are the inputs of `sfp release show`.
type ReleaseShowOptions struct {
	cmdutil.Deps

	Scope   cmdutil.Scope // the project, for a release named by name
	Release string        // name or id
	JSON    bool
}

// NewCmdReleaseShow builds `sfp release show`.
func NewCmdReleaseShow(f *cmdutil.Factory, runF func(context.Context, *ReleaseShowOptions) error) *cobra.Command {
	opts := &ReleaseShowOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "show NAME|ID [--project P]",
		Short: "Show a release definition",
		Long:  `Show a release definition, with its JSON: by id, or by name with --project.`,
		Args:  cmdutil.ExactArgs(1, "give the release's name (with --project) or id"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Release = args[0]
			if !client.IsUUID(opts.Release) && opts.Scope.Project == "" {
				return cmdutil.FlagErrorf("a release named %q: pass --project to say whose", opts.Release)
			}
			return nil
		}, runF, releaseShowRun),
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Release{})
	return cmd
}

func releaseShowRun(ctx context.Context, opts *ReleaseShowOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{}, func(c *client.Client, t *cmdutil.Target) error {
		var r *client.Release
		var err error
		if client.IsUUID(opts.Release) {
			r, err = c.Releases.Get(ctx, opts.Release)
		} else {
			r, err = c.Releases.GetByName(ctx, t.Project.ID, opts.Release)
		}
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, r)
		}
		if err := cmdutil.PrintFields(opts.IO.Out, "Release", r.Name, "ID", r.ID, "Project", r.ProjectID,
			"Description", r.Description, "Created", cmdutil.FormatTime(r.CreatedAt)); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out, "Definition:")
		var v any
		if json.Unmarshal(r.Definition, &v) == nil {
			return cmdutil.WriteJSON(opts.IO.Out, v)
		}
		return nil
	})
}
