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

// NewCmdVersion builds `sfp version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the sfp version",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := struct {
				Version string `json:"version"`
				Go      string `json:"go"`
				OS      string `json:"os"`
				Arch    string `json:"arch"`
			}{version(), runtime.Version(), runtime.GOOS, runtime.GOARCH}
			if asJSON {
				return cmdutil.WriteJSON(f.IOStreams.Out, info)
			}
			_, err := fmt.Fprintf(f.IOStreams.Out, "sfp %s (%s %s/%s)\n", info.Version, info.Go, info.OS, info.Arch)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "Output JSON")
	return cmd
}
