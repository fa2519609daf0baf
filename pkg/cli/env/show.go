package env

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of `sfp env show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project and the environment
	JSON  bool
}

// showJSON is the --json shape of `sfp env show`: the environment and its
// lease queue.
type showJSON struct {
	*client.Environment
	Queue []client.Lease `json:"queue"`
}

// NewCmdShow builds `sfp env show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show NAME --project P",
		Short: "Show an environment and who holds it",
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", showJSON{})
	return cmd
}

func showRun(ctx context.Context, opts *ShowOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, needEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	q, err := c.Environments.Queue(ctx, t.Environment.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, showJSON{t.Environment, q})
	}
	e := t.Environment
	holder := "nobody"
	if len(q) > 0 && q[0].Active() {
		holder = fmt.Sprintf("ticket %s until %s (%s)", q[0].Ticket, cmdutil.FormatTimePtr(q[0].ExpiresAt), q[0].Reason)
	}
	return cmdutil.PrintFields(opts.IO.Out, "Environment", e.Name, "Project", t.Project.Identifier, "ID", e.ID,
		"Category", e.Category, "Branch", e.Branch, "Active", cmdutil.YesNo(e.Active), "Tags", strings.Join(e.Tags, ", "),
		"Metadata", cmdutil.CompactJSON(e.Metadata), "Description", e.Description,
		"Held by", holder, "Waiting", fmt.Sprint(max(len(q)-1, 0)), "Created", cmdutil.FormatTime(e.CreatedAt))
}
