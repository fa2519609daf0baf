package cmdutil

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// ListFlags page through a list: --limit, --cursor, --all.
type ListFlags struct {
	Limit  int
	Cursor string
	All    bool
}

// Register adds the flags.
func (l *ListFlags) Register(cmd *cobra.Command) {
	cmd.Flags().IntVarP(&l.Limit, "limit", "L", client.DefaultPageSize, "Maximum number of items per page (1-1000)")
	cmd.Flags().StringVar(&l.Cursor, "cursor", "", "Continue after the page that printed this cursor")
	cmd.Flags().BoolVar(&l.All, "all", false, "Fetch every page")
}

// Validate checks the flags.
func (l *ListFlags) Validate() error {
	if l.Limit < 1 || l.Limit > client.MaxPageSize {
		return FlagErrorf("--limit must be between 1 and %d, not %d", client.MaxPageSize, l.Limit)
	}
	if l.All && l.Cursor != "" {
		return FlagErrorf("--all and --cursor exclude each other")
	}
	return nil
}

// Collect fetches one page, or every page with --all, and returns the
// items and the cursor of the next page ("" when there is none).
func Collect[T any](ctx context.Context, l ListFlags, fetch func(context.Context, client.ListOptions) (*client.Page[T], error)) ([]T, string, error) {
	opts := client.ListOptions{Limit: l.Limit, Cursor: l.Cursor}
	items := []T{}
	for {
		p, err := fetch(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		items = append(items, p.Items...)
		if !l.All || p.Next == "" {
			return items, p.Next, nil
		}
		opts.Cursor = p.Next
	}
}

// PrintList prints a page of a list: with asJSON the items as a JSON array
// (an empty one for none), otherwise a table of header and row(item) for
// each item. Where the next page starts goes to stderr either way.
func PrintList[T any](ios *IOStreams, asJSON bool, items []T, next string, header []string, row func(T) []string) error {
	PrintNext(ios, next)
	return PrintItems(ios, asJSON, items, "", header, row)
}

// PrintItems prints a list that is not paged: with asJSON the items as
// JSON, otherwise a table of header and row(item) for each item. When
// there are none and none is not "", a person gets that hint on stderr —
// what to do to have some — instead of a bare header.
func PrintItems[T any](ios *IOStreams, asJSON bool, items []T, none string, header []string, row func(T) []string) error {
	if asJSON {
		return WriteJSON(ios.Out, items)
	}
	if len(items) == 0 && none != "" {
		fmt.Fprintln(ios.ErrOut, none)
		return nil
	}
	t := NewTable(ios.Out, header...)
	for _, it := range items {
		t.Row(row(it)...)
	}
	return t.Flush()
}

// ListInputs are the inputs every list command has: what it lists in, the
// paging flags and --json. A list command's options embed them, beside its
// own filters.
type ListInputs struct {
	Deps

	Scope Scope
	List  ListFlags
	JSON  bool
}

// Register adds --account (every list is of an account's items), the
// paging flags and --json, which prints the items as shape (a slice of the
// item type) encodes.
func (in *ListInputs) Register(cmd *cobra.Command, shape any) {
	in.Scope.AccountFlag(cmd)
	in.List.Register(cmd)
	JSONFlag(cmd, &in.JSON, "", shape)
}

// ProjectFilter adds --project to a list of the account's items that can
// be narrowed to one project's.
func (in *ListInputs) ProjectFilter(cmd *cobra.Command) {
	in.Scope.ProjectFlag(cmd, "Only this project (identifier or id)")
}

// StatusFilter adds --status to a list of things that run — builds,
// deployments, tasks, which share their statuses — into p.
func StatusFilter(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
}

// Check is the check of a list command: the paging flags, then own (when
// not nil), the checks of the command's own flags.
func (in *ListInputs) Check(own func() error) func() error {
	return func() error {
		if err := in.List.Validate(); err != nil {
			return err
		}
		if own != nil {
			return own()
		}
		return nil
	}
}

// Columns are how a list prints for people: a header, and a row of cells
// per item.
type Columns[T any] struct {
	Header []string
	Row    func(T) []string
}

// RunList is the run of a list command: it opens the client and resolves
// in.Scope (need says what the command cannot do without), fetches a page
// — every page with --all — with fetch, and prints it as PrintList does.
func RunList[T any](ctx context.Context, in *ListInputs, need Need,
	fetch func(ctx context.Context, c *client.Client, t *Target, o client.ListOptions) (*client.Page[T], error), cols Columns[T]) error {
	return in.WithTarget(ctx, in.Scope, need, func(c *client.Client, t *Target) error {
		items, next, err := Collect(ctx, in.List, func(ctx context.Context, o client.ListOptions) (*client.Page[T], error) {
			return fetch(ctx, c, t, o)
		})
		if err != nil {
			return err
		}
		return PrintList(in.IO, in.JSON, items, next, cols.Header, cols.Row)
	})
}
