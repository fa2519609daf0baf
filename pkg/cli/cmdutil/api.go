package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// loginHint is how to log in, for error messages.
const loginHint = "run `sfp login --server URL --api-key ANON_KEY --email EMAIL` (or `sfp login -t TENANT --email EMAIL` for a local tenant)"

// AuthError is a missing or unusable login; it exits with ExitAuth.
type AuthError struct{ Msg string }

func (e *AuthError) Error() string { return e.Msg }

// ExitCode implements Coder.
func (e *AuthError) ExitCode() int { return ExitAuth }

// Is makes errors.Is(err, client.ErrUnauthenticated) hold.
func (e *AuthError) Is(target error) bool { return target == client.ErrUnauthenticated }

// configDir resolves the configuration directory.
func (f *Factory) configDir() (string, error) {
	if f.ConfigDir != nil {
		return f.ConfigDir()
	}
	return DefaultConfigDir(f.Getenv)
}

// LoadConfig returns the configuration and its directory.
func (f *Factory) LoadConfig() (*Config, string, error) {
	dir, err := f.configDir()
	if err != nil {
		return nil, "", err
	}
	cfg, err := LoadConfig(dir)
	return cfg, dir, err
}

// ClientOpts are the options of every API client the CLI creates.
func (f *Factory) ClientOpts(extra ...client.Option) []client.Option {
	opts := []client.Option{client.WithUserAgent("sfp-cli")}
	if l := f.debugLogger(); l != nil {
		opts = append(opts, client.WithLogger(l))
	}
	if f.ClientOptions != nil {
		opts = append(opts, f.ClientOptions()...)
	}
	return append(opts, extra...)
}

// debugLogger logs client requests to stderr when SFP_DEBUG=1.
func (f *Factory) debugLogger() *slog.Logger {
	if f.Getenv("SFP_DEBUG") == "1" && f.Logger != nil {
		return f.Logger()
	}
	return nil
}

// UserClient returns a client signed in with the stored session, and the
// configuration. Without a session it fails with an AuthError that says
// how to log in. The client refreshes and saves the session as needed;
// the caller closes it.
func (f *Factory) UserClient(ctx context.Context) (*client.Client, *Config, error) {
	cfg, dir, err := f.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	server, key := cfg.Server, cfg.APIKey
	if env := f.Getenv("SFP_SERVER_URL"); env != "" && !sameURL(env, server) {
		if server == "" {
			return nil, nil, &AuthError{Msg: fmt.Sprintf("not logged in to %s — %s", env, loginHint)}
		}
		return nil, nil, &AuthError{Msg: fmt.Sprintf("you are logged in to %s, but SFP_SERVER_URL is %s — run `sfp login --server %s --email EMAIL` to log in there", server, env, env)}
	}
	if env := f.Getenv("SFP_API_KEY"); env != "" {
		key = env
	}
	store := SessionStore(dir)
	sess, err := store.Load(ctx)
	if err != nil {
		return nil, nil, &AuthError{Msg: fmt.Sprintf("the stored session is unreadable (%v) — %s", err, loginHint)}
	}
	if sess == nil || server == "" || key == "" {
		return nil, nil, &AuthError{Msg: "not logged in — " + loginHint}
	}
	c, err := client.New(server, key, f.ClientOpts(client.WithSessionStore(store))...)
	if err != nil {
		return nil, nil, err
	}
	return c, cfg, nil
}

func sameURL(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// ServiceFlags select the service_role key for commands that act as a
// worker: --service-key (or SFP_SERVICE_KEY), or the key of a local tenant
// with -t NAME. The server is --server, SFP_SERVER_URL, the tenant's URL or
// the one logged in to.
type ServiceFlags struct {
	ServiceKey string
	Tenant     string
	BaseDir    string
	Server     string
}

// Register adds the flags to cmd.
func (s *ServiceFlags) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.ServiceKey, "service-key", "", "The tenant's service_role key (env SFP_SERVICE_KEY)")
	cmd.Flags().StringVarP(&s.Tenant, "tenant", "t", "", "Use the URL and service_role key of this local tenant")
	cmd.Flags().StringVar(&s.BaseDir, "base-dir", "", "Directory holding local tenants (env SFP_BASE_DIR; default ./sfp-server)")
	cmd.Flags().StringVar(&s.Server, "server", "", "Tenant URL (env SFP_SERVER_URL)")
}

