package doc

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// CollectionsOptions are the inputs of `sfp doc collections`.
type CollectionsOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the account
	JSON  bool
}

// NewCmdCollections builds `sfp doc collections`.
func NewCmdCollections(f *cmdutil.Factory, runF func(context.Context, *CollectionsOptions) error) *cobra.Command {
	opts := &CollectionsOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "collections",
		Short: "List the account's collections",
		Long:  `List the account's collections with their document counts and last update.`,
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return collectionsRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Collection{})
	return cmd
}

func collectionsRun(ctx context.Context, opts *CollectionsOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, accountOnly)
	if err != nil {
		return err
	}
	defer c.Close()
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
}
