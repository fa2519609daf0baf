package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/docker"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// tenantFlags are the flags every tenant command shares: which base
// directory and which tenant.
type tenantFlags struct {
	BaseDir string
	Tenant  string
}

func (tf *tenantFlags) register(cmd *cobra.Command) {
	tf.registerBaseDir(cmd)
	cmd.Flags().StringVarP(&tf.Tenant, "tenant", "t", "", "Tenant name (env SFP_TENANT)")
}

// tenantInputs are the inputs every command on tenants has: its streams
// and the flags that name the base directory and the tenant. A command's
// options embed them (or tenantJSONInputs) beside its own flags.
type tenantInputs struct {
	IO    *cmdutil.IOStreams
	Flags tenantFlags
}

// tenantJSONInputs are tenantInputs with --json, for the commands that
// print JSON on request.
type tenantJSONInputs struct {
	tenantInputs
	JSON bool
}

// register hands the command the factory's streams and adds the tenant
// flags (--base-dir, --tenant).
func (in *tenantInputs) register(f *cmdutil.Factory, cmd *cobra.Command) {
	in.IO = f.IOStreams
	in.Flags.register(cmd)
}

// registerJSON is register for a command that prints JSON on request: it
// adds --json too, as cmdutil.JSONFlag does (usage "" is "Output JSON";
// shape nil leaves the fields out of the reference).
func (in *tenantJSONInputs) registerJSON(f *cmdutil.Factory, cmd *cobra.Command, usage string, shape any) {
	in.register(f, cmd)
	cmdutil.JSONFlag(cmd, &in.JSON, usage, shape)
}

// registerBaseDir adds --base-dir alone, for a command on the base
// directory rather than on one tenant (`sfp server list`).
func (tf *tenantFlags) registerBaseDir(cmd *cobra.Command) {
	cmd.Flags().StringVar(&tf.BaseDir, "base-dir", "", "Directory holding the tenants (env SFP_BASE_DIR; default ./sfp-server)")
}

// resolve validates the flags and returns the absolute base directory.
func (tf *tenantFlags) resolve(f *cmdutil.Factory, needTenant bool) (string, error) {
	if tf.Tenant == "" {
		tf.Tenant = f.Getenv("SFP_TENANT")
	}
	if needTenant {
		if tf.Tenant == "" {
			return "", cmdutil.FlagErrorf("which tenant? pass -t NAME (or set SFP_TENANT)")
		}
		if err := tenant.ValidateName(tf.Tenant); err != nil {
			return "", &cmdutil.FlagError{Err: err}
		}
	}
	return tenant.ResolveBaseDir(tf.BaseDir, f.Getenv)
}

// childArgs are the flags a detached child needs to find the same tenant.
func (tf *tenantFlags) childArgs(base string) []string {
	return []string{"--base-dir", base}
}

// runtimeFor returns the runtime of a tenant.
func runtimeFor(f *cmdutil.Factory, t *tenant.Tenant, extra embedded.Options) (runtime.Runtime, error) {
	switch t.Config.Runtime {
	case tenant.RuntimeEmbedded:
		if f.Logger != nil {
			extra.Logger = f.Logger()
		}
		extra.Executable = f.Executable
		extra.Trace = f.Getenv(embedded.TraceEnv) != ""
		if dir := f.Getenv("SFP_MIGRATIONS_DIR"); dir != "" {
			extra.Migrations = os.DirFS(dir)
		}
		return embedded.New(extra), nil
	case tenant.RuntimeDocker:
		return dockerRuntime(f)
	default:
		return nil, fmt.Errorf("tenant %q has unknown runtime %q", t.Name(), t.Config.Runtime)
	}
}

func dockerRuntime(f *cmdutil.Factory) (runtime.Runtime, error) {
	logger := f.Logger
	if logger == nil {
		logger = func() *slog.Logger { return slog.New(slog.DiscardHandler) }
	}
	return docker.New(docker.Options{
		Logger:       logger(),
		Version:      f.Version,
		BuildContext: f.Getenv("SFP_BUILD_CONTEXT"),
		Executable:   f.Executable,
	}), nil
}

// loadTenant loads the tenant the flags name.
func loadTenant(f *cmdutil.Factory, tf *tenantFlags) (*tenant.Tenant, error) {
	base, err := tf.resolve(f, true)
	if err != nil {
		return nil, err
	}
	t, err := tenant.Load(base, tf.Tenant)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func progressTo(ios *cmdutil.IOStreams) func(string) {
	return func(s string) { fmt.Fprintln(ios.ErrOut, "• "+s) }
}

// tenantCommand is the options of a command on one tenant: they embed
// tenantInputs.
type tenantCommand[O any] interface {
	*O
	inputs() *tenantInputs
}

func (in *tenantInputs) inputs() *tenantInputs { return in }

// onTenant adapts the run of a command on the tenant its flags name to
// cmdutil.RunE, as withFactory does, and loads that tenant for it.
func onTenant[O any, P tenantCommand[O]](f *cmdutil.Factory, run func(context.Context, *cmdutil.Factory, P, *tenant.Tenant) error) func(context.Context, *O) error {
	return func(ctx context.Context, o *O) error {
		t, err := loadTenant(f, &P(o).inputs().Flags)
		if err != nil {
			return err
		}
		return run(ctx, f, o, t)
	}
}

// onRuntime is onTenant for a command that acts on the tenant through its
// runtime: run gets the runtime that runs the tenant too.
func onRuntime[O any, P tenantCommand[O]](f *cmdutil.Factory, run func(context.Context, P, *tenant.Tenant, runtime.Runtime) error) func(context.Context, *O) error {
	return onTenant(f, func(ctx context.Context, f *cmdutil.Factory, o P, t *tenant.Tenant) error {
		rt, err := runtimeFor(f, t, embedded.Options{})
		if err != nil {
			return err
		}
		return run(ctx, o, t, rt)
	})
}

// withFactory adapts the run of a command that also needs the factory to
// cmdutil.RunE.
func withFactory[O any](f *cmdutil.Factory, run func(context.Context, *cmdutil.Factory, *O) error) func(context.Context, *O) error {
	return func(ctx context.Context, o *O) error { return run(ctx, f, o) }
}
