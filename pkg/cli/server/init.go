package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/docker"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// InitOptions are the inputs of `sfp server init`.
type InitOptions struct {
	tenantJSONInputs

	Runtime           string
	Port, DBPort      int
	AdminEmail        string
	AdminPasswordFile string
	AdminAccount      string
	Force             bool
}

// NewCmdInit builds `sfp server init`.
func NewCmdInit(f *cmdutil.Factory, runF func(context.Context, *InitOptions) error) *cobra.Command {
	opts := &InitOptions{}
	cmd := &cobra.Command{
		Use:   "init -t NAME [--runtime embedded|docker]",
		Short: "Create a tenant: its directory, configuration, secrets and keys",
		Long: `Create a tenant directory (<base>/tenants/<name>) with its configuration
(tenant.yaml), generated secrets and API keys (.env, mode 0600) and free ports.
Nothing runs yet: the first 'sfp server start' creates the database.

With --admin-email and --admin-password-file the first start also creates that
user (email confirmed), and with --admin-account an account it owns. The
password is kept only as a bcrypt hash, and only until that first start.

An existing tenant is never overwritten without --force, which deletes its data
(on the docker runtime, its volumes too).`,
		Example: `  sfp server init -t acme
  sfp server init -t acme --admin-email ops@acme.test --admin-password-file pw.txt --admin-account Acme
  sfp server init -t prod --runtime docker --port 8000`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.validate, runF, withFactory(f, initRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	cmd.Flags().StringVar(&opts.Runtime, "runtime", string(tenant.RuntimeEmbedded), "Runtime: embedded or docker")
	cmd.Flags().IntVar(&opts.Port, "port", 0, "API (gateway) port (default: first free from 54321)")
	cmd.Flags().IntVar(&opts.DBPort, "db-port", 0, "PostgreSQL port, embedded runtime (default: first free after the API port)")
	cmd.Flags().StringVar(&opts.AdminEmail, "admin-email", "", "Create this admin user on first start")
	cmd.Flags().StringVar(&opts.AdminPasswordFile, "admin-password-file", "", "File holding the admin's password (- for stdin)")
	cmd.Flags().StringVar(&opts.AdminAccount, "admin-account", "", "Also create an account with this name, owned by the admin (its slug, derived from the name, has at most 63 characters)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Replace an existing tenant, deleting its data")
	return cmd
}

// validate checks the flags before anything runs.
func (opts *InitOptions) validate() error {
	if opts.Runtime != string(tenant.RuntimeEmbedded) && opts.Runtime != string(tenant.RuntimeDocker) {
		return cmdutil.FlagErrorf("--runtime must be embedded or docker, not %q", opts.Runtime)
	}
	if (opts.AdminEmail == "") != (opts.AdminPasswordFile == "") {
		return cmdutil.FlagErrorf("--admin-email and --admin-password-file go together")
	}
	if opts.AdminAccount != "" && opts.AdminEmail == "" {
		return cmdutil.FlagErrorf("--admin-account needs --admin-email")
	}
	if opts.AdminAccount != "" {
		if err := checkAdminAccount(opts.AdminAccount); err != nil {
			return err
		}
	}
	return nil
}

// checkAdminAccount refuses, before anything is created, an account name
// that create_account would refuse at the first start — after the cluster
// exists. The slug is derived as the runtime derives it.
func checkAdminAccount(name string) error {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n == 0 || n > 200 {
		return cmdutil.FlagErrorf("--admin-account: an account name has 1 to 200 characters, not %d", n)
	}
	if _, err := cmdutil.SlugFromName(name); err != nil {
		return cmdutil.FlagErrorf("--admin-account: %v; choose another name", err)
	}
	return nil
}

type tenantJSON struct {
	Tenant  string `json:"tenant"`
	Runtime string `json:"runtime"`
	Dir     string `json:"dir"`
	URL     string `json:"url"`
	APIPort int    `json:"api_port"`
	DBPort  int    `json:"db_port"`
	EnvFile string `json:"env_file"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
}

func initRun(ctx context.Context, f *cmdutil.Factory, opts *InitOptions) error {
	base, err := opts.Flags.resolve(f, true)
	if err != nil {
		return err
	}
	var password string
	if opts.AdminPasswordFile != "" {
		if password, err = readPassword(opts.IO.In, opts.AdminPasswordFile); err != nil {
			return err
		}
	}
	if opts.Force {
		if err := removeOld(ctx, f, base, opts.Flags.Tenant); err != nil {
			return err
		}
	}
	t, err := tenant.Create(base, tenant.CreateOptions{
		Name:          opts.Flags.Tenant,
		Runtime:       tenant.Runtime(opts.Runtime),
		APIPort:       opts.Port,
		PostgresPort:  opts.DBPort,
		Admin:         tenant.AdminConfig{Email: opts.AdminEmail, Account: opts.AdminAccount},
		AdminPassword: password,
		Force:         opts.Force,
		Now:           f.Now(),
	})
	if err != nil {
		return err
	}
	rt, err := runtimeFor(f, t, embedded.Options{})
	if err != nil {
		return err
	}
	if err := rt.Init(ctx, t); err != nil {
		return fmt.Errorf("init tenant %q: %w", t.Name(), err)
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, describe(ctx, f, t))
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created tenant %q (%s runtime) in %s\n", t.Name(), t.Config.Runtime, t.Dir)
	fmt.Fprintf(opts.IO.ErrOut, "  API URL: %s\n  Secrets: %s (mode 0600)\n", t.URL(), t.EnvFile())
	fmt.Fprintf(opts.IO.ErrOut, "Start it with: sfp server start -t %s%s\n", t.Name(), baseHint(opts.Flags.BaseDir))
	return nil
}

// removeOld deletes what a tenant being replaced keeps outside its directory
// (a docker tenant's volumes).
func removeOld(ctx context.Context, f *cmdutil.Factory, base, name string) error {
	old, err := tenant.Load(base, name)
	if err != nil {
		return nil // nothing loadable to clean up; Create removes the directory
	}
	rt, err := runtimeFor(f, old, embedded.Options{})
	if err != nil {
		return err
	}
	if rm, ok := rt.(runtime.Remover); ok {
		err := rm.Remove(ctx, old)
		switch {
		case errors.Is(err, docker.ErrDockerNotInstalled), errors.Is(err, docker.ErrComposeNotInstalled), errors.Is(err, docker.ErrEngineUnavailable):
			// Without Docker here there are no volumes here to remove.
			fmt.Fprintf(f.IOStreams.ErrOut, "warning: could not remove the old tenant's docker volumes (%v); if they exist elsewhere, remove them with `docker compose -p %s down --volumes`\n", err, docker.ProjectName(old))
		case err != nil:
			return fmt.Errorf("replace tenant %q: %w", name, err)
		}
	}
	return nil
}

func baseHint(flag string) string {
	if flag == "" {
		return ""
	}
	return " --base-dir " + flag
}

// describe summarises a tenant; for docker tenants it asks docker whether
// the project runs.
func describe(ctx context.Context, f *cmdutil.Factory, t *tenant.Tenant) tenantJSON {
	running, pid := t.Running()
	if t.Config.Runtime == tenant.RuntimeDocker {
		running, pid = false, 0
		if rt, err := runtimeFor(f, t, embedded.Options{}); err == nil {
			if st, err := rt.Status(ctx, t); err == nil {
				running = st.Running
			}
		}
	}
	return tenantJSON{Tenant: t.Name(), Runtime: string(t.Config.Runtime), Dir: t.Dir, URL: t.URL(),
		APIPort: t.Config.API.Port, DBPort: t.Config.Postgres.Port, EnvFile: t.EnvFile(), Running: running, PID: pid}
}

// readPassword reads a password from a file or stdin ("-"): the first line.
func readPassword(stdin io.Reader, path string) (string, error) {
	raw, err := cmdutil.ReadFileOrStdin(stdin, path, 4096)
	if err != nil {
		return "", fmt.Errorf("read admin password: %w", err)
	}
	pw, _, _ := strings.Cut(string(raw), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("read admin password: %s is empty", path)
	}
	return pw, nil
}
