package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// Scope is what a command acts in, as the user named it: an account (slug
// or id), a project (identifier org/repo, or id) and an environment of
// that project (name or id). Every command that acts inside an account
// resolves its Scope with Resolve, so the rules below hold everywhere:
//
//   - a project named by id is found wherever it is, and brings its
//     account; no account needs choosing;
//   - otherwise the account is --account, else the one chosen with
//     `sfp account use`, else the user's only account;
//   - an environment is looked up in the project.
type Scope struct {
	Account     string
	Project     string
	Environment string
}

// Need says which parts of a Scope a command cannot do without. Parts the
// user names are resolved whether needed or not (they are filters).
type Need struct {
	// Account: resolve an account even when the user named none.
	Account bool
	// Project: the user must name a project.
	Project bool
	// Environment: the user must name an environment (and so a project).
	Environment bool
}

// Target is a resolved Scope; parts neither needed nor named are nil. When
// the project was named by id, Account holds only the project's account id.
type Target struct {
	Account     *client.Account
	Project     *client.Project
	Environment *client.Environment
}

// AccountID is the account's id, or "" (no filter).
func (t *Target) AccountID() string {
	if t.Account == nil {
		return ""
	}
	return t.Account.ID
}

// ProjectID is the project's id, or "" (no filter).
func (t *Target) ProjectID() string {
	if t.Project == nil {
		return ""
	}
	return t.Project.ID
}

// errWhichProject is the usage error of a command that needs a project.
var errWhichProject = FlagErrorf("which project? pass --project IDENTIFIER (org/repo) or id")

// Check reports, before anything is sent, a part the command needs that
// the user did not name, as a usage error.
func (s Scope) Check(need Need) error {
	if (need.Project || need.Environment || s.Environment != "") && s.Project == "" {
		return errWhichProject
	}
	if need.Environment && s.Environment == "" {
		return FlagErrorf("which environment? pass its name or id")
	}
	return nil
}

// Resolve finds the rows the scope names, with c. config is read only when
// the account must be chosen for the user.
func (s Scope) Resolve(ctx context.Context, c *client.Client, config ConfigFunc, need Need) (*Target, error) {
	if err := s.Check(need); err != nil {
		return nil, err
	}
	t := &Target{}
	var err error
	switch {
	case client.IsUUID(s.Project):
		if t.Project, err = c.Projects.Get(ctx, s.Project); err != nil {
			return nil, err
		}
		t.Account = &client.Account{ID: t.Project.AccountID}
	case s.Project != "" || s.Account != "" || need.Account:
		if t.Account, err = resolveAccount(ctx, c, config, s.Account); err != nil {
			return nil, err
		}
		if s.Project != "" {
			if t.Project, err = t.FindProject(ctx, c, s.Project); err != nil {
				return nil, err
			}
		}
	}
	if s.Environment != "" {
		if client.IsUUID(s.Environment) {
			t.Environment, err = c.Environments.Get(ctx, s.Environment)
		} else {
			t.Environment, err = c.Environments.GetByName(ctx, t.Project.ID, s.Environment)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// FindProject finds a project by id wherever it is, or by identifier in
// the target's account: for commands that name several projects.
func (t *Target) FindProject(ctx context.Context, c *client.Client, ref string) (*client.Project, error) {
	if client.IsUUID(ref) {
		return c.Projects.Get(ctx, ref)
	}
	return c.Projects.GetByIdentifier(ctx, t.Account.ID, ref)
}

// AccountNotChosenError lists the accounts when the user has several and
// named none.
type AccountNotChosenError struct{ Slugs []string }

func (e *AccountNotChosenError) Error() string {
	return fmt.Sprintf("which account? you belong to %s — pass --account SLUG or choose one with `sfp account use SLUG`",
		strings.Join(e.Slugs, ", "))
}

// ExitCode implements Coder.
func (e *AccountNotChosenError) ExitCode() int { return ExitUsage }

// resolveAccount finds the account a command acts in: ref (slug or id),
// else the account chosen with `sfp account use`, else the user's only
// account; otherwise it lists the accounts.
func resolveAccount(ctx context.Context, c *client.Client, config ConfigFunc, ref string) (*client.Account, error) {
	if ref != "" {
		return c.Accounts.Get(ctx, ref)
	}
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	if cfg.Account != "" {
		a, err := c.Accounts.Get(ctx, cfg.Account)
		if errors.Is(err, client.ErrNotFound) {
			return nil, fmt.Errorf("the account chosen with `sfp account use` (%s) is gone or you left it; choose another with `sfp account use SLUG`: %w", cfg.Account, err)
		}
		return a, err
	}
	var slugs []string
	var only *client.Account
	for a, err := range c.Accounts.All(ctx) {
		if err != nil {
			return nil, err
		}
		slugs = append(slugs, a.Slug)
		only = &a
	}
	switch len(slugs) {
	case 0:
		return nil, &client.Error{Op: "find account", StatusCode: 404, Code: "PT404",
			Message: "you are not a member of any account",
			Hint:    "create one with `sfp account create NAME`, or ask an owner to add you"}
	case 1:
		return only, nil
	}
	return nil, &AccountNotChosenError{Slugs: slugs}
}

// AccountFlag registers --account.
func (s *Scope) AccountFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.Account, "account", "", "Account `SLUG` or id (default: the one chosen with 'sfp account use', else your only account)")
}

// ProjectFlag registers --project (-p) with the command's own description.
func (s *Scope) ProjectFlag(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVarP(&s.Project, "project", "p", "", usage)
}

// Open opens the client and resolves s with it: what most commands do
// first. The caller closes the client.
func (d Deps) Open(ctx context.Context, s Scope, need Need) (*client.Client, *Target, error) {
	if err := s.Check(need); err != nil {
		return nil, nil, err
	}
	c, err := d.Client(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.Resolve(ctx, c, d.Config, need)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, t, nil
}

// WithTarget opens the client, resolves s with it (as Open), runs fn with
// both and closes the client: the frame of most commands' runs.
func (d Deps) WithTarget(ctx context.Context, s Scope, need Need, fn func(*client.Client, *Target) error) error {
	c, t, err := d.Open(ctx, s, need)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c, t)
}
