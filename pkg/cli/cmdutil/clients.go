package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ClientFunc returns the API client a command acts with; the caller closes
// it. Commands hold one rather than a client so that nothing is opened
// before flags are checked, and tests can hand in their own.
type ClientFunc func(context.Context) (*client.Client, error)

// loginHint is how to log in, for error messages.
const loginHint = "run `sfp login --server URL --api-key ANON_KEY --email EMAIL` (or `sfp login -t TENANT --email EMAIL` for a local tenant)"

// AuthError is a missing or unusable login; it exits with ExitAuth.
type AuthError struct{ Msg string }

func (e *AuthError) Error() string { return e.Msg }

// ExitCode implements Coder.
func (e *AuthError) ExitCode() int { return ExitAuth }

// Is makes errors.Is(err, client.ErrUnauthenticated) hold.
func (e *AuthError) Is(target error) bool { return target == client.ErrUnauthenticated }

// UserClient returns a client signed in with the stored session. Without a
// session it fails with an AuthError that says how to log in. The client
// refreshes and saves the session as needed. It is a ClientFunc.
func (f *Factory) UserClient(ctx context.Context) (*client.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	server, key := cfg.Server, cfg.APIKey
	if env := f.Getenv("SFP_SERVER_URL"); env != "" && !SameURL(env, server) {
		if server == "" {
			return nil, &AuthError{Msg: fmt.Sprintf("not logged in to %s — %s", env, loginHint)}
		}
		return nil, &AuthError{Msg: fmt.Sprintf("you are logged in to %s, but SFP_SERVER_URL is %s — run `sfp login --server %s --email EMAIL` to log in there", server, env, env)}
	}
	if env := f.Getenv("SFP_API_KEY"); env != "" {
		key = env
	}
	store := cfg.SessionStore()
	sess, err := store.Load(ctx)
	if err != nil {
		return nil, &AuthError{Msg: fmt.Sprintf("the stored session is unreadable (%v) — %s", err, loginHint)}
	}
	if sess == nil || server == "" || key == "" {
		return nil, &AuthError{Msg: "not logged in — " + loginHint}
	}
	return f.NewClient(server, key, client.WithSessionStore(store))
}

// SameURL says whether a and b name the same server, a trailing slash
// aside: a login and the environment may spell it either way.
func SameURL(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// ServiceFlags select a service_role key for commands that act as a worker:
// --service-key (or SFP_SERVICE_KEY) — a secret key (sb_secret_…) or a
// legacy service_role key — or the secret key of a local tenant with -t NAME. The server is --server, SFP_SERVER_URL, the tenant's URL or
// the one logged in to.
type ServiceFlags struct {
	ServiceKey string
	Tenant     string
	BaseDir    string
	Server     string
}

// Register adds the flags to cmd.
func (s *ServiceFlags) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.ServiceKey, "service-key", "", "The tenant's secret key (sb_secret_…) or legacy service_role key (env SFP_SERVICE_KEY)")
	cmd.Flags().StringVarP(&s.Tenant, "tenant", "t", "", "Use the URL and secret key of this local tenant")
	cmd.Flags().StringVar(&s.BaseDir, "base-dir", "", "Directory holding local tenants (env SFP_BASE_DIR; default ./sfp-server)")
	cmd.Flags().StringVar(&s.Server, "server", "", "Tenant URL (env SFP_SERVER_URL)")
}

// Given reports whether worker credentials were asked for (flags or
// environment).
func (s *ServiceFlags) Given(getenv func(string) string) bool {
	return s.ServiceKey != "" || s.Tenant != "" || getenv("SFP_SERVICE_KEY") != ""
}

// ServiceClient returns a worker client with a service_role key.
func (f *Factory) ServiceClient(s *ServiceFlags) (*client.Client, error) {
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
		t, err := LocalTenant(f.Getenv, s.BaseDir, name)
		if err != nil {
			return nil, err
		}
		if key == "" {
			if key = t.WorkerKey(); key == "" {
				return nil, &AuthError{Msg: fmt.Sprintf("tenant %q has no secret key (revoked) and its legacy keys are off: make one with `sfp server keys rotate -t %s`", t.Name(), t.Name())}
			}
		}
		if server == "" {
			server = t.URL()
		}
	}
	if key == "" {
		return nil, &AuthError{Msg: "this command acts as a worker and needs the tenant's secret key (or legacy service_role key): pass --service-key KEY, set SFP_SERVICE_KEY, or pass -t TENANT for a local tenant"}
	}
	if server == "" {
		if cfg, err := f.Config(); err == nil {
			server = cfg.Server
		}
	}
	if server == "" {
		return nil, FlagErrorf("which server? pass --server URL, set SFP_SERVER_URL, or -t TENANT")
	}
	return f.NewClient(server, key)
}

// LocalTenant loads the local tenant name from the base directory
// baseDir (a --base-dir flag; empty for SFP_BASE_DIR or the default), for
// the commands that take a tenant's URL and keys from its directory.
func LocalTenant(getenv func(string) string, baseDir, name string) (*tenant.Tenant, error) {
	base, err := tenant.ResolveBaseDir(baseDir, getenv)
	if err != nil {
		return nil, err
	}
	return tenant.Load(base, name)
}

// Deps are what a command that calls the tenant's API depends on: its
// streams, the client it acts with and the configuration (the chosen
// account). The client and configuration are functions, called only once
// the flags are checked, so that tests can hand in their own.
type Deps struct {
	IO     *IOStreams
	Client ClientFunc
	Config ConfigFunc
}

// UserDeps are the dependencies of a command that acts as the signed-in
// user.
func (f *Factory) UserDeps() Deps {
	return Deps{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
}

// WorkerDeps are the dependencies of a command a worker may run: with
// service credentials (s, after flag parsing, or the environment) the
// service_role client and an empty configuration — a worker has no chosen
// account —, otherwise the signed-in user's.
func (f *Factory) WorkerDeps(s *ServiceFlags) Deps {
	clientFn := func(ctx context.Context) (*client.Client, error) {
		if s.Given(f.Getenv) {
			return f.ServiceClient(s)
		}
		c, err := f.UserClient(ctx)
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, &AuthError{Msg: ae.Msg + "; workers pass --service-key KEY, set SFP_SERVICE_KEY or pass -t TENANT for a local tenant"}
		}
		return c, err
	}
	configFn := func() (*Config, error) {
		if s.Given(f.Getenv) {
			return &Config{}, nil
		}
		return f.Config()
	}
	return Deps{IO: f.IOStreams, Client: clientFn, Config: configFn}
}

// CallAndPrint is the run of a command that makes one API call on a
// resource it names by id: it opens the client, calls call with it, and
// prints what comes back — as JSON with asJSON (--json), otherwise with
// human.
func CallAndPrint[T any](ctx context.Context, d Deps, asJSON bool, call func(*client.Client) (T, error), human func(T) error) error {
	return d.WithClient(ctx, func(c *client.Client) error {
		v, err := call(c)
		if err != nil {
			return err
		}
		if asJSON {
			return WriteJSON(d.IO.Out, v)
		}
		return human(v)
	})
}

// WithClient opens the client, runs fn with it and closes it: the frame
// of a command that needs no scope resolved (Open resolves one).
func (d Deps) WithClient(ctx context.Context, fn func(*client.Client) error) error {
	c, err := d.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}
