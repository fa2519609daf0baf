// Package env holds `sfp env`: environments and their lease queue.
package env

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdEnv builds `sfp env`.
func NewCmdEnv(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "env <command>",
		Aliases: []string{"environment"},
		Short:   "Manage a project's environments and lock them",
		Long: `Environments are a project's deployment targets (orgs, sandboxes). Viewers read
them; members create, change and delete them.

Locking puts a ticket in the environment's lease queue: the oldest ticket
holds the environment until it is unlocked or its lease runs out, then the
next one gets it. 'sfp env lock --wait' waits for its turn.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil),
		NewCmdLock(f, nil), NewCmdUnlock(f, nil), NewCmdExtend(f, nil), NewCmdQueue(f, nil))
	return cmd
}

// Options are the inputs of the env commands.
type Options struct {
	IO          *cmdutil.IOStreams
	Account     string
	Project     string
	Name        string
	Category    string
	Branch      string
	Description string
	Tags        []string
	Metadata    string
	Inactive    bool
	Active      bool
	Rename      string
	Yes         bool
	List        cmdutil.ListFlags
	JSON        bool

	changed func(string) bool
}

// target is what an env command resolved: the account, the project and
// (for commands naming one) the environment.
type target struct {
	c       *client.Client
	account *client.Account
	project *client.Project
	env     *client.Environment
}

func run(f *cmdutil.Factory, opts *Options, needEnv bool, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, t *target) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.Name = args[0]
		}
		opts.changed = cmd.Flags().Changed
		if _, err := cmdutil.ParseJSONFlag("metadata", opts.Metadata); err != nil {
			return err
		}
		if cmd.Flags().Lookup("limit") != nil {
			if err := opts.List.Validate(); err != nil {
				return err
			}
		}
		if opts.Project == "" {
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
		t := &target{c: c}
		if client.IsUUID(opts.Project) {
			// An id names the project wherever it is; no account needed.
			if t.project, err = c.Projects.Get(ctx, opts.Project); err != nil {
				return err
			}
			t.account = &client.Account{ID: t.project.AccountID}
		} else {
			if t.account, err = cmdutil.ResolveAccount(ctx, c, cfg, opts.Account); err != nil {
				return err
			}
			if t.project, err = cmdutil.ResolveProject(ctx, c, t.account.ID, opts.Project); err != nil {
				return err
			}
		}
		if needEnv {
			if t.env, err = cmdutil.ResolveEnvironment(ctx, c, t.project.ID, opts.Name); err != nil {
				return err
			}
		}
		return fn(ctx, t)
	}
}

func projectFlags(cmd *cobra.Command, opts *Options) {
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Project identifier (org/repo) or id (required)")
	cmdutil.AccountFlag(cmd, &opts.Account)
}

// NewCmdCreate builds `sfp env create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "create NAME --project P [--category C] [--branch B] [--tag T]...",
		Short:   "Create an environment (members and owners)",
		Example: `  sfp env create staging --project acme/web --category staging --branch main --tag eu`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name"),
		RunE: run(f, opts, false, runF, func(ctx context.Context, t *target) error {
			e, err := t.c.Environments.Create(ctx, client.NewEnvironment{ProjectID: t.project.ID, Name: opts.Name,
				Category: opts.Category, Branch: opts.Branch, Description: opts.Description, Inactive: opts.Inactive,
				Metadata: raw(opts.Metadata), Tags: opts.Tags})
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, e)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Created environment %s of %s.\n", e.Name, t.project.Identifier)
			fmt.Fprintln(opts.IO.Out, e.ID)
			return nil
		}),
	}
	projectFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.Category, "category", "", "Category, e.g. development (default), test, staging, production")
	cmd.Flags().StringVar(&opts.Branch, "branch", "", "Git branch the environment follows")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().StringArrayVar(&opts.Tags, "tag", nil, "Tag (repeatable)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Metadata (JSON object)")
	cmd.Flags().BoolVar(&opts.Inactive, "inactive", false, "Create it inactive (it cannot be locked)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func raw(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// NewCmdList builds `sfp env list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list --project P",
		Short: "List a project's environments, newest first",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, false, runF, func(ctx context.Context, t *target) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Environment], error) {
				return t.c.Environments.List(ctx, t.project.ID, &o)
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			tb := cmdutil.NewTable(opts.IO.Out, "NAME", "CATEGORY", "BRANCH", "ACTIVE", "TAGS", "ID")
			for _, e := range items {
				tb.Row(e.Name, e.Category, e.Branch, yesNo(e.Active), strings.Join(e.Tags, ","), e.ID)
			}
			return tb.Flush()
		}),
	}
	projectFlags(cmd, opts)
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// NewCmdShow builds `sfp env show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show NAME --project P",
		Short: "Show an environment and who holds it",
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: run(f, opts, true, runF, func(ctx context.Context, t *target) error {
			q, err := t.c.Environments.Queue(ctx, t.env.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, struct {
					*client.Environment
					Queue []client.Lease `json:"queue"`
				}{t.env, q})
			}
			e := t.env
			holder := "nobody"
			if len(q) > 0 && q[0].Active() {
				holder = fmt.Sprintf("ticket %s until %s (%s)", q[0].Ticket, cmdutil.FormatTimePtr(q[0].ExpiresAt), q[0].Reason)
			}
			return cmdutil.PrintFields(opts.IO.Out, "Environment", e.Name, "Project", t.project.Identifier, "ID", e.ID,
				"Category", e.Category, "Branch", e.Branch, "Active", yesNo(e.Active), "Tags", strings.Join(e.Tags, ", "),
				"Metadata", cmdutil.CompactJSON(e.Metadata), "Description", e.Description,
				"Held by", holder, "Waiting", fmt.Sprint(max(len(q)-1, 0)), "Created", cmdutil.FormatTime(e.CreatedAt))
		}),
	}
	projectFlags(cmd, opts)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdUpdate builds `sfp env update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "update NAME --project P [--rename N] [--category C] [--branch B] [--active=false] [--tag T]...",
		Short:   "Change an environment (members and owners)",
		Example: `  sfp env update staging --project acme/web --active=false`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: run(f, opts, true, runF, func(ctx context.Context, t *target) error {
			var u client.EnvironmentUpdate
			if opts.changed("rename") {
				u.Name = &opts.Rename
			}
			if opts.changed("category") {
				u.Category = &opts.Category
			}
			if opts.changed("branch") {
				u.Branch = &opts.Branch
			}
			if opts.changed("description") {
				u.Description = &opts.Description
			}
			if opts.changed("active") {
				u.Active = &opts.Active
			}
			if opts.changed("tag") {
				u.Tags = &opts.Tags
			}
			u.Metadata = raw(opts.Metadata)
			e, err := t.c.Environments.Update(ctx, t.env.ID, u)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, e)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Updated environment %s of %s.\n", e.Name, t.project.Identifier)
			return nil
		}),
	}
	projectFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.Rename, "rename", "", "New name")
	cmd.Flags().StringVar(&opts.Category, "category", "", "Category")
	cmd.Flags().StringVar(&opts.Branch, "branch", "", "Git branch (\"\" clears it)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description (\"\" clears it)")
	cmd.Flags().BoolVar(&opts.Active, "active", true, "Whether the environment is in use (--active=false deactivates it)")
	cmd.Flags().StringArrayVar(&opts.Tags, "tag", nil, "Tag (repeatable; replaces the tags)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Metadata (JSON object, replaces it)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdDelete builds `sfp env delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "delete NAME --project P --yes",
		Short: "Delete an environment and its deployments (members and owners)",
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: run(f, opts, true, runF, func(ctx context.Context, t *target) error {
			if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete environment %s of %s and its deployments?", t.env.Name, t.project.Identifier)); err != nil {
				return err
			}
			if err := t.c.Environments.Delete(ctx, t.env.ID); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "Deleted environment %s of %s.\n", t.env.Name, t.project.Identifier)
			return nil
		}),
	}
	projectFlags(cmd, opts)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}
