package env

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp env list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project
	List  cmdutil.ListFlags
	JSON  bool
}

// NewCmdList builds `sfp env list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list --project P",
		Short: "List a project's environments, newest first",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if err := opts.Scope.Check(cmdutil.Need{Project: true}); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Environment{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Environment], error) {
		return c.Environments.List(ctx, t.Project.ID, &o)
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	tb := cmdutil.NewTable(opts.IO.Out, "NAME", "CATEGORY", "BRANCH", "ACTIVE", "TAGS", "ID")
	for _, e := range items {
		tb.Row(e.Name, e.Category, e.Branch, cmdutil.YesNo(e.Active), strings.Join(e.Tags, ","), e.ID)
	}
	return tb.Flush()
}
