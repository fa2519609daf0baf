// Package auth holds `sfp signup`, `sfp login`, `sfp logout` and `sfp whoami`.
package auth

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// LoginOptions are the inputs of `sfp login` and `sfp signup`: signing up
// is logging in preceded by creating the user.
type LoginOptions struct {
	IO     *cmdutil.IOStreams
	Config cmdutil.ConfigFunc
	// NewClient opens a client for a server and key (Factory.NewClient).
	NewClient func(server, key string, extra ...client.Option) (*client.Client, error)
	Getenv    func(string) string

	// SignUp creates the user first (`sfp signup`).
	SignUp        bool
	Server        string
	APIKey        string
	Tenant        string
	BaseDir       string
	Email         string
	PasswordStdin bool
	JSON          bool
	// Provider signs in with an OAuth provider in the browser (PKCE);
	// Scopes are extra scopes to ask it for.
	Provider string
	Scopes   string
	// SSO signs in with the SAML identity provider of a domain.
	SSO string
	// OpenBrowser opens a URL (default: the desktop's browser); tests
	// follow the redirects instead.
	OpenBrowser func(url string) error
}

// userJSON is the --json shape of the signed-in user.
type userJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Server string `json:"server"`
}

// NewCmdLogin builds `sfp login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Config: f.Config, NewClient: f.NewClient, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "login (--email EMAIL | --provider NAME | --sso DOMAIN) [--server URL --api-key KEY | -t TENANT] [--password-stdin]",
		Short: "Log in to a tenant with email and password, an OAuth provider or SSO",
		Long: `Sign in to a tenant and keep the session in the configuration directory
(SFP_CONFIG_DIR, default ~/.config/sfp; files are mode 0600). Later commands
use it and refresh it automatically. A wrong password exits 4.

The server URL and anon key come from --server and --api-key, else
SFP_SERVER_URL and SFP_API_KEY, else a local tenant named with -t (read from
--base-dir or SFP_BASE_DIR), else the last login. The password is read from
stdin's first line with --password-stdin, or asked for on a terminal.

With --provider (github, azure, gitlab, google, keycloak: those the tenant
enabled) or --sso DOMAIN the sign-in happens in a browser, with PKCE: sfp
listens on a loopback port the system picks, opens the browser when it can
and always prints the URL; the browser comes back to that port with a code
that sfp exchanges for the session.

A user with a verified second factor (sfp mfa enroll) is then asked for the
current code of their authenticator app — on a terminal, or from the next
line of stdin — and the session is raised to aal2.`,
		Example: `  sfp login -t acme --email ops@acme.test
  echo "$PASSWORD" | sfp login --server https://sfp.acme.test --api-key "$ANON_KEY" --email ops@acme.test --password-stdin
  sfp login -t acme --provider github
  sfp login --server https://sfp.acme.test --api-key "$ANON_KEY" --sso acme.com`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.checkLogin, runF, func(ctx context.Context, o *LoginOptions) error {
			if o.inBrowser() {
				return browserLoginRun(ctx, o)
			}
			return loginRun(ctx, o)
		}),
	}
	registerLoginFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Sign in in a browser with this OAuth provider (github, azure, gitlab, google, keycloak)")
	cmd.Flags().StringVar(&opts.Scopes, "scopes", "", "Extra OAuth scopes to ask the provider for (comma-separated; with --provider)")
	cmd.Flags().StringVar(&opts.SSO, "sso", "", "Sign in in a browser with the SSO (SAML) provider of this domain")
	return cmd
}

func registerLoginFlags(cmd *cobra.Command, opts *LoginOptions) {
	cmd.Flags().StringVar(&opts.Server, "server", "", "Tenant URL (env SFP_SERVER_URL)")
	cmd.Flags().StringVar(&opts.APIKey, "api-key", "", "The tenant's publishable key (sb_publishable_…) or legacy anon key (env SFP_API_KEY)")
	cmd.Flags().StringVarP(&opts.Tenant, "tenant", "t", "", "Take URL and publishable key from this local tenant (env SFP_TENANT)")
	cmd.Flags().StringVar(&opts.BaseDir, "base-dir", "", "Directory holding local tenants (env SFP_BASE_DIR; default ./sfp-server)")
	cmd.Flags().StringVar(&opts.Email, "email", "", "Email of the user (env SFP_EMAIL)")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "Read the password from stdin (first line)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "Print the signed-in user as JSON", userJSON{})
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	return login(ctx, opts, func(lt *loginTarget, c *client.Client) (*client.Session, error) {
		password, err := readPassword(opts)
		if err != nil {
			return nil, err
		}
		return signIn(ctx, c, opts, lt.server, password)
	})
}

