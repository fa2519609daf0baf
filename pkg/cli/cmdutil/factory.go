package cmdutil

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// Factory hands commands their dependencies. Everything that touches disk or
// network is created lazily, so `sfp --help` needs neither; tests build a
// Factory with their own streams, environment and clock.
type Factory struct {
	IOStreams *IOStreams
	// Getenv reads the environment (tests replace it).
	Getenv func(string) string
	// Now is the clock.
	Now func() time.Time
	// Logger writes structured logs to stderr.
	Logger func() *slog.Logger
	// Executable is the path of the running sfp binary (for --detach).
	Executable func() (string, error)
	// Version is the build's version (the docker runtime tags its image with it).
	Version string
	// ConfigDir is where the CLI keeps its configuration and session
	// (nil: SFP_CONFIG_DIR, else <user config dir>/sfp).
	ConfigDir func() (string, error)
	// ExtraClientOptions are appended to the options of every API client
	// the CLI creates (tests: a clock, an HTTP client).
	ExtraClientOptions func() []client.Option
}

// New returns the factory of a real process.
func New() *Factory {
	ios := System()
	return &Factory{
		IOStreams: ios,
		Getenv:    os.Getenv,
		Now:       time.Now,
		Logger: func() *slog.Logger {
			return slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
		},
		Executable: os.Executable,
	}
}

// Config reads the CLI's configuration from ConfigDir. It is a ConfigFunc:
// commands hold it and call it only when they need the chosen account or
// the server.
func (f *Factory) Config() (*Config, error) {
	dir, err := f.configDir()
	if err != nil {
		return nil, err
	}
	return ReadConfig(dir)
}

func (f *Factory) configDir() (string, error) {
	if f.ConfigDir != nil {
		return f.ConfigDir()
	}
	return DefaultConfigDir(f.Getenv)
}

// NewClient returns an API client for server and key with the options every
// client of the CLI has (user agent, SFP_DEBUG request logging, the
// factory's extra options) and extra.
func (f *Factory) NewClient(server, key string, extra ...client.Option) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("sfp-cli")}
	if f.Getenv("SFP_DEBUG") == "1" && f.Logger != nil {
		opts = append(opts, client.WithLogger(f.Logger()))
	}
	if f.ExtraClientOptions != nil {
		opts = append(opts, f.ExtraClientOptions()...)
	}
	return client.New(server, key, append(opts, extra...)...)
}

// RunE is the RunE of a command in gh's shape: check the parsed options
// (when check is not nil), then hand them to runF, which tests pass to
// capture them, or to run, which does the work.
func RunE[O any](opts *O, check func() error, runF, run func(context.Context, *O) error) func(*cobra.Command, []string) error {
	if check == nil {
		return RunArgsE(opts, nil, runF, run)
	}
	return RunArgsE(opts, func(*cobra.Command, []string) error { return check() }, runF, run)
}

// RunArgsE is RunE for a command whose check also reads its positional
// arguments, or which of its flags were given, into opts: parse (when not
// nil) fills and checks opts before they go to runF or run.
func RunArgsE[O any](opts *O, parse func(cmd *cobra.Command, args []string) error, runF, run func(context.Context, *O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if parse != nil {
			if err := parse(cmd, args); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return run(cmd.Context(), opts)
	}
}

// Args is the parse function of a command that takes its positional
// arguments as they are (names or ids its run looks up): the i-th goes to
// *ps[i]. cobra's Args has checked how many there are.
func Args(ps ...*string) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		for i, p := range ps {
			*p = args[i]
		}
		return nil
	}
}
