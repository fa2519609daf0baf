// Package task holds `sfp task`: background work on resources, its event
// log, watching it and reporting on it as a worker.
package task

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
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

// CreateOptions are the inputs of `sfp task create`.
type CreateOptions struct {
	cmdutil.Deps

	Scope        cmdutil.Scope // account, optional project
	ResourceType string
	ResourceID   string
	Kind         string
	Input        string
	Service      cmdutil.ServiceFlags
	JSON         bool
}

// NewCmdCreate builds `sfp task create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{}
	opts.Deps = f.WorkerDeps(&opts.Service)
	cmd := &cobra.Command{
		Use:   "create --resource-type T --resource-id ID --kind K [--project P] [--input JSON]",
		Short: "Queue a task on a resource",
		Long: `Queue a task for a worker; its id is printed on stdout. Members and owners
create tasks in their account; with --service-key (or -t TENANT) a worker
creates one, naming the account with --account (then --project may be an
identifier) or giving --project as an id.`,
		Example: `  sfp task create --resource-type deployment --resource-id "$DEPLOYMENT" --kind deploy --project acme/web`,
		Args:    cmdutil.NoArgs,
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, _ []string) error {
			if opts.ResourceType == "" || opts.ResourceID == "" || opts.Kind == "" {
				return cmdutil.FlagErrorf("pass --resource-type, --resource-id and --kind")
			}
			if !client.IsUUID(opts.ResourceID) {
				return cmdutil.FlagErrorf("--resource-id %q is not a UUID", opts.ResourceID)
			}
			return cmdutil.CheckJSONFlags(cmdutil.JSONFlagValue{Name: "input", Value: opts.Input})
		}, runF, createRun),
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id")
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Kind of resource, e.g. deployment, build, environment")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Id of the resource")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "What the task does, e.g. deploy, validate")
	cmd.Flags().StringVar(&opts.Input, "input", "", "Input parameters (JSON object)")
	opts.Service.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Task{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	c, t, err := opts.Open(ctx, opts.Scope, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	in := client.NewTask{AccountID: t.AccountID(), ProjectID: t.ProjectID(),
		ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Kind: opts.Kind}
	if opts.Input != "" {
		in.Input = []byte(opts.Input)
	}
	tk, err := c.Tasks.Create(ctx, in)
	if err != nil {
		return err
	}
	return cmdutil.PrintCreated(opts.IO, opts.JSON, tk, tk.ID, fmt.Sprintf("Queued task %s (%s on %s %s).", tk.ID, tk.Kind, tk.ResourceType, tk.ResourceID))
}

// ListOptions are the inputs of `sfp task list`.
type ListOptions struct {
	cmdutil.ListInputs // Scope: account (unless --resource-id), optional project

	ResourceType string
	ResourceID   string
	Status       string
}

// NewCmdList builds `sfp task list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list [--resource-type T --resource-id ID] [--status S]",
		Short: "List tasks, newest first",
		Long: `List tasks, newest first: the account's, or with --resource-id the tasks on
that resource wherever they are. Viewers may.`,
		Example: `  sfp task list --resource-type deployment --resource-id "$DEPLOYMENT"`,
		Args:    cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.Check(func() error {
			if opts.ResourceID != "" && !client.IsUUID(opts.ResourceID) {
				return cmdutil.FlagErrorf("--resource-id %q is not a UUID", opts.ResourceID)
			}
			return nil
		}), runF, listRun),
	}
	opts.ProjectFilter(cmd)
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Only tasks on this kind of resource")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Only tasks on this resource")
	cmdutil.StatusFilter(cmd, &opts.Status)
	opts.Register(cmd, []client.Task{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	// A resource id names the tasks wherever they are; otherwise list
	// within the account.
	need := cmdutil.Need{Account: opts.ResourceID == ""}
	return cmdutil.RunList(ctx, &opts.ListInputs, need, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Task], error) {
		return c.Tasks.List(ctx, client.TaskListOptions{ListOptions: o, AccountID: t.AccountID(), ProjectID: t.ProjectID(),
			ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Status: opts.Status})
	}, cmdutil.Columns[client.Task]{Header: []string{"ID", "KIND", "STATUS", "PROGRESS", "RESOURCE", "MESSAGE", "CREATED"}, Row: func(tk client.Task) []string {
		return []string{tk.ID, tk.Kind, tk.Status, strconv.Itoa(tk.Progress) + "%", tk.ResourceType + " " + cmdutil.ShortID(tk.ResourceID),
			cmdutil.Ellipsis(tk.Message, 40), cmdutil.FormatTime(tk.CreatedAt)}
	}})
}

// ShowOptions are the inputs of `sfp task show`.
type ShowOptions struct {
	cmdutil.Deps

	ID     string
	Events bool
	JSON   bool
}

// showJSON is the --json shape of `sfp task show`: the task and its log.
type showJSON struct {
	*client.Task
	Events []client.TaskEvent `json:"events"`
}

// NewCmdShow builds `sfp task show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "show ID [--events]",
		Short: "Show a task (and its event log)",
		Long: `Show a task; --events adds its event log (the JSON output always includes
events). Viewers may.`,
		Args: cmdutil.ExactArgs(1, "give the task's id"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.IDArg("task", &opts.ID), runF, showRun),
	}
	cmd.Flags().BoolVar(&opts.Events, "events", false, "Also print the event log")
	cmdutil.JSONFlag(cmd, &opts.JSON, "Output JSON (includes the events)", showJSON{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := c.Tasks.Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	var events []client.TaskEvent
	if opts.Events || opts.JSON {
		if events, err = allEvents(ctx, c, t.ID); err != nil {
			return err
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, showJSON{t, events})
	}
	if err := cmdutil.PrintFields(opts.IO.Out, "Task", t.ID, "Kind", t.Kind, "Resource", t.ResourceType+" "+t.ResourceID,
		"Status", t.Status, "Progress", strconv.Itoa(t.Progress)+"%", "Message", t.Message, "Worker", t.Worker,
		"Input", cmdutil.CompactJSON(t.Input), "Output", cmdutil.CompactJSON(t.Output), "Error", cmdutil.CompactJSON(t.Error),
		"Started", cmdutil.FormatTimePtr(t.StartedAt), "Finished", cmdutil.FormatTimePtr(t.FinishedAt),
		"Created", cmdutil.FormatTime(t.CreatedAt)); err != nil {
		return err
	}
	if !opts.Events {
		return nil
	}
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

// allEvents reads a task's whole event log.
func allEvents(ctx context.Context, c *client.Client, taskID string) ([]client.TaskEvent, error) {
	var events []client.TaskEvent
	o := client.ListOptions{Limit: client.MaxPageSize}
	for {
		p, err := c.Tasks.Events(ctx, taskID, &o)
		if err != nil {
			return nil, err
		}
		events = append(events, p.Items...)
		if p.Next == "" {
			return events, nil
		}
		o.Cursor = p.Next
	}
}