// login is every way of signing in (password or browser): it finds the
// target, opens a client on it, has session sign in with it and keeps the
// new session (finishLogin). A nil session with a nil error is a sign-up
// that waits for confirmation: nothing to keep.
func login(ctx context.Context, opts *LoginOptions, session func(*loginTarget, *client.Client) (*client.Session, error)) error {
	lt, err := newLoginTarget(opts)
	if err != nil {
		return err
	}
	c, err := lt.client(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	sess, err := session(lt, c)
	if err != nil || sess == nil {
		return err
	}
	return finishLogin(ctx, opts, lt, c, sess)
}

// loginTarget is where a login signs in and keeps its session: the server
// and API key serverAndKey finds, and the configuration they are saved in.
type loginTarget struct {
	cfg         *cmdutil.Config
	server, key string
}

// newLoginTarget loads the configuration and finds the server and key:
// the opening of every way of signing in (password or browser).
func newLoginTarget(opts *LoginOptions) (*loginTarget, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	server, key, err := serverAndKey(opts, cfg)
	if err != nil {
		return nil, err
	}
	return &loginTarget{cfg: cfg, server: server, key: key}, nil
}

// client opens a client on the target's server that keeps the session in
// the configuration; the caller closes it. A server URL it cannot use is
// a usage error: it came from the flags, the environment or a tenant.
func (lt *loginTarget) client(opts *LoginOptions) (*client.Client, error) {
	c, err := opts.NewClient(lt.server, lt.key, client.WithSessionStore(lt.cfg.SessionStore()))
	if err != nil {
		return nil, cmdutil.FlagErrorf("%v", err)
	}
	return c, nil
}

// serverAndKey finds the server and API key (publishable or legacy anon):
// flags, environment, a local tenant, then the last login.
func serverAndKey(opts *LoginOptions, cfg *cmdutil.Config) (server, key string, err error) {
	server = firstOf(opts.Server, opts.Getenv("SFP_SERVER_URL"))
	key = firstOf(opts.APIKey, opts.Getenv("SFP_API_KEY"))
	name := firstOf(opts.Tenant, opts.Getenv("SFP_TENANT"))
	if name != "" && (server == "" || key == "") {
		t, err := cmdutil.LocalTenant(opts.Getenv, opts.BaseDir, name)
		if err != nil {
			return "", "", err
		}
		server = firstOf(server, t.URL())
		key = firstOf(key, t.ClientKey())
	}
	server = firstOf(server, cfg.Server)
	if key == "" && cmdutil.SameURL(server, cfg.Server) {
		key = cfg.APIKey
	}
	if server == "" {
		return "", "", cmdutil.FlagErrorf("which server? pass --server URL (or -t TENANT for a local tenant)")
	}
	if key == "" {
		return "", "", cmdutil.FlagErrorf("no API key for %s: pass --api-key PUBLISHABLE_KEY (`sfp server keys -t NAME` prints it)", server)
	}
	return server, key, nil
}

// signIn signs up first with SignUp, then signs in. A sign-up that waits
// for confirmation is reported here and returns a nil session.
func signIn(ctx context.Context, c *client.Client, opts *LoginOptions, server, password string) (*client.Session, error) {
	if !opts.SignUp {
		return c.Auth.SignInWithPassword(ctx, opts.Email, password)
	}
	u, sess, err := c.Auth.SignUp(ctx, opts.Email, password)
	if err != nil || sess != nil {
		return sess, err
	}
	if opts.JSON {
		return nil, cmdutil.WriteJSON(opts.IO.Out, userJSON{ID: u.ID, Email: u.Email, Server: strings.TrimRight(server, "/")})
	}
	fmt.Fprintf(opts.IO.ErrOut, "Signed up %s on %s; the address must be confirmed before you can log in "+
		"(the tenant does not confirm sign-ups automatically: an administrator confirms users).\n", u.Email, server)
	return nil, nil
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
		// One line only: a TOTP code may follow on the next (stepUpMFA).
		pw, err := cmdutil.ReadLine(opts.IO.In)
		if err != nil {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
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

// inBrowser says whether the user signs in in a browser (--provider or
// --sso) rather than with a password.
func (opts *LoginOptions) inBrowser() bool { return opts.Provider != "" || opts.SSO != "" }

// checkLogin checks that the flags name one way to sign in.
func (opts *LoginOptions) checkLogin() error {
	if opts.inBrowser() {
		if opts.Provider != "" && opts.SSO != "" || opts.Email != "" || opts.PasswordStdin {
			return cmdutil.FlagErrorf("pass one of --email, --provider and --sso")
		}
		return nil
	}
	return opts.checkEmail("which user? pass --email EMAIL, or --provider NAME or --sso DOMAIN to sign in in a browser")
}

// checkEmail takes the email from SFP_EMAIL when --email is not given, and
// refuses with missing when neither is.
func (opts *LoginOptions) checkEmail(missing string) error {
	if opts.Email == "" {
		opts.Email = opts.Getenv("SFP_EMAIL")
	}
	if opts.Email == "" {
		return cmdutil.FlagErrorf("%s", missing)
	}
	return nil
}

// NewCmdSignup builds `sfp signup`.
func NewCmdSignup(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Config: f.Config, NewClient: f.NewClient, Getenv: f.Getenv, SignUp: true}
	cmd := &cobra.Command{
		Use:   "signup --email EMAIL [--server URL --api-key KEY | -t TENANT] [--password-stdin]",
		Short: "Create a user on a tenant and log in",
		Long: `Sign up with email and password (GoTrue's /signup), then keep the session as
'sfp login' does. When the tenant confirms sign-ups automatically (auth.autoconfirm,
the default of new embedded tenants) you are logged in at once; otherwise the user
waits for confirmation, which on the embedded runtime (it sends no mail) an
administrator gives. The server and key are found as for 'sfp login'.

A taken address or a weak password exits 1 with the server's message. A new
user sees nothing until they create an account or an owner adds them to one.`,
		Example: `  sfp signup -t dev --email me@example.test
  echo "$PASSWORD" | sfp signup --server https://sfp.acme.test --api-key "$ANON_KEY" --email me@acme.test --password-stdin`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, func() error { return opts.checkEmail("which email? pass --email EMAIL") }, runF, loginRun),
	}
	registerLoginFlags(cmd, opts)
	return cmd
}
