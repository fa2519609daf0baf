package doc

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// DeleteOptions are the inputs of `sfp doc delete`.
type DeleteOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope      cmdutil.Scope // the account
	Collection string
	Key        string
	IfVersion  int64
}

// NewCmdDelete builds `sfp doc delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "delete COLLECTION KEY [--if-version N]",
		Short: "Delete a document (members and owners)",
		Long:  `Delete a document; a missing one exits 3, one at another version than --if-version exits 6.`,
		Args:  cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Collection, opts.Key = args[0], args[1]
			if err := checkIfVersion(opts.IfVersion); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Delete only if the document is at this version")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, accountOnly)
	if err != nil {
		return err
	}
	defer c.Close()
	deleted, err := c.Documents.Delete(ctx, t.Account.ID, opts.Collection, opts.Key, &client.DeleteOptions{IfVersion: opts.IfVersion})
	if err != nil {
		return err
	}
	if !deleted {
		return &client.Error{Op: "delete document", StatusCode: 404, Code: "PT404",
			Message: fmt.Sprintf("document %s/%s not found", opts.Collection, opts.Key)}
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted %s/%s.\n", opts.Collection, opts.Key)
	return nil
}
