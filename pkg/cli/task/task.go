// Package task holds `sfp task`: background work on resources, its event
// log, watching it and reporting on it as a worker.
package task

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/cli/deployment"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdTask builds `sfp task`.
func NewCmdTask(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task <command>",
		Short: "Follow background tasks and report on them as a worker",
		Long: `A task is a unit of background work on a resource (a resource type and id,
e.g. a deployment), run by a worker that reports status, progress and
messages. Every change is appended to the task's event log.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdWatch(f, nil), NewCmdReport(f, nil))
	return cmd
}

// Options are the inputs of the task commands.
type Options struct {
	IO           *cmdutil.IOStreams
	Account      string
	Project      string
	ResourceType string
	ResourceID   string
	Kind         string
	Input        string
	Status       string
	ID           string
	Events       bool
	Service      cmdutil.ServiceFlags
	List         cmdutil.ListFlags
	JSON         bool
}

// NewCmdCreate builds `sfp task create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "create --resource-type T --resource-id ID --kind K [--project P] [--input JSON]",
		Short: "Queue a task on a resource",
		Long: `Queue a task for a worker. Members and owners create tasks in their account;
with --service-key (or -t TENANT) a worker creates one (then --account or
--project is required).`,
		Example: `  sfp task create --resource-type deployment --resource-id "$DEPLOYMENT" --kind deploy --project acme/web`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ResourceType == "" || opts.ResourceID == "" || opts.Kind == "" {
				return cmdutil.FlagErrorf("pass --resource-type, --resource-id and --kind")
			}
			if !client.IsUUID(opts.ResourceID) {
				return cmdutil.FlagErrorf("--resource-id %q is not a UUID", opts.ResourceID)
			}
			if _, err := cmdutil.ParseJSONFlag("input", opts.Input); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, cfg, err := client_(ctx, f, &opts.Service)
			if err != nil {
				return err
			}
			defer c.Close()
			in := client.NewTask{ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Kind: opts.Kind}
			if opts.Input != "" {
				in.Input = []byte(opts.Input)
			}
			if client.IsUUID(opts.Project) {
				in.ProjectID = opts.Project
			} else {
				a, err := cmdutil.ResolveAccount(ctx, c, cfg, opts.Account)
				if err != nil {
					return err
				}
				in.AccountID = a.ID
				if opts.Project != "" {
					p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
					if err != nil {
						return err
					}
					in.ProjectID = p.ID
				}
			}
			t, err := c.Tasks.Create(ctx, in)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, t)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Queued task %s (%s on %s %s).\n", t.ID, t.Kind, t.ResourceType, t.ResourceID)
			fmt.Fprintln(opts.IO.Out, t.ID)
			return nil
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Project identifier (org/repo) or id")
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Kind of resource, e.g. deployment, build, environment")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Id of the resource")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "What the task does, e.g. deploy, validate")
	cmd.Flags().StringVar(&opts.Input, "input", "", "Input parameters (JSON object)")
	opts.Service.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// client_ is the user's client, or a worker's with service credentials.
// With the service key there is no configuration to pick an account from.
func client_(ctx context.Context, f *cmdutil.Factory, s *cmdutil.ServiceFlags) (*client.Client, *cmdutil.Config, error) {
	if s.Given(f) {
		c, err := f.ServiceClient(ctx, s)
		return c, &cmdutil.Config{}, err
	}
	return f.UserClient(ctx)
}

// NewCmdList builds `sfp task list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:     "list [--resource-type T --resource-id ID] [--status S]",
		Short:   "List tasks, newest first",
		Example: `  sfp task list --resource-type deployment --resource-id "$DEPLOYMENT"`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if opts.ResourceID != "" && !client.IsUUID(opts.ResourceID) {
				return cmdutil.FlagErrorf("--resource-id %q is not a UUID", opts.ResourceID)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, cfg, err := f.UserClient(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			lo := client.TaskListOptions{ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Status: opts.Status}
			// A resource id names the tasks wherever they are; otherwise list
			// within the account.
			if opts.ResourceID == "" || opts.Account != "" {
				a, err := cmdutil.ResolveAccount(ctx, c, cfg, opts.Account)
				if err != nil {
					return err
				}
				lo.AccountID = a.ID
				if opts.Project != "" {
					p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
					if err != nil {
						return err
					}
					lo.ProjectID = p.ID
				}
			}
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Task], error) {
				lo.ListOptions = o
				return c.Tasks.List(ctx, lo)
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "ID", "KIND", "STATUS", "PROGRESS", "RESOURCE", "MESSAGE", "CREATED")
			for _, tk := range items {
				t.Row(tk.ID, tk.Kind, tk.Status, strconv.Itoa(tk.Progress)+"%", tk.ResourceType+" "+tk.ResourceID[:8],
					cmdutil.Ellipsis(tk.Message, 40), cmdutil.FormatTime(tk.CreatedAt))
			}
			return t.Flush()
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Only this project (identifier or id)")
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Only tasks on this kind of resource")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Only tasks on this resource")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func idCmd(f *cmdutil.Factory, opts *Options, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, c *client.Client) error) func(*cobra.Command, []string) error {
	return cmdutil.IDRunE(f, "task", opts, func(id string) { opts.ID = id }, runF, fn)
}

