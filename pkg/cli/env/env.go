// Package env holds `sfp env`: environments and their lease queue.
package env

import (
	"context"
	"fmt"
	"strconv"

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
them; members create, change, delete and lock them. Every command but unlock
and extend takes --project (identifier or id) and --account.

Locking puts a ticket in the environment's lease queue: the oldest ticket
holds the environment until it is unlocked or its lease runs out, then the
next one gets it. 'sfp env lock --wait' waits for its turn. A holder whose
time is up is replaced the next time anyone looks at or requests the
environment, and on the embedded runtime within 15 seconds in any case.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil),
		NewCmdLock(f, nil), NewCmdUnlock(f, nil), NewCmdExtend(f, nil), NewCmdQueue(f, nil))
	return cmd
}

// projectUsage describes --project of the commands that need one.
const projectUsage = "Project identifier (org/repo) or id (required)"

// projectFlag registers --project for the commands that need one, and
// --account.
func projectFlag(cmd *cobra.Command, s *cmdutil.Scope) {
	s.ProjectFlag(cmd, projectUsage)
	s.AccountFlag(cmd)
}

// needEnv is the scope of the commands that name an environment.
var needEnv = cmdutil.Need{Environment: true}

// envArg is the parse function of the commands whose one argument is an
// environment of the project (name or id).
func envArg(s *cmdutil.Scope) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		s.Environment = args[0]
		return s.Check(needEnv)
	}
}

func raw(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func position(l *client.Lease) string {
	if l.QueuePosition == nil {
		return "-"
	}
	return strconv.Itoa(*l.QueuePosition)
}

// CreateOptions are the inputs of `sfp env create`.
type CreateOptions struct {
	cmdutil.Deps

	Scope       cmdutil.Scope // the project
	Name        string
	Category    string
	Branch      string
	Description string
	Tags        []string
	Metadata    string
	Inactive    bool
	JSON        bool
}

// NewCmdCreate builds `sfp env create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:     "create NAME --project P [--category C] [--branch B] [--tag T]...",
		Short:   "Create an environment (members and owners)",
		Long:    `Create an environment of a project; its id is printed on stdout.`,
		Example: `  sfp env create staging --project acme/web --category staging --branch main --tag eu`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := opts.Scope.Check(cmdutil.Need{Project: true}); err != nil {
				return err
			}
			return cmdutil.CheckJSONFlags(cmdutil.JSONFlagValue{Name: "metadata", Value: opts.Metadata})
		}, runF, createRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().StringVar(&opts.Category, "category", "", "Category, e.g. development (default), test, staging, production")
	cmd.Flags().StringVar(&opts.Branch, "branch", "", "Git branch the environment follows")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().StringArrayVar(&opts.Tags, "tag", nil, "Tag (repeatable)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Metadata (JSON object)")
	cmd.Flags().BoolVar(&opts.Inactive, "inactive", false, "Create it inactive (it cannot be locked)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Environment{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Project: true}, func(c *client.Client, t *cmdutil.Target) error {
		e, err := c.Environments.Create(ctx, client.NewEnvironment{ProjectID: t.Project.ID, Name: opts.Name,
			Category: opts.Category, Branch: opts.Branch, Description: opts.Description, Inactive: opts.Inactive,
			Metadata: raw(opts.Metadata), Tags: opts.Tags})
		if err != nil {
			return err
		}
		return cmdutil.PrintCreated(opts.IO, opts.JSON, e, e.ID, fmt.Sprintf("Created environment %s of %s.", e.Name, t.Project.Identifier))
	})
}

// UpdateOptions are the inputs of `sfp env update`.
type UpdateOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project and the environment
	// Changes holds the fields whose flags were given.
	Changes client.EnvironmentUpdate
	JSON    bool
}

// NewCmdUpdate builds `sfp env update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Deps: f.UserDeps()}
	var flags struct {
		rename, category, branch, description, metadata string
		active                                          bool
		tags                                            []string
	}
	cmd := &cobra.Command{
		Use:   "update NAME --project P [--rename N] [--category C] [--branch B] [--active=false] [--tag T]...",
		Short: "Change an environment (members and owners)",
		Long: `Change the fields whose flags are given; "" clears a text field and --tag
replaces the tags.`,
		Example: `  sfp env update staging --project acme/web --active=false`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: cmdutil.RunArgsE(opts, func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if _, err := cmdutil.ParseJSONFlag("metadata", flags.metadata); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			u := &opts.Changes
			u.Name = cmdutil.IfChanged(changed, "rename", &flags.rename)
			u.Category = cmdutil.IfChanged(changed, "category", &flags.category)
			u.Branch = cmdutil.IfChanged(changed, "branch", &flags.branch)
			u.Description = cmdutil.IfChanged(changed, "description", &flags.description)
			u.Active = cmdutil.IfChanged(changed, "active", &flags.active)
			u.Tags = cmdutil.IfChanged(changed, "tag", &flags.tags)
			u.Metadata = raw(flags.metadata)
			return nil
		}, runF, updateRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().StringVar(&flags.rename, "rename", "", "New name")
	cmd.Flags().StringVar(&flags.category, "category", "", "Category")
	cmd.Flags().StringVar(&flags.branch, "branch", "", "Git branch (\"\" clears it)")
	cmd.Flags().StringVar(&flags.description, "description", "", "Description (\"\" clears it)")
	cmd.Flags().BoolVar(&flags.active, "active", true, "Whether the environment is in use (--active=false deactivates it)")
	cmd.Flags().StringArrayVar(&flags.tags, "tag", nil, "Tag (repeatable; replaces the tags)")
	cmd.Flags().StringVar(&flags.metadata, "metadata", "", "Metadata (JSON object, replaces it)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Environment{})
	return cmd
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	return opts.WithTarget(ctx, opts.Scope, needEnv, func(c *client.Client, t *cmdutil.Target) error {
		e, err := c.Environments.Update(ctx, t.Environment.ID, opts.Changes)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, e)
		}
		fmt.Fprintf(opts.IO.ErrOut, "Updated environment %s of %s.\n", e.Name, t.Project.Identifier)
		return nil
	})
}

// DeleteOptions are the inputs of `sfp env delete`.
type DeleteOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project and the environment
	Yes   bool
}

// NewCmdDelete builds `sfp env delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "delete NAME --project P --yes",
		Short: "Delete an environment and its deployments (members and owners)",
		Long: `Delete an environment with its deployments. On a terminal it asks first;
otherwise it needs --yes.`,
		Args: cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: cmdutil.RunArgsE(opts, envArg(&opts.Scope), runF, deleteRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return opts.WithTarget(ctx, opts.Scope, needEnv, func(c *client.Client, t *cmdutil.Target) error {
		if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Delete environment %s of %s and its deployments?", t.Environment.Name, t.Project.Identifier)); err != nil {
			return err
		}
		if err := c.Environments.Delete(ctx, t.Environment.ID); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Deleted environment %s of %s.\n", t.Environment.Name, t.Project.Identifier)
		return nil
	})
}
