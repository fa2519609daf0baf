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
version. All doc commands take --account.

Collection names are 1-63 of a-z 0-9 _ . -; keys up to 512 characters. The
collections build_manifests and changelogs are kept in their own indexed
tables, transparently.`,
	}
	cmd.AddCommand(NewCmdPut(f, nil), NewCmdGet(f, nil), NewCmdList(f, nil), NewCmdDelete(f, nil), NewCmdCollections(f, nil))
	return cmd
}

// checkIfVersion refuses a negative --if-version (0 means none).
func checkIfVersion(v int64) error {
	if v < 0 {
		return cmdutil.FlagErrorf("--if-version must be a version (1 or more)")
	}
	return nil
}

// document is what put, get and delete name: a document of a collection
// of the account.
type document struct {
	cmdutil.Deps

	Scope      cmdutil.Scope // the account
	Collection string
	Key        string
}

// accountOnly is the scope of every doc command: the account.
var accountOnly = cmdutil.Need{Account: true}

// PutOptions are the inputs of `sfp doc put`.
type PutOptions struct {
	document

	Data       string
	File       string // - for stdin
	IfVersion  int64
	CreateOnly bool
	JSON       bool
}

// NewCmdPut builds `sfp doc put`.
func NewCmdPut(f *cmdutil.Factory, runF func(context.Context, *PutOptions) error) *cobra.Command {
	opts := &PutOptions{document: document{Deps: f.UserDeps()}}
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
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
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
			return checkIfVersion(opts.IfVersion)
		}, runF, putRun),
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
	return opts.WithTarget(ctx, opts.Scope, accountOnly, func(c *client.Client, t *cmdutil.Target) error {
		data := json.RawMessage(opts.Data)
		if opts.File != "" {
			var err error
			if data, err = cmdutil.ReadJSONInput(opts.IO, opts.File, "the document"); err != nil {
				return err
			}
		}
		d, err := c.Documents.Put(ctx, t.Account.ID, opts.Collection, opts.Key, data,
			&client.PutOptions{IfVersion: opts.IfVersion, CreateOnly: opts.CreateOnly})
		if err != nil {
			return err
		}
		return cmdutil.PrintCreated(opts.IO, opts.JSON, d, strconv.FormatInt(d.Version, 10), fmt.Sprintf("Stored %s/%s at version %d.", d.Collection, d.Key, d.Version))
	})
}

// GetOptions are the inputs of `sfp doc get`.
type GetOptions struct {
	document

	JSON bool
}

// NewCmdGet builds `sfp doc get`.
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{document: document{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "get COLLECTION KEY [--json]",
		Short: "Print a document",
		Long: `Print a document's data (JSON) on stdout; with --json, the document with its
key, version and timestamps. A missing document exits 3.`,
		Args: cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.Collection, &opts.Key), runF, getRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "Output the document with its metadata", client.Document{})
	return cmd
}

func getRun(ctx context.Context, opts *GetOptions) error {
	return opts.WithTarget(ctx, opts.Scope, accountOnly, func(c *client.Client, t *cmdutil.Target) error {
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
	})
}

// DeleteOptions are the inputs of `sfp doc delete`.
type DeleteOptions struct {
	document

	IfVersion int64
}

// NewCmdDelete builds `sfp doc delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{document: document{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "delete COLLECTION KEY [--if-version N]",
		Short: "Delete a document (members and owners)",
		Long:  `Delete a document; a missing one exits 3, one at another version than --if-version exits 6.`,
		Args:  cmdutil.ExactArgs(2, "give the collection and the key"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Collection, opts.Key = args[0], args[1]
			return checkIfVersion(opts.IfVersion)
		}, runF, deleteRun),
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().Int64Var(&opts.IfVersion, "if-version", 0, "Delete only if the document is at this version")
	return cmd
}

func deleteRun(ctx context.Context, opts *DeleteOptions) error {
	return opts.WithTarget(ctx, opts.Scope, accountOnly, func(c *client.Client, t *cmdutil.Target) error {
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
	})
}