// NewCmdShow builds `sfp task show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show ID [--events]",
		Short: "Show a task (and its event log)",
		Args:  cmdutil.ExactArgs(1, "give the task's id"),
		RunE: idCmd(f, opts, runF, func(ctx context.Context, c *client.Client) error {
			t, err := c.Tasks.Get(ctx, opts.ID)
			if err != nil {
				return err
			}
			var events []client.TaskEvent
			if opts.Events || opts.JSON {
				o := client.ListOptions{Limit: client.MaxPageSize}
				for {
					p, err := c.Tasks.Events(ctx, t.ID, &o)
					if err != nil {
						return err
					}
					events = append(events, p.Items...)
					if p.Next == "" {
						break
					}
					o.Cursor = p.Next
				}
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, struct {
					*client.Task
					Events []client.TaskEvent `json:"events"`
				}{t, events})
			}
			if err := cmdutil.PrintFields(opts.IO.Out, "Task", t.ID, "Kind", t.Kind, "Resource", t.ResourceType+" "+t.ResourceID,
				"Status", t.Status, "Progress", strconv.Itoa(t.Progress)+"%", "Message", t.Message, "Worker", t.Worker,
				"Input", cmdutil.CompactJSON(t.Input), "Output", cmdutil.CompactJSON(t.Output), "Error", cmdutil.CompactJSON(t.Error),
				"Started", cmdutil.FormatTimePtr(t.StartedAt), "Finished", cmdutil.FormatTimePtr(t.FinishedAt),
				"Created", cmdutil.FormatTime(t.CreatedAt)); err != nil {
				return err
			}
			if opts.Events {
				fmt.Fprintln(opts.IO.Out)
				tb := cmdutil.NewTable(opts.IO.Out, "#", "TIME", "EVENT", "STATUS", "PROGRESS", "MESSAGE")
				for _, e := range events {
					pr := ""
					if e.Progress != nil {
						pr = strconv.Itoa(*e.Progress) + "%"
					}
					tb.Row(strconv.FormatInt(e.ID, 10), cmdutil.FormatTime(e.CreatedAt), e.Event, e.Status, pr, e.Message)
				}
				return tb.Flush()
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&opts.Events, "events", false, "Also print the event log")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON (includes the events)")
	return cmd
}

// NewCmdWatch builds `sfp task watch`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Follow a task live until it finishes",
		Long: `Follow a task until it succeeds, fails or is cancelled: a progress bar and
status messages on a terminal, or with --json one JSON event per line
(event, resource_type, id, status, progress, message, final, time).

Exit code: 0 when it succeeded, 8 when it failed or was cancelled.`,
		Args: cmdutil.ExactArgs(1, "give the task's id"),
		RunE: idCmd(f, opts, runF, func(ctx context.Context, c *client.Client) error {
			w, err := c.Tasks.Watch(ctx, opts.ID)
			if err != nil {
				return err
			}
			return cmdutil.FollowWatch(ctx, opts.IO, w, "task "+opts.ID[:8], opts.JSON)
		}),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Stream JSON events, one per line")
	return cmd
}

// ReportOptions are the inputs of `sfp task report`.
type ReportOptions struct {
	IO       *cmdutil.IOStreams
	ID       string
	Status   string
	Progress int
	Message  string
	Output   string
	Error    string
	Worker   string
	Service  cmdutil.ServiceFlags
	JSON     bool

	progressSet, messageSet bool
}

// NewCmdReport builds `sfp task report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "report ID [--status S] [--progress N] [--message M] [--output JSON] [--error JSON]",
		Short: "Report a task's progress (workers)",
		Long: `Update a task as its worker: status, progress, message, output or error. The
database appends the matching event to the task's log. With --service-key,
SFP_SERVICE_KEY or -t TENANT it acts with the service_role key (workers);
otherwise as the logged-in user (members and owners).

Status moves queued -> running -> succeeded | failed | cancelled.`,
		Example: `  sfp task report "$TASK" -t acme --status running --progress 0 --message "starting" --worker ci-7
  sfp task report "$TASK" -t acme --progress 60 --message "deploying metadata"
  sfp task report "$TASK" -t acme --status succeeded --output '{"components": 120}'`,
		Args: cmdutil.ExactArgs(1, "give the task's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.progressSet, opts.messageSet = cmd.Flags().Changed("progress"), cmd.Flags().Changed("message")
			other := opts.messageSet || opts.Output != "" || opts.Error != "" || opts.Worker != ""
			if err := deployment.ValidateReport(opts.ID, opts.Status, opts.Progress, opts.progressSet, other); err != nil {
				return err
			}
			for _, fl := range []struct{ name, v string }{{"output", opts.Output}, {"error", opts.Error}} {
				if _, err := cmdutil.ParseJSONFlag(fl.name, fl.v); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, err := deployment.ReporterClient(ctx, f, &opts.Service)
			if err != nil {
				return err
			}
			defer c.Close()
			r := client.TaskReport{Status: opts.Status, Worker: opts.Worker}
			if opts.progressSet {
				r.Progress = &opts.Progress
			}
			if opts.messageSet {
				r.Message = &opts.Message
			}
			if opts.Output != "" {
				r.Output = []byte(opts.Output)
			}
			if opts.Error != "" {
				r.Error = []byte(opts.Error)
			}
			t, err := c.Tasks.Report(ctx, opts.ID, r)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, t)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Task %s: %s, %d%%.\n", t.ID[:8], t.Status, t.Progress)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Status, "status", "", "New status: running, succeeded, failed or cancelled")
	cmd.Flags().IntVar(&opts.Progress, "progress", 0, "Progress in percent (0-100)")
	cmd.Flags().StringVar(&opts.Message, "message", "", "Progress message")
	cmd.Flags().StringVar(&opts.Output, "output", "", "Result (JSON)")
	cmd.Flags().StringVar(&opts.Error, "error", "", "Error (JSON)")
	cmd.Flags().StringVar(&opts.Worker, "worker", "", "Identifier of the worker")
	opts.Service.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}
