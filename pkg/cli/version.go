package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// Version is set at build time: -ldflags "-X github.com/sfp-dev/sfp/pkg/cli.Version=v1.2.3".
var Version = ""

// version returns the build's version: the -X value, else the module
// version, else "dev".
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionJSON is the --json shape of `sfp version`.
type versionJSON struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// VersionOptions are the inputs of `sfp version`.
type VersionOptions struct {
	IO   *cmdutil.IOStreams
	JSON bool
}

// NewCmdVersion builds `sfp version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the sfp version",
		Long:  `Print the build's version, the Go version it was built with, and the platform.`,
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", versionJSON{})
	return cmd
}

func versionRun(opts *VersionOptions) error {
	info := versionJSON{version(), runtime.Version(), runtime.GOOS, runtime.GOARCH}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, info)
	}
	_, err := fmt.Fprintf(opts.IO.Out, "sfp %s (%s %s/%s)\n", info.Version, info.Go, info.OS, info.Arch)
	return err
}
