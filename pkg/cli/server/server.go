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
	cmd.AddCommand(
		NewCmdInit(f, nil),
		NewCmdStart(f, nil),
		NewCmdStop(f, nil),
		NewCmdStatus(f, nil),
		NewCmdList(f, nil),
		NewCmdLogs(f, nil),
		NewCmdKeys(f, nil),
		NewCmdUpdate(f, nil),
		NewCmdMigrate(f, nil),
		NewCmdSSO(f),
		NewCmdBackup(f, nil),
		NewCmdRestore(f, nil),
		NewCmdPsql(f, nil),
		NewCmdAuth(f),
	)
	return cmd
}
