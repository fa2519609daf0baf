package build

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ReleaseListOptions are the inputs of `sfp release list`.
type ReleaseListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // account, optional project
	List  cmdutil.ListFlags
	JSON  bool
}

// NewCmdReleaseList builds `sfp release list`.
func NewCmdReleaseList(f *cmdutil.Factory, runF func(context.Context, *ReleaseListOptions) error) *cobra.Command {
	opts := &ReleaseListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List release definitions, newest first",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return releaseListRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Only this project (identifier or id)")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Release{})
	return cmd
}

func releaseListRun(ctx context.Context, opts *ReleaseListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Release], error) {
		return c.Releases.List(ctx, client.ReleaseListOptions{ListOptions: o, AccountID: t.AccountID(), ProjectID: t.ProjectID()})
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	tb := cmdutil.NewTable(opts.IO.Out, "NAME", "ACTIVE", "DESCRIPTION", "CREATED", "ID")
	for _, r := range items {
		tb.Row(r.Name, cmdutil.YesNo(r.Active), cmdutil.Ellipsis(r.Description, 40), cmdutil.FormatTime(r.CreatedAt), r.ID)
	}
	return tb.Flush()
}
