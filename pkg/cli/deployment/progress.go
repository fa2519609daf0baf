package deployment

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdShow builds `sfp deployment show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *cmdutil.ShowOptions) error) *cobra.Command {
	return cmdutil.NewCmdShow(&cobra.Command{Use: "show ID", Short: "Show a deployment"},
		&cmdutil.ShowOptions{Deps: f.UserDeps(), Kind: "deployment"}, runF,
		func(ctx context.Context, c *client.Client, id string) (*client.Deployment, error) {
			return c.Deployments.Get(ctx, id)
		}, printDeployment)
}

// NewCmdWatch builds `sfp deployment watch`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *cmdutil.WatchOptions) error) *cobra.Command {
	opts := &cmdutil.WatchOptions{Deps: f.UserDeps(), Kind: "deployment",
		Start: func(ctx context.Context, c *client.Client, id string) (*client.Watch, error) {
			return c.Deployments.Watch(ctx, id)
		}}
	return cmdutil.NewCmdWatch(&cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Follow a deployment live until it finishes",
		Long: `Follow a deployment over Realtime until it succeeds, fails or is cancelled: a
progress bar and status messages on a terminal, or with --json one JSON event
per line. Viewers may. Updates are pushed on the deployment's private Realtime
topic deployment:<id> (Broadcast from Database), else by postgres_changes, else
polled.

Exit code: 0 when it succeeded, 8 when it failed or was cancelled.`,
	}, opts, runF)
}

// ReportOptions are the inputs of `sfp deployment report`.
type ReportOptions struct {
	cmdutil.ReportInputs

	Details string
}

// NewCmdReport builds `sfp deployment report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{}
	opts.Init(f)
	cmd := &cobra.Command{
		Use:   "report ID [--status S] [--progress N] [--message M]",
		Short: "Report a deployment's progress (workers)",
		Long: `Record progress on a deployment, as a worker does. With --service-key,
SFP_SERVICE_KEY or -t TENANT it acts as service_role with the secret key
(workers); otherwise as the logged-in user (members and owners).

Status moves queued -> running -> succeeded | failed | cancelled (queued ->
cancelled too); any other move is refused (exit 1) with the allowed moves.
Succeeded sets progress to 100.`,
		Example: `  sfp deployment report "$DEPLOYMENT" -t acme --status running --progress 10 --message "validating"
  sfp deployment report "$DEPLOYMENT" -t acme --status succeeded --message "deployed"`,
		Args: cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: cmdutil.RunArgsE(opts, func(cmd *cobra.Command, args []string) error {
			return opts.Parse(cmd, args, false, cmdutil.JSONFlagValue{Name: "details", Value: opts.Details})
		}, runF, reportRun),
	}
	opts.Register(cmd, client.Deployment{})
	cmd.Flags().StringVar(&opts.Details, "details", "", "Details (JSON object, replaces them)")
	return cmd
}

func reportRun(ctx context.Context, opts *ReportOptions) error {
	p := client.Progress{Status: opts.Report.Status, Progress: opts.Report.ProgressPtr(), Message: opts.Report.MessagePtr()}
	if opts.Details != "" {
		p.Details = []byte(opts.Details)
	}
	return cmdutil.CallAndPrint(ctx, opts.Deps, opts.JSON, func(c *client.Client) (*client.Deployment, error) {
		return c.Deployments.Report(ctx, opts.Report.ID, p)
	}, func(d *client.Deployment) error {
		return cmdutil.PrintReported(opts.IO, "Deployment", d.ID, d.Status, d.Progress)
	})
}
