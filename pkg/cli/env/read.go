package env

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp env list`.
type ListOptions struct {
	cmdutil.ListInputs // Scope: the project
}

// NewCmdList builds `sfp env list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list --project P",
		Short: "List a project's environments, newest first",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, opts.Check(func() error { return opts.Scope.Check(cmdutil.Need{Project: true}) }), runF, listRun),
	}
	opts.Scope.ProjectFlag(cmd, projectUsage)
	opts.Register(cmd, []client.Environment{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, cmdutil.Need{Project: true}, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Environment], error) {
		return c.Environments.List(ctx, t.Project.ID, &o)
	}, cmdutil.Columns[client.Environment]{Header: []string{"NAME", "CATEGORY", "BRANCH", "ACTIVE", "TAGS", "ID"}, Row: func(e client.Environment) []string {
		return []string{e.Name, e.Category, e.Branch, cmdutil.YesNo(e.Active), strings.Join(e.Tags, ","), e.ID}
	}})
}

// ShowOptions are the inputs of `sfp env show`.
type ShowOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project and the environment
	JSON  bool
}

// showJSON is the --json shape of `sfp env show`: the environment and its
// lease queue.
type showJSON struct {
	*client.Environment
	Queue []client.Lease `json:"queue"`
}

// NewCmdShow builds `sfp env show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "show NAME --project P",
		Short: "Show an environment and who holds it",
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE:  cmdutil.RunArgsE(opts, envArg(&opts.Scope), runF, showRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", showJSON{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	t, q, err := environmentQueue(ctx, opts.Deps, opts.Scope)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, showJSON{t.Environment, q})
	}
	e := t.Environment
	holder := "nobody"
	if len(q) > 0 && q[0].Active() {
		holder = fmt.Sprintf("ticket %s until %s (%s)", q[0].Ticket, cmdutil.FormatTimePtr(q[0].ExpiresAt), q[0].Reason)
	}
	return cmdutil.PrintFields(opts.IO.Out, "Environment", e.Name, "Project", t.Project.Identifier, "ID", e.ID,
		"Category", e.Category, "Branch", e.Branch, "Active", cmdutil.YesNo(e.Active), "Tags", strings.Join(e.Tags, ", "),
		"Metadata", cmdutil.CompactJSON(e.Metadata), "Description", e.Description,
		"Held by", holder, "Waiting", fmt.Sprint(max(len(q)-1, 0)), "Created", cmdutil.FormatTime(e.CreatedAt))
}

// environmentQueue finds the environment s names and reads its lease
// queue, the holder first.
func environmentQueue(ctx context.Context, d cmdutil.Deps, s cmdutil.Scope) (*cmdutil.Target, []client.Lease, error) {
	c, t, err := d.Open(ctx, s, needEnv)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	q, err := c.Environments.Queue(ctx, t.Environment.ID)
	return t, q, err
}

// QueueOptions are the inputs of `sfp env queue`.
type QueueOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the project and the environment
	JSON  bool
}

// NewCmdQueue builds `sfp env queue`.
func NewCmdQueue(f *cmdutil.Factory, runF func(context.Context, *QueueOptions) error) *cobra.Command {
	opts := &QueueOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "queue NAME --project P",
		Short: "Show who holds an environment and who waits for it",
		Long:  `Show the ticket that holds the environment (position 0) and those waiting in line.`,
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE:  cmdutil.RunArgsE(opts, envArg(&opts.Scope), runF, queueRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Lease{})
	return cmd
}

func queueRun(ctx context.Context, opts *QueueOptions) error {
	t, q, err := environmentQueue(ctx, opts.Deps, opts.Scope)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, q)
	}
	if len(q) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Nobody holds or waits for %s.\n", t.Environment.Name)
		return nil
	}
	tb := cmdutil.NewTable(opts.IO.Out, "POSITION", "TICKET", "STATUS", "LEASE", "REQUESTED", "EXPIRES", "REASON")
	for _, l := range q {
		tb.Row(position(&l), l.Ticket, l.Status, l.Lease, cmdutil.FormatTime(l.RequestedAt), cmdutil.FormatTimePtr(l.ExpiresAt), l.Reason)
	}
	return tb.Flush()
}
