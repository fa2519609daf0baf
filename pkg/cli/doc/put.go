package doc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// PutOptions are the inputs of `sfp doc put`.
type PutOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope      cmdutil.Scope // the account
	Collection string
	Key        string
	Data       string
	File       string // - for stdin
	IfVersion  int64
	CreateOnly bool
	JSON       bool
}

// NewCmdPut builds `sfp doc put`.
func NewCmdPut(f *cmdutil.Factory, runF func(context.Context, *PutOptions) error) *cobra.Command {
	opts := &PutOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "put COLLECTION KEY [--data JSON | --file FILE] [--if-version N | --create-only]",
		Short: "Create or replace a document (members and owners)",
		Long: `Store a JSON document from --data, --file (- for stdin) or stdin. The new
version is printed on stdout. --if-version N replaces only version N and
--create-only only creates; a mismatch exits 6 with the current version.`,
		Example: `  sfp doc put notes release-1.4 --data '{"owner":"ops","ready":true}'
  sfp doc put notes release-1.4 --file notes.json --if-version 1
  cat manifest.json | sfp doc put build_manifests build-512`,
		Args: cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Collection, opts.Key = args[0], args[1]
			if opts.Data != "" && opts.File != "" {
				return cmdutil.FlagErrorf("--data and --file exclude each other")
			}
			if opts.CreateOnly && opts.IfVersion != 0 {
				return cmdutil.FlagErrorf("--create-only and --if-version exclude each other")
			}
			if opts.Data == "" && opts.File == "" {
				if opts.IO.IsStdinTTY() {
					return cmdutil.FlagErrorf("give the document with --data JSON, --file FILE, or on stdin")
				}
				opts.File = "-"
			}
			if _, err := cmdutil.ParseJSONFlag("data", opts.Data); err != nil {
				return err
			}
			if err := checkIfVersion(opts.IfVersion); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return putRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVarP(&opts.Data, "data", "d", "", "The document (JSON)")
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "File holding the document (JSON); - for stdin")
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Replace only if the document is at this version")
	cmd.Flags().BoolVar(&opts.CreateOnly, "create-only", false, "Create only; fail if the document exists")
	cmdutil.JSONFlag(cmd, &opts.JSON, "Output the stored document as JSON", client.Document{})
	return cmd
}

func putRun(ctx context.Context, opts *PutOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, accountOnly)
	if err != nil {
		return err
	}
	defer c.Close()
	data := json.RawMessage(opts.Data)
	if opts.File != "" {
		if data, err = cmdutil.ReadJSONInput(opts.IO, opts.File, "the document"); err != nil {
			return err
		}
	}
	d, err := c.Documents.Put(ctx, t.Account.ID, opts.Collection, opts.Key, data,
		&client.PutOptions{IfVersion: opts.IfVersion, CreateOnly: opts.CreateOnly})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Stored %s/%s at version %d.\n", d.Collection, d.Key, d.Version)
	fmt.Fprintln(opts.IO.Out, d.Version)
	return nil
}
