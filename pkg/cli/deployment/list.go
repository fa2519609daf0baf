package deployment

import (
	"context"
	"errors"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ListOptions are the inputs of `sfp deployment list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope  cmdutil.Scope // account, optional project and environment
	Status string
	List   cmdutil.ListFlags
	JSON   bool
}

// NewCmdList builds `sfp deployment list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "list [--project P [--env E]] [--status S]",
		Short: "List deployments, newest first",
		Long: `List the deployments of the account, of a project or of one environment,
newest first, with the environment's name. Viewers may.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if opts.Scope.Environment != "" && opts.Scope.Project == "" {
				return cmdutil.FlagErrorf("--env needs --project")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Only this project (identifier or id)")
	cmd.Flags().StringVarP(&opts.Scope.Environment, "env", "e", "", "Only this environment (needs --project)")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []client.Deployment{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	lo := client.DeploymentListOptions{AccountID: t.AccountID(), ProjectID: t.ProjectID(), Status: opts.Status}
	if t.Environment != nil {
		lo.EnvironmentID = t.Environment.ID
	}
	items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Deployment], error) {
		lo.ListOptions = o
		return c.Deployments.List(ctx, lo)
	})
	if err != nil {
		return err
	}
	cmdutil.PrintNext(opts.IO, next)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, items)
	}
	names, err := environmentNames(ctx, c, items)
	if err != nil {
		return err
	}
	tb := cmdutil.NewTable(opts.IO.Out, "ID", "STATUS", "PROGRESS", "ENVIRONMENT", "MESSAGE", "CREATED")
	for _, d := range items {
		tb.Row(d.ID, d.Status, strconv.Itoa(d.Progress)+"%", names[d.EnvironmentID], cmdutil.Ellipsis(d.Message, 40), cmdutil.FormatTime(d.CreatedAt))
	}
	return tb.Flush()
}

// environmentNames looks up the name of each environment the deployments
// go to, one request per distinct environment (a page holds few).
func environmentNames(ctx context.Context, c *client.Client, items []client.Deployment) (map[string]string, error) {
	names := map[string]string{}
	for _, d := range items {
		if _, ok := names[d.EnvironmentID]; ok {
			continue
		}
		e, err := c.Environments.Get(ctx, d.EnvironmentID)
		switch {
		case errors.Is(err, client.ErrNotFound): // deleted meanwhile
			names[d.EnvironmentID] = cmdutil.ShortID(d.EnvironmentID)
		case err != nil:
			return nil, err
		default:
			names[d.EnvironmentID] = e.Name
		}
	}
	return names, nil
}
