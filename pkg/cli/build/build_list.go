package build

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// BuildListOptions are the inputs of `sfp build list`.
type BuildListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope  cmdutil.Scope // account, optional project
	Status string
	List   cmdutil.ListFlags
	JSON   bool
}

// NewCmdBuildList builds `sfp build list`.
func NewCmdBuildList(f *cmdutil.Factory, runF func(context.Context, *BuildListOptions) error) *cobra.Command {
	opts := &BuildListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list [--project P] [--status S]",
		Short: "List builds, newest first",
		Long:  `List the builds of the account, or of one project, newest first. Viewers may.`,
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return buildListRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Only this project (identifier or id)")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Build{})
	return cmd
}

func buildListRun(ctx context.Context, opts *BuildListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Build], error) {
		return c.Builds.List(ctx, client.BuildListOptions{ListOptions: o, AccountID: t.AccountID(), ProjectID: t.ProjectID(), Status: opts.Status})
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	tb := cmdutil.NewTable(opts.IO.Out, "BUILD", "STATUS", "BRANCH", "COMMIT", "VERSION", "CREATED", "ID")
	for _, b := range items {
		tb.Row(b.BuildNumber, b.Status, b.Branch, cmdutil.Ellipsis(b.CommitSHA, 12), b.Version, cmdutil.FormatTime(b.CreatedAt), b.ID)
	}
	return tb.Flush()
}
