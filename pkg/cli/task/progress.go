package task

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdWatch builds `sfp task watch`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *cmdutil.WatchOptions) error) *cobra.Command {
	opts := &cmdutil.WatchOptions{Deps: f.UserDeps(), Kind: "task",
		Start: func(ctx context.Context, c *client.Client, id string) (*client.Watch, error) {
			return c.Tasks.Watch(ctx, id)
		}}
	return cmdutil.NewCmdWatch(&cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Follow a task live until it finishes",
		Long: `Follow a task until it succeeds, fails or is cancelled: a progress bar and
status messages on a terminal, or with --json one JSON event per line.
Viewers may. Updates are pushed on the task's private Realtime topic
task:<id> (Broadcast from Database), else by postgres_changes, else polled.

Exit code: 0 when it succeeded, 8 when it failed or was cancelled.`,
	}, opts, runF)
}

// ReportOptions are the inputs of `sfp task report`.
type ReportOptions struct {
	cmdutil.ReportInputs

	Output string
	Error  string
	Worker string
}

// NewCmdReport builds `sfp task report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{}
	opts.Init(f)
	cmd := &cobra.Command{
		Use:   "report ID [--status S] [--progress N] [--message M] [--output JSON] [--error JSON]",
		Short: "Report a task's progress (workers)",
		Long: `Update a task as its worker: status, progress, message, output or error. The
database appends the matching event (status, progress or message) to the
task's log. With --service-key, SFP_SERVICE_KEY or -t TENANT it acts as
service_role with the secret key (workers); otherwise as the logged-in user
(members and owners).

Status moves queued -> running -> succeeded | failed | cancelled.`,
		Example: `  sfp task report "$TASK" -t acme --status running --progress 0 --message "starting" --worker ci-7
  sfp task report "$TASK" -t acme --progress 60 --message "deploying metadata"
  sfp task report "$TASK" -t acme --status succeeded --output '{"components": 120}'`,
		Args: cmdutil.ExactArgs(1, "give the task's id"),
		RunE: cmdutil.RunArgsE(opts, func(cmd *cobra.Command, args []string) error {
			return opts.Parse(cmd, args, opts.Worker != "",
				cmdutil.JSONFlagValue{Name: "output", Value: opts.Output}, cmdutil.JSONFlagValue{Name: "error", Value: opts.Error})
		}, runF, reportRun),
	}
	opts.Register(cmd, client.Task{})
	cmd.Flags().StringVar(&opts.Output, "output", "", "Result (JSON)")
	cmd.Flags().StringVar(&opts.Error, "error", "", "Error (JSON)")
	cmd.Flags().StringVar(&opts.Worker, "worker", "", "Identifier of the worker")
	return cmd
}

func reportRun(ctx context.Context, opts *ReportOptions) error {
	r := client.TaskReport{Status: opts.Report.Status, Worker: opts.Worker,
		Progress: opts.Report.ProgressPtr(), Message: opts.Report.MessagePtr()}
	if opts.Output != "" {
		r.Output = []byte(opts.Output)
	}
	if opts.Error != "" {
		r.Error = []byte(opts.Error)
	}
	return cmdutil.CallAndPrint(ctx, opts.Deps, opts.JSON, func(c *client.Client) (*client.Task, error) {
		return c.Tasks.Report(ctx, opts.Report.ID, r)
	}, func(t *client.Task) error {
		return cmdutil.PrintReported(opts.IO, "Task", t.ID, t.Status, t.Progress)
	})
}
