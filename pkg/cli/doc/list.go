package doc

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp doc list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope      cmdutil.Scope // the account
	Collection string
	Prefix     string
	List       cmdutil.ListFlags
	JSON       bool
}

// NewCmdList builds `sfp doc list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list COLLECTION [--prefix P]",
		Short: "List a collection's documents in key order",
		Args:  cmdutil.ExactArgs(1, "give the collection"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Collection = args[0]
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "Only keys starting with this")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Document{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, accountOnly)
	if err != nil {
		return err
	}
	defer c.Close()
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Document], error) {
		return c.Documents.List(ctx, t.Account.ID, opts.Collection, &client.DocumentListOptions{ListOptions: o, Prefix: opts.Prefix})
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	tb := cmdutil.NewTable(opts.IO.Out, "KEY", "VERSION", "UPDATED", "DATA")
	for _, d := range items {
		tb.Row(d.Key, strconv.FormatInt(d.Version, 10), cmdutil.FormatTime(d.UpdatedAt), cmdutil.Ellipsis(cmdutil.CompactJSON(d.Data), 60))
	}
	return tb.Flush()
}
