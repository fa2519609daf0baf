package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// WhoamiOptions are the inputs of `sfp whoami`.
type WhoamiOptions struct {
	cmdutil.Deps

	JSON bool
}

// whoamiJSON is the --json shape of `sfp whoami`.
type whoamiJSON struct {
	Server   string        `json:"server"`
	User     userRef       `json:"user"`
	Account  string        `json:"account,omitempty"`
	Accounts []accountJSON `json:"accounts"`
}

type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type accountJSON struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// NewCmdWhoami builds `sfp whoami`.
func NewCmdWhoami(f *cmdutil.Factory, runF func(context.Context, *WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in user, the server and your accounts",
		Long: `Check the session with the server and print the server, your user, the account
commands act in, and your accounts with your role in each. In JSON, user is
{id, email} and accounts are [{slug, name, role}].`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, whoamiRun),
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", whoamiJSON{})
	return cmd
}

func whoamiRun(ctx context.Context, opts *WhoamiOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		u, err := c.Auth.User(ctx)
		if err != nil {
			return err
		}
		out := whoamiJSON{Server: cfg.Server, User: userRef{ID: u.ID, Email: u.Email}, Account: cfg.Account, Accounts: []accountJSON{}}
		for a, err := range c.Accounts.All(ctx) {
			if err != nil {
				return err
			}
			out.Accounts = append(out.Accounts, accountJSON{Slug: a.Slug, Name: a.Name, Role: string(a.Role)})
		}
		if out.Account == "" && len(out.Accounts) == 1 {
			out.Account = out.Accounts[0].Slug
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, out)
		}
		current := out.Account
		switch {
		case len(out.Accounts) == 0:
			current = "(none yet: create one with `sfp account create NAME`, or ask an owner to add you)"
		case current == "":
			current = "(none chosen: `sfp account use SLUG`)"
		}
		if err := cmdutil.PrintFields(opts.IO.Out, "Server", out.Server, "User", fmt.Sprintf("%s (%s)", u.Email, u.ID), "Account", current); err != nil {
			return err
		}
		if len(out.Accounts) == 0 {
			return nil
		}
		fmt.Fprintln(opts.IO.Out)
		t := cmdutil.NewTable(opts.IO.Out, "ACCOUNT", "NAME", "ROLE")
		for _, a := range out.Accounts {
			t.Row(a.Slug, a.Name, a.Role)
		}
		return t.Flush()
	})
}

// LogoutOptions are the inputs of `sfp logout`.
type LogoutOptions struct {
	cmdutil.Deps
}

// NewCmdLogout builds `sfp logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{Deps: f.UserDeps()}
	return &cobra.Command{
		Use:   "logout",
		Short: "Log out: revoke the session and forget it",
		Long: `Revoke the session's refresh tokens on the server (if it can be reached) and
delete the stored session. The server URL and anon key stay configured, so the
next login needs only --email.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, logoutRun),
	}
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	c, err := opts.Client(ctx)
	var ae *cmdutil.AuthError
	if errors.As(err, &ae) {
		fmt.Fprintln(opts.IO.ErrOut, "Not logged in.")
		return nil
	}
	if err != nil {
		return err
	}
	defer c.Close()
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	err = c.Auth.SignOut(ctx)
	if errors.Is(err, client.ErrUnreachable) {
		// The local session is gone anyway; say the server was not told.
		fmt.Fprintf(opts.IO.ErrOut, "Logged out locally; %s could not be reached to revoke the session.\n", cfg.Server)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged out of %s.\n", cfg.Server)
	return nil
}
