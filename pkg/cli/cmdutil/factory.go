package cmdutil

import (
	"log/slog"
	"os"
	"time"

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
	// (default: SFP_CONFIG_DIR, else <user config dir>/sfp).
	ConfigDir func() (string, error)
	// ClientOptions are added to every API client (tests: a clock, an HTTP
	// client).
	ClientOptions func() []client.Option
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