// Given reports whether worker credentials were asked for (flags or
// environment).
func (s *ServiceFlags) Given(f *Factory) bool {
	return s.ServiceKey != "" || s.Tenant != "" || f.Getenv("SFP_SERVICE_KEY") != ""
}

// ServiceClient returns a worker client with the service_role key.
func (f *Factory) ServiceClient(ctx context.Context, s *ServiceFlags) (*client.Client, error) {
	key := s.ServiceKey
	if key == "" {
		key = f.Getenv("SFP_SERVICE_KEY")
	}
	server := s.Server
	if server == "" {
		server = f.Getenv("SFP_SERVER_URL")
	}
	name := s.Tenant
	if name == "" && key == "" {
		name = f.Getenv("SFP_TENANT")
	}
	if name != "" && (key == "" || server == "") {
		base, err := tenant.ResolveBaseDir(s.BaseDir, f.Getenv)
		if err != nil {
			return nil, err
		}
		t, err := tenant.Load(base, name)
		if err != nil {
			return nil, err
		}
		if key == "" {
			key = t.Secrets.ServiceRoleKey
		}
		if server == "" {
			server = t.URL()
		}
	}
	if key == "" {
		return nil, &AuthError{Msg: "this command acts as a worker and needs the tenant's service_role key: pass --service-key KEY, set SFP_SERVICE_KEY, or pass -t TENANT for a local tenant"}
	}
	if server == "" {
		if cfg, _, err := f.LoadConfig(); err == nil {
			server = cfg.Server
		}
	}
	if server == "" {
		return nil, FlagErrorf("which server? pass --server URL, set SFP_SERVER_URL, or -t TENANT")
	}
	return client.New(server, key, f.ClientOpts()...)
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

// WithAccount runs fn with the signed-in user's client and the account
// ResolveAccount picks for flag, closing the client afterwards.
func (f *Factory) WithAccount(ctx context.Context, flag string, fn func(context.Context, *client.Client, *client.Account) error) error {
	c, cfg, err := f.UserClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	a, err := ResolveAccount(ctx, c, cfg, flag)
	if err != nil {
		return err
	}
	return fn(ctx, c, a)
}

// ResolveAccount finds the account a command acts in: flag (slug or id),
// else the account chosen with `sfp account use`, else the user's only
// account; otherwise it lists the accounts.
func ResolveAccount(ctx context.Context, c *client.Client, cfg *Config, flag string) (*client.Account, error) {
	ref := flag
	if ref == "" && cfg != nil {
		ref = cfg.Account
	}
	if ref != "" {
		a, err := c.Accounts.Get(ctx, ref)
		if err != nil && flag == "" && errors.Is(err, client.ErrNotFound) {
			return nil, fmt.Errorf("the account chosen with `sfp account use` (%s) is gone or you left it; choose another with `sfp account use SLUG`: %w", ref, err)
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

// ResolveProject finds a project of the account by id or identifier.
func ResolveProject(ctx context.Context, c *client.Client, accountID, ref string) (*client.Project, error) {
	if ref == "" {
		return nil, FlagErrorf("which project? pass --project IDENTIFIER (org/repo) or id")
	}
	if client.IsUUID(ref) {
		return c.Projects.Get(ctx, ref)
	}
	return c.Projects.GetByIdentifier(ctx, accountID, ref)
}

// ResolveEnvironment finds an environment of the project by id or name.
func ResolveEnvironment(ctx context.Context, c *client.Client, projectID, ref string) (*client.Environment, error) {
	if client.IsUUID(ref) {
		return c.Environments.Get(ctx, ref)
	}
	return c.Environments.GetByName(ctx, projectID, ref)
}

// IDRunE is the RunE of a command whose one argument is a resource's id (a
// UUID) and that acts as the logged-in user: it checks the id and stores it
// with setID, hands the options to runF (flag tests), else opens the user's
// client and calls fn with it.
func IDRunE[O any](f *Factory, kind string, opts *O, setID func(string), runF func(context.Context, *O) error,
	fn func(ctx context.Context, c *client.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if !client.IsUUID(args[0]) {
			return FlagErrorf("%q is not a %s id (a UUID)", args[0], kind)
		}
		setID(args[0])
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		ctx := cmd.Context()
		c, _, err := f.UserClient(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		return fn(ctx, c)
	}
}
