package task

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp task list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope        cmdutil.Scope // account (unless --resource-id), optional project
	ResourceType string
	ResourceID   string
	Status       string
	List         cmdutil.ListFlags
	JSON         bool
}

// NewCmdList builds `sfp task list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list [--resource-type T --resource-id ID] [--status S]",
		Short: "List tasks, newest first",
		Long: `List tasks, newest first: the account's, or with --resource-id the tasks on
that resource wherever they are. Viewers may.`,
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
			return listRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Only this project (identifier or id)")
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Only tasks on this kind of resource")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Only tasks on this resource")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Task{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	// A resource id names the tasks wherever they are; otherwise list
	// within the account.
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: opts.ResourceID == ""})
	if err != nil {
		return err
	}
	defer c.Close()
	lo := client.TaskListOptions{AccountID: t.AccountID(), ProjectID: t.ProjectID(),
		ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Status: opts.Status}
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
	tb := cmdutil.NewTable(opts.IO.Out, "ID", "KIND", "STATUS", "PROGRESS", "RESOURCE", "MESSAGE", "CREATED")
	for _, tk := range items {
		tb.Row(tk.ID, tk.Kind, tk.Status, strconv.Itoa(tk.Progress)+"%", tk.ResourceType+" "+cmdutil.ShortID(tk.ResourceID),
			cmdutil.Ellipsis(tk.Message, 40), cmdutil.FormatTime(tk.CreatedAt))
	}
	return tb.Flush()
}
