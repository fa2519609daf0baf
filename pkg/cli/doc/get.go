package doc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// GetOptions are the inputs of `sfp doc get`.
type GetOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope      cmdutil.Scope // the account
	Collection string
	Key        string
	JSON       bool
}

// NewCmdGet builds `sfp doc get`.
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "get COLLECTION KEY [--json]",
		Short: "Print a document",
		Long: `Print a document's data (JSON) on stdout; with --json, the document with its
key, version and timestamps. A missing document exits 3.`,
		Args: cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Collection, opts.Key = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return getRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "Output the document with its metadata", client.Document{})
	return cmd
}

func getRun(ctx context.Context, opts *GetOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, accountOnly)
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.Documents.Get(ctx, t.Account.ID, opts.Collection, opts.Key)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	var v any
	if err := json.Unmarshal(d.Data, &v); err != nil {
		return fmt.Errorf("read document: %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s/%s version %d, updated %s\n", d.Collection, d.Key, d.Version, cmdutil.FormatTime(d.UpdatedAt))
	return cmdutil.WriteJSON(opts.IO.Out, v)
}
