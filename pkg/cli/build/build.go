// Package build holds `sfp build` and `sfp release`: builds recorded by CI
// and release definitions.
package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// Options are the inputs of the build and release commands.
type Options struct {
	IO          *cmdutil.IOStreams
	Account     string
	Project     string
	ID          string
	Status      string
	Name        string
	Description string
	Definition  string
	List        cmdutil.ListFlags
	JSON        bool
}

// scoped resolves --account and --project for a list or create.
type scoped struct {
	c       *client.Client
	account *client.Account
	project *client.Project
}

func run(f *cmdutil.Factory, opts *Options, needProject bool, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, s *scoped) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.ID = args[0]
		}
		if cmd.Flags().Lookup("limit") != nil {
			if err := opts.List.Validate(); err != nil {
				return err
			}
		}
		if needProject && opts.Project == "" {
			return cmdutil.FlagErrorf("which project? pass --project IDENTIFIER (org/repo) or id")
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		ctx := cmd.Context()
		c, cfg, err := f.UserClient(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		s := &scoped{c: c}
		if opts.Project != "" && client.IsUUID(opts.Project) {
			if s.project, err = c.Projects.Get(ctx, opts.Project); err != nil {
				return err
			}
			s.account = &client.Account{ID: s.project.AccountID}
			return fn(ctx, s)
		}
		if opts.ID != "" && client.IsUUID(opts.ID) && opts.Project == "" && opts.Account == "" {
			return fn(ctx, s) // show by id needs no account
		}
		if s.account, err = cmdutil.ResolveAccount(ctx, c, cfg, opts.Account); err != nil {
			return err
		}
		if opts.Project != "" {
			if s.project, err = cmdutil.ResolveProject(ctx, c, s.account.ID, opts.Project); err != nil {
				return err
			}
		}
		return fn(ctx, s)
	}
}

func (s *scoped) projectID() string {
	if s.project == nil {
		return ""
	}
	return s.project.ID
}

func (s *scoped) accountID() string {
	if s.account == nil {
		return ""
	}
	return s.account.ID
}

// NewCmdBuild builds `sfp build`.
func NewCmdBuild(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build <command>",
		Short: "List and show builds recorded by CI",
	}
	cmd.AddCommand(NewCmdBuildList(f, nil), NewCmdBuildShow(f, nil))
	return cmd
}

// NewCmdBuildList builds `sfp build list`.
func NewCmdBuildList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list [--project P] [--status S]",
		Short: "List builds, newest first",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, false, runF, func(ctx context.Context, s *scoped) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Build], error) {
				return s.c.Builds.List(ctx, client.BuildListOptions{ListOptions: o, AccountID: s.accountID(), ProjectID: s.projectID(), Status: opts.Status})
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "BUILD", "STATUS", "BRANCH", "COMMIT", "VERSION", "CREATED", "ID")
			for _, b := range items {
				t.Row(b.BuildNumber, b.Status, b.Branch, cmdutil.Ellipsis(b.CommitSHA, 12), b.Version, cmdutil.FormatTime(b.CreatedAt), b.ID)
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Only this project (identifier or id)")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdBuildShow builds `sfp build show`.
func NewCmdBuildShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a build",
		Args:  cmdutil.ExactArgs(1, "give the build's id"),
		RunE: run(f, opts, false, runF, func(ctx context.Context, s *scoped) error {
			if !client.IsUUID(opts.ID) {
				return cmdutil.FlagErrorf("%q is not a build id (a UUID)", opts.ID)
			}
			b, err := s.c.Builds.Get(ctx, opts.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, b)
			}
			return cmdutil.PrintFields(opts.IO.Out, "Build", b.BuildNumber, "ID", b.ID, "Project", b.ProjectID, "Status", b.Status,
				"Branch", b.Branch, "Commit", b.CommitSHA, "Version", b.Version, "URL", b.URL,
				"Metadata", cmdutil.CompactJSON(b.Metadata), "Started", cmdutil.FormatTimePtr(b.StartedAt),
				"Finished", cmdutil.FormatTimePtr(b.FinishedAt), "Created", cmdutil.FormatTime(b.CreatedAt))
		}),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdRelease builds `sfp release`.
func NewCmdRelease(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release <command>",
		Short: "Create, list and show release definitions",
		Long: `A release definition says what to deploy and how (the sfp release definition,
as JSON). Deployments name one with 'sfp deployment create --release NAME'.`,
	}
	cmd.AddCommand(NewCmdReleaseCreate(f, nil), NewCmdReleaseList(f, nil), NewCmdReleaseShow(f, nil))
	return cmd
}

// NewCmdReleaseCreate builds `sfp release create`.
func NewCmdReleaseCreate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "create NAME --project P [--definition FILE|-] [--description D]",
		Short:   "Create a release definition (members and owners)",
		Example: `  sfp release create 2026.12 --project acme/web --definition release.json`,
		Args:    cmdutil.ExactArgs(1, "give the release's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return run(f, opts, true, runF, func(ctx context.Context, s *scoped) error {
				var def json.RawMessage
				if opts.Definition != "" {
					var err error
					if def, err = cmdutil.ReadJSONInput(opts.IO, opts.Definition, "the release definition"); err != nil {
						return err
					}
				}
				r, err := s.c.Releases.Create(ctx, client.NewRelease{ProjectID: s.project.ID, Name: opts.Name, Description: opts.Description, Definition: def})
				if err != nil {
					return err
				}
				if opts.JSON {
					return cmdutil.WriteJSON(opts.IO.Out, r)
				}
				fmt.Fprintf(opts.IO.ErrOut, "Created release %s of %s.\n", r.Name, s.project.Identifier)
				fmt.Fprintln(opts.IO.Out, r.ID)
				return nil
			})(cmd, nil)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Project identifier (org/repo) or id (required)")
	cmd.Flags().StringVar(&opts.Definition, "definition", "", "File holding the definition (JSON object), or - for stdin")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdReleaseList builds `sfp release list`.
func NewCmdReleaseList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List release definitions, newest first",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, false, runF, func(ctx context.Context, s *scoped) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Release], error) {
				return s.c.Releases.List(ctx, client.ReleaseListOptions{ListOptions: o, AccountID: s.accountID(), ProjectID: s.projectID()})
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "NAME", "ACTIVE", "DESCRIPTION", "CREATED", "ID")
			for _, r := range items {
				active := "yes"
				if !r.Active {
					active = "no"
				}
				t.Row(r.Name, active, cmdutil.Ellipsis(r.Description, 40), cmdutil.FormatTime(r.CreatedAt), r.ID)
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Only this project (identifier or id)")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdReleaseShow builds `sfp release show`.
func NewCmdReleaseShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show NAME|ID [--project P]",
		Short: "Show a release definition",
		Args:  cmdutil.ExactArgs(1, "give the release's name (with --project) or id"),
		RunE: run(f, opts, false, runF, func(ctx context.Context, s *scoped) error {
			var r *client.Release
			var err error
			switch {
			case client.IsUUID(opts.ID):
				r, err = s.c.Releases.Get(ctx, opts.ID)
			case s.project == nil:
				return cmdutil.FlagErrorf("a release named %q: pass --project to say whose", opts.ID)
			default:
				r, err = s.c.Releases.GetByName(ctx, s.project.ID, opts.ID)
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
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Project identifier (org/repo) or id")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}
