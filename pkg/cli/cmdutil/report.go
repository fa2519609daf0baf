package cmdutil

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// ReportInputs are the inputs `sfp task report` and `sfp deployment
// report` share: the report, the worker's credentials and --json. Their
// options embed them beside the fields only they report.
type ReportInputs struct {
	Deps

	Report  ReportFlags
	Service ServiceFlags
	JSON    bool
}

// Init makes the command act as a worker when given service credentials,
// else as the signed-in user.
func (in *ReportInputs) Init(f *Factory) { in.Deps = f.WorkerDeps(&in.Service) }

// Register adds the report's flags, the service credential flags and
// --json, which prints the resource as shape encodes.
func (in *ReportInputs) Register(cmd *cobra.Command, shape any) {
	in.Report.Register(cmd)
	in.Service.Register(cmd)
	JSONFlag(cmd, &in.JSON, "", shape)
}

// Parse takes the id argument and checks the report. other says whether a
// field of the command's own is reported; jsonFlags are its JSON flags,
// each checked and counted as reported when given.
func (in *ReportInputs) Parse(cmd *cobra.Command, args []string, other bool, jsonFlags ...JSONFlagValue) error {
	in.Report.Parse(cmd, args)
	for _, fl := range jsonFlags {
		other = other || fl.Value != ""
	}
	if err := in.Report.Validate(other); err != nil {
		return err
	}
	return CheckJSONFlags(jsonFlags...)
}

// ReportFlags are what a worker reports on a task or a deployment:
// `sfp task report` and `sfp deployment report` share them.
type ReportFlags struct {
	ID       string
	Status   string
	Progress int
	Message  string
	// ProgressSet and MessageSet say whether --progress and --message were
	// given: 0 and "" are reports too.
	ProgressSet, MessageSet bool
}

// Register adds --status, --progress and --message.
func (r *ReportFlags) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.Status, "status", "", "New status: running, succeeded, failed or cancelled")
	cmd.Flags().IntVar(&r.Progress, "progress", 0, "Progress in percent (0-100)")
	cmd.Flags().StringVar(&r.Message, "message", "", "Progress message")
}

// Parse takes the id argument and records which flags were given.
func (r *ReportFlags) Parse(cmd *cobra.Command, args []string) {
	r.ID = args[0]
	r.ProgressSet, r.MessageSet = cmd.Flags().Changed("progress"), cmd.Flags().Changed("message")
}

// Validate checks the report; other says whether a command-specific field
// (details, output, ...) is reported.
func (r *ReportFlags) Validate(other bool) error {
	if !client.IsUUID(r.ID) {
		return FlagErrorf("%q is not an id (a UUID)", r.ID)
	}
	switch r.Status {
	case "", client.StatusQueued, client.StatusRunning, client.StatusSucceeded, client.StatusFailed, client.StatusCancelled:
	default:
		return FlagErrorf("--status must be running, succeeded, failed or cancelled, not %q", r.Status)
	}
	if r.ProgressSet && (r.Progress < 0 || r.Progress > 100) {
		return FlagErrorf("--progress must be between 0 and 100, not %d", r.Progress)
	}
	if r.Status == "" && !r.ProgressSet && !r.MessageSet && !other {
		return FlagErrorf("nothing to report: pass --status, --progress or --message")
	}
	return nil
}

// ProgressPtr and MessagePtr are the report's optional fields for the
// client: nil when not given.
func (r *ReportFlags) ProgressPtr() *int {
	if !r.ProgressSet {
		return nil
	}
	return &r.Progress
}

// MessagePtr: see ProgressPtr.
func (r *ReportFlags) MessagePtr() *string {
	if !r.MessageSet {
		return nil
	}
	return &r.Message
}

// PrintReported says on stderr where a report left the resource of kind
// ("Task", "Deployment"): "Task 1a2b3c4d: running, 40%."
func PrintReported(ios *IOStreams, kind, id, status string, progress int) error {
	fmt.Fprintf(ios.ErrOut, "%s %s: %s, %d%%.\n", kind, ShortID(id), status, progress)
	return nil
}
