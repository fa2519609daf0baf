package task

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of `sfp task show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

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
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "show ID [--events]",
		Short: "Show a task (and its event log)",
		Long: `Show a task; --events adds its event log (the JSON output always includes
events). Viewers may.`,
		Args: cmdutil.ExactArgs(1, "give the task's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if err := cmdutil.CheckID("task", opts.ID); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
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
