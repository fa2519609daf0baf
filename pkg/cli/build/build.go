// Package build holds `sfp build` and `sfp release`: builds recorded by CI
// and release definitions.
package build

import (
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdBuild builds `sfp build`.
func NewCmdBuild(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build <command>",
		Short: "List and show builds recorded by CI",
		Long: `Builds are recorded by CI through the client library (Builds.Create); viewers
list and show them. Commands take --account where they need an account (not
with ids).`,
	}
	cmd.AddCommand(NewCmdBuildList(f, nil), NewCmdBuildShow(f, nil))
	return cmd
}

// NewCmdRelease builds `sfp release`.
func NewCmdRelease(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release <command>",
		Short: "Create, list and show release definitions",
		Long: `A release definition says what to deploy and how (the sfp release definition,
as a JSON object). Deployments name one with 'sfp deployment create --release
NAME'. Members create them; viewers list and show them.`,
	}
	cmd.AddCommand(NewCmdReleaseCreate(f, nil), NewCmdReleaseList(f, nil), NewCmdReleaseShow(f, nil))
	return cmd
}
