// Package deployment holds `sfp deployment`.
package deployment

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdDeployment builds `sfp deployment`.
func NewCmdDeployment(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployment <command>",
		Aliases: []string{"deploy"},
		Short:   "Create deployments, follow them live, report their progress",
		Long: `A deployment puts a release or build on an environment. Members create them;
a worker picks them up and reports progress ('sfp deployment report', with
the service key); anyone in the account follows them with 'sfp deployment
watch'. Status moves queued -> running -> succeeded | failed | cancelled.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdWatch(f, nil), NewCmdReport(f, nil))
	return cmd
}

// printDeployment prints a deployment for humans.
func printDeployment(ios *cmdutil.IOStreams, d *client.Deployment) error {
	return cmdutil.PrintFields(ios.Out, "Deployment", d.ID, "Status", d.Status, "Progress", strconv.Itoa(d.Progress)+"%",
		"Message", d.Message, "Project", d.ProjectID, "Environment", d.EnvironmentID, "Release", d.ReleaseID, "Build", d.BuildID,
		"Details", cmdutil.CompactJSON(d.Details), "Started", cmdutil.FormatTimePtr(d.StartedAt),
		"Finished", cmdutil.FormatTimePtr(d.FinishedAt), "Created", cmdutil.FormatTime(d.CreatedAt))
}
