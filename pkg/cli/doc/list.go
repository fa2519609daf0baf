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
	cmdutil.ListInputs // Scope: the account

	Collection string
	Prefix     string
}

// NewCmdList builds `sfp doc list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list COLLECTION [--prefix P]",
		Short: "List a collection's documents in key order",
		Args:  cmdutil.ExactArgs(1, "give the collection"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Collection = args[0]
			return opts.List.Validate()
		}, runF, listRun),
	}
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "Only keys starting with this")
	opts.Register(cmd, []client.Document{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return cmdutil.RunList(ctx, &opts.ListInputs, accountOnly, func(ctx context.Context, c *client.Client, t *cmdutil.Target, o client.ListOptions) (*client.Page[client.Document], error) {
		return c.Documents.List(ctx, t.Account.ID, opts.Collection, &client.DocumentListOptions{ListOptions: o, Prefix: opts.Prefix})
	}, cmdutil.Columns[client.Document]{Header: []string{"KEY", "VERSION", "UPDATED", "DATA"}, Row: func(d client.Document) []string {
		return []string{d.Key, strconv.FormatInt(d.Version, 10), cmdutil.FormatTime(d.UpdatedAt), cmdutil.Ellipsis(cmdutil.CompactJSON(d.Data), 60)}
	}})
}

// CollectionsOptions are the inputs of `sfp doc collections`.
type CollectionsOptions struct {
	cmdutil.Deps

	Scope cmdutil.Scope // the account
	JSON  bool
}

// NewCmdCollections builds `sfp doc collections`.
func NewCmdCollections(f *cmdutil.Factory, runF func(context.Context, *CollectionsOptions) error) *cobra.Command {
	opts := &CollectionsOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "collections",
		Short: "List the account's collections",
		Long:  `List the account's collections with their document counts and last update.`,
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, nil, runF, collectionsRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Collection{})
	return cmd
}

func collectionsRun(ctx context.Context, opts *CollectionsOptions) error {
	return opts.WithTarget(ctx, opts.Scope, accountOnly, func(c *client.Client, t *cmdutil.Target) error {
		cs, err := c.Documents.Collections(ctx, t.Account.ID)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, cs)
		}
		tb := cmdutil.NewTable(opts.IO.Out, "COLLECTION", "DOCUMENTS", "LAST UPDATED")
		for _, col := range cs {
			tb.Row(col.Collection, strconv.FormatInt(col.DocumentCount, 10), cmdutil.FormatTime(col.LastUpdatedAt))
		}
		return tb.Flush()
	})
}
