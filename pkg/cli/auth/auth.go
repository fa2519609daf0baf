// Package auth holds `sfp signup`, `sfp login`, `sfp logout` and `sfp whoami`.
package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// LoginOptions are the inputs of `sfp login` and `sfp signup`.
type LoginOptions struct {
	// SignUp creates the user first (`sfp signup`).
	SignUp        bool
	IO            *cmdutil.IOStreams
	Server        string
	APIKey        string
	Tenant        string
	BaseDir       string
	Email         string
	PasswordStdin bool
	JSON          bool
}

// NewCmdLogin builds `sfp login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "login --email EMAIL [--server URL --api-key KEY | -t TENANT] [--password-stdin]",
		Short: "Log in to a tenant with email and password",
		Long: `Sign in to a tenant and keep the session in the configuration directory
(SFP_CONFIG_DIR, default ~/.config/sfp; files are mode 0600). Later commands
use it and refresh it automatically.

The server URL and anon key come from --server and --api-key, else
SFP_SERVER_URL and SFP_API_KEY, else a local tenant named with -t (read from
--base-dir or SFP_BASE_DIR), else the last login. The password is read from
stdin with --password-stdin, or asked for on a terminal.`,
		Example: `  sfp login -t acme --email ops@acme.test
  echo "$PASSWORD" | sfp login --server https://sfp.acme.test --api-key "$ANON_KEY" --email ops@acme.test --password-stdin`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Email == "" {
				opts.Email = f.Getenv("SFP_EMAIL")
			}
			if opts.Email == "" {
				return cmdutil.FlagErrorf("which user? pass --email EMAIL")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loginRun(cmd.Context(), f, opts)
		},
	}
	registerLoginFlags(cmd, opts)
	return cmd
}

func registerLoginFlags(cmd *cobra.Command, opts *LoginOptions) {
	cmd.Flags().StringVar(&opts.Server, "server", "", "Tenant URL (env SFP_SERVER_URL)")
	cmd.Flags().StringVar(&opts.APIKey, "api-key", "", "The tenant's anon key (env SFP_API_KEY)")
	cmd.Flags().StringVarP(&opts.Tenant, "tenant", "t", "", "Take URL and anon key from this local tenant (env SFP_TENANT)")
	cmd.Flags().StringVar(&opts.BaseDir, "base-dir", "", "Directory holding local tenants (env SFP_BASE_DIR; default ./sfp-server)")
	cmd.Flags().StringVar(&opts.Email, "email", "", "Email of the user (env SFP_EMAIL)")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "Read the password from stdin (first line)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the signed-in user as JSON")
}

// NewCmdSignup builds `sfp signup`.
func NewCmdSignup(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, SignUp: true}
	cmd := &cobra.Command{
		Use:   "signup --email EMAIL [--server URL --api-key KEY | -t TENANT] [--password-stdin]",
		Short: "Create a user on a tenant and log in",
		Long: `Sign up with email and password (GoTrue's /signup), then keep the session as
'sfp login' does. When the tenant confirms sign-ups automatically (auth.autoconfirm,
the default of new embedded tenants) you are logged in at once; otherwise the user
waits for confirmation, which on the embedded runtime (it sends no mail) an
administrator gives. The server and key are found as for 'sfp login'.`,
		Example: `  sfp signup -t dev --email me@example.test
  echo "$PASSWORD" | sfp signup --server https://sfp.acme.test --api-key "$ANON_KEY" --email me@acme.test --password-stdin`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Email == "" {
				opts.Email = f.Getenv("SFP_EMAIL")
			}
			if opts.Email == "" {
				return cmdutil.FlagErrorf("which email? pass --email EMAIL")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loginRun(cmd.Context(), f, opts)
		},
	}
	registerLoginFlags(cmd, opts)
	return cmd
}

