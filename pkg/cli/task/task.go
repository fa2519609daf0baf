// Package task holds `sfp task`: background work on resources, its event
// log, watching it and reporting on it as a worker.
package task

import (
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdTask builds `sfp task`.
func NewCmdTask(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task <command>",
		Short: "Follow background tasks and report on them as a worker",
		Long: `A task is a unit of background work on a resource (a resource type and id,
e.g. a deployment), run by a worker that reports status, progress and
messages. The database appends every change to the task's event log.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdWatch(f, nil), NewCmdReport(f, nil))
	return cmd
}
