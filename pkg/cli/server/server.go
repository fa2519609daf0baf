// Package server holds `sfp server`: creating, running and upgrading tenant
// stacks.
package server

import (
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdServer builds `sfp server`.
func NewCmdServer(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server <command>",
		Short: "Create, run and upgrade tenant stacks",
	}
	cmd.AddCommand(NewCmdMigrate(f, nil))
	return cmd
}
