// Package doc holds `sfp doc`: JSON documents in collections.
package doc

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdDoc builds `sfp doc`.
func NewCmdDoc(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doc <command>",
		Short: "Store and read JSON documents",
		Long: `Documents are JSON values kept in named collections of an account, each under
a key, with a version that every write increments. Viewers read; members
write. --if-version N makes a write or delete apply only if the document is
still at version N; otherwise it fails with exit code 6 and the current
version.`,
	}
	cmd.AddCommand(NewCmdPut(f, nil), NewCmdGet(f, nil), NewCmdList(f, nil), NewCmdDelete(f, nil), NewCmdCollections(f, nil))
	return cmd
}

// Options are the inputs of the doc commands.
type Options struct {
	IO         *cmdutil.IOStreams
	Account    string
	Collection string
	Key        string
	Data       string
	File       string
	IfVersion  int64
	CreateOnly bool
	Prefix     string
	List       cmdutil.ListFlags
	JSON       bool
}

func run(f *cmdutil.Factory, opts *Options, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, c *client.Client, a *client.Account) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.Collection = args[0]
		}
		if len(args) > 1 {
			opts.Key = args[1]
		}
		if opts.IfVersion < 0 {
			return cmdutil.FlagErrorf("--if-version must be a version (1 or more)")
		}
		if cmd.Flags().Lookup("limit") != nil {
			if err := opts.List.Validate(); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		return f.WithAccount(cmd.Context(), opts.Account, fn)
	}
}

// NewCmdPut builds `sfp doc put`.
func NewCmdPut(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "put COLLECTION KEY [--data JSON | --file FILE] [--if-version N | --create-only]",
		Short: "Create or replace a document (members and owners)",
		Long: `Store a JSON document from --data, --file (- for stdin) or stdin. The new
version is printed on stdout.`,
		Example: `  sfp doc put notes release-1.4 --data '{"owner":"ops","ready":true}'
  sfp doc put notes release-1.4 --file notes.json --if-version 1
  cat manifest.json | sfp doc put build_manifests build-512`,
		Args: cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			return run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
				data := json.RawMessage(opts.Data)
				if opts.File != "" {
					var err error
					if data, err = cmdutil.ReadJSONInput(opts.IO, opts.File, "the document"); err != nil {
						return err
					}
				}
				d, err := c.Documents.Put(ctx, a.ID, opts.Collection, opts.Key, data,
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
			})(cmd, args)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Data, "data", "d", "", "The document (JSON)")
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "File holding the document (JSON); - for stdin")
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Replace only if the document is at this version")
	cmd.Flags().BoolVar(&opts.CreateOnly, "create-only", false, "Create only; fail if the document exists")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output the stored document as JSON")
	return cmd
}

// NewCmdGet builds `sfp doc get`.
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "get COLLECTION KEY [--json]",
		Short: "Print a document",
		Long: `Print a document's data (JSON) on stdout; with --json, the document with its
key, version and timestamps.`,
		Args: cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			d, err := c.Documents.Get(ctx, a.ID, opts.Collection, opts.Key)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, d)
			}
			var v any
			if err := json.Unmarshal(d.Data, &v); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s/%s version %d, updated %s\n", d.Collection, d.Key, d.Version, cmdutil.FormatTime(d.UpdatedAt))
			return cmdutil.WriteJSON(opts.IO.Out, v)
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output the document with its metadata")
	return cmd
}

// NewCmdList builds `sfp doc list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list COLLECTION [--prefix P]",
		Short: "List a collection's documents in key order",
		Args:  cmdutil.ExactArgs(1, "give the collection"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Document], error) {
				return c.Documents.List(ctx, a.ID, opts.Collection, &client.DocumentListOptions{ListOptions: o, Prefix: opts.Prefix})
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "KEY", "VERSION", "UPDATED", "DATA")
			for _, d := range items {
				t.Row(d.Key, strconv.FormatInt(d.Version, 10), cmdutil.FormatTime(d.UpdatedAt), cmdutil.Ellipsis(cmdutil.CompactJSON(d.Data), 60))
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "Only keys starting with this")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdDelete builds `sfp doc delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "delete COLLECTION KEY [--if-version N]",
		Short: "Delete a document (members and owners)",
		Args:  cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			deleted, err := c.Documents.Delete(ctx, a.ID, opts.Collection, opts.Key, &client.DeleteOptions{IfVersion: opts.IfVersion})
			if err != nil {
				return err
			}
			if !deleted {
				return &client.Error{Op: "delete document", StatusCode: 404, Code: "PT404",
					Message: fmt.Sprintf("document %s/%s not found", opts.Collection, opts.Key)}
			}
			fmt.Fprintf(opts.IO.ErrOut, "Deleted %s/%s.\n", opts.Collection, opts.Key)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Delete only if the document is at this version")
	return cmd
}

// NewCmdCollections builds `sfp doc collections`.
func NewCmdCollections(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "collections",
		Short: "List the account's collections",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, runF, func(ctx context.Context, c *client.Client, a *client.Account) error {
			cs, err := c.Documents.Collections(ctx, a.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, cs)
			}
			t := cmdutil.NewTable(opts.IO.Out, "COLLECTION", "DOCUMENTS", "LAST UPDATED")
			for _, col := range cs {
				t.Row(col.Collection, strconv.FormatInt(col.DocumentCount, 10), cmdutil.FormatTime(col.LastUpdatedAt))
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}
