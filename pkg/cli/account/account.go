// Package account holds `sfp account`: accounts (teams) and their members.
package account

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdAccount builds `sfp account`.
func NewCmdAccount(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account <command>",
		Short: "Create accounts, choose one and manage its members",
		Long: `Accounts are teams: every project, environment, deployment, integration and
document belongs to one. Roles are viewer (reads the account's data, never
credentials), member (also writes operational data) and owner (also manages
members, integrations and credentials, and deletes projects).

Commands that act inside an account take --account SLUG (or an id); without it
they use the account chosen with 'sfp account use', else your only account.
With several accounts and none chosen they list them and exit 2.`,
	}
	cmd.AddCommand(
		NewCmdCreate(f, nil),
		NewCmdList(f, nil),
		NewCmdShow(f, nil),
		NewCmdUse(f, nil),
		NewCmdMember(f),
	)
	return cmd
}

// accountJSON is the --json shape of an account.
type accountJSON struct {
	ID        string `json:"id"`
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Role      string `json:"role,omitempty"`
	Current   bool   `json:"current"`
	CreatedAt string `json:"created_at"`
}

func toJSON(a *client.Account, current string) accountJSON {
	return accountJSON{ID: a.ID, Slug: a.Slug, Name: a.Name, Role: string(a.Role), Current: a.Slug == current,
		CreatedAt: jsonTime(a.CreatedAt)}
}

// jsonTime is a timestamp of the --json shapes: UTC, to the microsecond
// as PostgreSQL keeps it (account list shows its first 10 characters).
func jsonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

// CreateOptions are the inputs of `sfp account create`.
type CreateOptions struct {
	cmdutil.Deps

	Name string
	Slug string
	Use  bool
	JSON bool
}

// NewCmdCreate builds `sfp account create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "create NAME [--slug SLUG] [--use]",
		Short: "Create an account; you become its owner",
		Long: `Create an account and become its owner; anyone signed in may. The slug (its
short handle, used with --account) is printed on stdout; it defaults to the
name in lowercase with hyphens, and a name whose slug would be longer than 63
characters needs --slug. A taken slug exits 6.`,
		Example: `  sfp account create "Acme Corp"            # slug acme-corp
  sfp account create "Acme Corp" --slug acme --use`,
		Args: cmdutil.ExactArgs(1, "give the account's name"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Slug == "" {
				if _, err := cmdutil.SlugFromName(opts.Name); err != nil {
					return cmdutil.FlagErrorf("cannot derive a slug from the name: %v; pass --slug", err)
				}
			}
			return nil
		}, runF, createRun),
	}
	cmd.Flags().StringVar(&opts.Slug, "slug", "", "Short handle: 1-63 lowercase letters, digits or hyphens (default: from the name)")
	cmd.Flags().BoolVar(&opts.Use, "use", false, "Also make it the current account (as 'sfp account use')")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", accountJSON{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		a, err := c.Accounts.Create(ctx, opts.Name, opts.Slug)
		if err != nil {
			return err
		}
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if opts.Use {
			cfg.Account = a.Slug
			if err := cfg.Save(); err != nil {
				return err
			}
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, toJSON(a, cfg.Account))
		}
		fmt.Fprintf(opts.IO.ErrOut, "Created account %s (%s); you are its owner.\n", a.Slug, a.Name)
		if opts.Use {
			fmt.Fprintf(opts.IO.ErrOut, "Commands now act in account %s.\n", a.Slug)
		}
		fmt.Fprintln(opts.IO.Out, a.Slug)
		return nil
	})
}

// ListOptions are the inputs of `sfp account list`.
type ListOptions struct {
	cmdutil.Deps

	JSON bool
}

// NewCmdList builds `sfp account list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the accounts you belong to, with your role",
		Long: `List the accounts you belong to, with your role in each. A * in the CURRENT
column (current: true in JSON) marks the account chosen with 'sfp account use'.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, listRun),
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []accountJSON{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		out := []accountJSON{}
		for a, err := range c.Accounts.All(ctx) {
			if err != nil {
				return err
			}
			out = append(out, toJSON(&a, cfg.Account))
		}
		return cmdutil.PrintItems(opts.IO, opts.JSON, out, "You are not a member of any account. Create one with `sfp account create NAME`.",
			[]string{"CURRENT", "SLUG", "NAME", "ROLE", "CREATED"}, func(a accountJSON) []string {
				mark := " "
				if a.Current {
					mark = "*"
				}
				return []string{mark, a.Slug, a.Name, a.Role, a.CreatedAt[:10]}
			})
	})
}

// ShowOptions are the inputs of `sfp account show`.
type ShowOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the account: the argument, or the chosen one
	JSON  bool
}

// showJSON is the --json shape of `sfp account show`.
type showJSON struct {
	accountJSON
	Members []memberJSON `json:"members"`
}

// NewCmdShow builds `sfp account show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "show [SLUG]",
		Short: "Show an account and its members",
		Long: `Show an account (by default the one commands act in), your role in it, and
its members. Viewers and above may.`,
		Args: cobra.MaximumNArgs(1),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Scope.Account = args[0]
			}
			return nil
		}, runF, showRun),
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", showJSON{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
		a := t.Account
		members, err := c.Accounts.Members(ctx, a.ID)
		if err != nil {
			return err
		}
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, showJSON{toJSON(a, cfg.Account), membersJSON(members)})
		}
		if err := cmdutil.PrintFields(opts.IO.Out, "Account", a.Slug, "Name", a.Name, "ID", a.ID, "Your role", string(a.Role),
			"Created", cmdutil.FormatTime(a.CreatedAt)); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out)
		return printMembers(opts.IO, members)
	})
}

// UseOptions are the inputs of `sfp account use`.
type UseOptions struct {
	cmdutil.Deps

	Account string
}

// NewCmdUse builds `sfp account use`.
func NewCmdUse(f *cmdutil.Factory, runF func(context.Context, *UseOptions) error) *cobra.Command {
	opts := &UseOptions{Deps: f.UserDeps()}
	return &cobra.Command{
		Use:   "use SLUG",
		Short: "Choose the account later commands act in",
		Long: `Choose the account that commands act in when they are not given --account. The
choice is kept in the configuration directory with the session; logging in as
another user or to another server forgets it.`,
		Args: cmdutil.ExactArgs(1, "give the account's slug"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Account), runF, useRun),
	}
}

func useRun(ctx context.Context, opts *UseOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		a, err := c.Accounts.Get(ctx, opts.Account)
		if err != nil {
			return err
		}
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		cfg.Account = a.Slug
		if err := cfg.Save(); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Commands now act in account %s (your role: %s).\n", a.Slug, a.Role)
		return nil
	})
}
