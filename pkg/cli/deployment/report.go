package deployment

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ReportOptions are the inputs of `sfp deployment report`.
type ReportOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc // the service key's, else the user's

	Report  cmdutil.ReportFlags
	Details string
	Service cmdutil.ServiceFlags
	JSON    bool
}

// NewCmdReport builds `sfp deployment report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: f.IOStreams}
	opts.Client, _ = f.WorkerOrUser(&opts.Service)
	cmd := &cobra.Command{
		Use:   "report ID [--status S] [--progress N] [--message M]",
		Short: "Report a deployment's progress (workers)",
		Long: `Record progress on a deployment, as a worker does. With --service-key,
SFP_SERVICE_KEY or -t TENANT it acts with the service_role key (workers);
otherwise as the logged-in user (members and owners).

Status moves queued -> running -> succeeded | failed | cancelled (queued ->
cancelled too); any other move is refused (exit 1) with the allowed moves.
Succeeded sets progress to 100.`,
		Example: `  sfp deployment report "$DEPLOYMENT" -t acme --status running --progress 10 --message "validating"
  sfp deployment report "$DEPLOYMENT" -t acme --status succeeded --message "deployed"`,
		Args: cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Report.Parse(cmd, args)
			if err := opts.Report.Validate(opts.Details != ""); err != nil {
				return err
			}
			if _, err := cmdutil.ParseJSONFlag("details", opts.Details); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reportRun(cmd.Context(), opts)
		},
	}
	opts.Report.Register(cmd)
	cmd.Flags().StringVar(&opts.Details, "details", "", "Details (JSON object, replaces them)")
	opts.Service.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Deployment{})
	return cmd
}

func reportRun(ctx context.Context, opts *ReportOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	p := client.Progress{Status: opts.Report.Status, Progress: opts.Report.ProgressPtr(), Message: opts.Report.MessagePtr()}
	if opts.Details != "" {
		p.Details = []byte(opts.Details)
	}
	d, err := c.Deployments.Report(ctx, opts.Report.ID, p)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deployment %s: %s, %d%%.\n", cmdutil.ShortID(d.ID), d.Status, d.Progress)
	return nil
}