func loginRun(ctx context.Context, f *cmdutil.Factory, opts *LoginOptions) error {
	cfg, dir, err := f.LoadConfig()
	if err != nil {
		return err
	}
	server := firstOf(opts.Server, f.Getenv("SFP_SERVER_URL"))
	key := firstOf(opts.APIKey, f.Getenv("SFP_API_KEY"))
	name := firstOf(opts.Tenant, f.Getenv("SFP_TENANT"))
	if name != "" && (server == "" || key == "") {
		base, err := tenant.ResolveBaseDir(opts.BaseDir, f.Getenv)
		if err != nil {
			return err
		}
		t, err := tenant.Load(base, name)
		if err != nil {
			return err
		}
		server = firstOf(server, t.URL())
		key = firstOf(key, t.Secrets.AnonKey)
	}
	if server == "" {
		server = cfg.Server
	}
	if key == "" && strings.TrimRight(server, "/") == strings.TrimRight(cfg.Server, "/") {
		key = cfg.APIKey
	}
	if server == "" {
		return cmdutil.FlagErrorf("which server? pass --server URL (or -t TENANT for a local tenant)")
	}
	if key == "" {
		return cmdutil.FlagErrorf("no API key for %s: pass --api-key ANON_KEY (`sfp server keys -t NAME` prints it)", server)
	}
	password, err := readPassword(opts)
	if err != nil {
		return err
	}
	store := cmdutil.SessionStore(dir)
	c, err := client.New(server, key, f.ClientOpts(client.WithSessionStore(store))...)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	defer c.Close()
	var sess *client.Session
	if opts.SignUp {
		var u *client.User
		u, sess, err = c.Auth.SignUp(ctx, opts.Email, password)
		if err != nil {
			return err
		}
		if sess == nil {
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, userJSON{ID: u.ID, Email: u.Email, Server: strings.TrimRight(server, "/")})
			}
			fmt.Fprintf(opts.IO.ErrOut, "Signed up %s on %s; the address must be confirmed before you can log in "+
				"(the tenant does not confirm sign-ups automatically: an administrator confirms users).\n", u.Email, server)
			return nil
		}
	} else {
		sess, err = c.Auth.SignInWithPassword(ctx, opts.Email, password)
		if err != nil {
			return err
		}
	}
	if strings.TrimRight(cfg.Server, "/") != strings.TrimRight(server, "/") || cfg.Email != sess.User.Email {
		cfg.Account = "" // the chosen account belongs to another server or user
	}
	cfg.Server, cfg.APIKey, cfg.Email = strings.TrimRight(server, "/"), key, sess.User.Email
	if err := cfg.Save(dir); err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, userJSON{ID: sess.User.ID, Email: sess.User.Email, Server: cfg.Server})
	}
	if opts.SignUp {
		fmt.Fprintf(opts.IO.ErrOut, "Signed up and logged in to %s as %s.\n", cfg.Server, sess.User.Email)
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged in to %s as %s.\n", cfg.Server, sess.User.Email)
	return nil
}

type userJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Server string `json:"server"`
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// readPassword reads the password from stdin (--password-stdin) or asks
// for it on a terminal without echo.
func readPassword(opts *LoginOptions) (string, error) {
	if opts.PasswordStdin {
		line, err := bufio.NewReader(io.LimitReader(opts.IO.In, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", cmdutil.FlagErrorf("--password-stdin: stdin holds no password")
		}
		return pw, nil
	}
	if f, ok := opts.IO.In.(*os.File); ok && opts.IO.IsStdinTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "Password for %s: ", opts.Email)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if len(b) == 0 {
			return "", cmdutil.FlagErrorf("no password given")
		}
		return string(b), nil
	}
	return "", cmdutil.FlagErrorf("no terminal to ask for the password: pass --password-stdin and pipe it in")
}

// LogoutOptions are the inputs of `sfp logout`.
type LogoutOptions struct {
	IO *cmdutil.IOStreams
}

// NewCmdLogout builds `sfp logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams}
	return &cobra.Command{
		Use:   "logout",
		Short: "Log out: revoke the session and forget it",
		Long: `Revoke the session's refresh tokens on the server and delete the stored
session. The server URL and anon key stay configured, so the next login needs
only --email.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, cfg, err := f.UserClient(ctx)
			if err != nil {
				var ae *cmdutil.AuthError
				if errors.As(err, &ae) {
					fmt.Fprintln(opts.IO.ErrOut, "Not logged in.")
					return nil
				}
				return err
			}
			defer c.Close()
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
		},
	}
}

// WhoamiOptions are the inputs of `sfp whoami`.
type WhoamiOptions struct {
	IO   *cmdutil.IOStreams
	JSON bool
}

// NewCmdWhoami builds `sfp whoami`.
func NewCmdWhoami(f *cmdutil.Factory, runF func(context.Context, *WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the logged-in user, the server and your accounts",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return whoamiRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

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

func whoamiRun(ctx context.Context, f *cmdutil.Factory, opts *WhoamiOptions) error {
	c, cfg, err := f.UserClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	u, err := c.Auth.User(ctx)
	if err != nil {
		return err
	}
	out := whoamiJSON{Server: cfg.Server, User: userRef{ID: u.ID, Email: u.Email}, Accounts: []accountJSON{}}
	for a, err := range c.Accounts.All(ctx) {
		if err != nil {
			return err
		}
		out.Accounts = append(out.Accounts, accountJSON{Slug: a.Slug, Name: a.Name, Role: string(a.Role)})
	}
	out.Account = cfg.Account
	if out.Account == "" && len(out.Accounts) == 1 {
		out.Account = out.Accounts[0].Slug
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	current := out.Account
	if current == "" {
		current = "(none chosen: `sfp account use SLUG`)"
	}
	cmdutil.PrintFields(opts.IO.Out, "Server", out.Server, "User", fmt.Sprintf("%s (%s)", u.Email, u.ID), "Account", current)
	if len(out.Accounts) > 0 {
		fmt.Fprintln(opts.IO.Out)
		t := cmdutil.NewTable(opts.IO.Out, "ACCOUNT", "NAME", "ROLE")
		for _, a := range out.Accounts {
			t.Row(a.Slug, a.Name, a.Role)
		}
		return t.Flush()
	}
	return nil
}
