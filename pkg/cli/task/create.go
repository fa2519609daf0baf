package task

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// CreateOptions are the inputs of `sfp task create`.
type CreateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc // the service key's, else the user's
	Config cmdutil.ConfigFunc

	Scope        cmdutil.Scope // account, optional project
	ResourceType string
	ResourceID   string
	Kind         string
	Input        string
	Service      cmdutil.ServiceFlags
	JSON         bool
}

// NewCmdCreate builds `sfp task create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams}
	opts.Client, opts.Config = f.WorkerOrUser(&opts.Service)
	cmd := &cobra.Command{
		Use:   "create --resource-type T --resource-id ID --kind K [--project P] [--input JSON]",
		Short: "Queue a task on a resource",
		Long: `Queue a task for a worker; its id is printed on stdout. Members and owners
create tasks in their account; with --service-key (or -t TENANT) a worker
creates one, naming the account with --account (then --project may be an
identifier) or giving --project as an id.`,
		Example: `  sfp task create --resource-type deployment --resource-id "$DEPLOYMENT" --kind deploy --project acme/web`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ResourceType == "" || opts.ResourceID == "" || opts.Kind == "" {
				return cmdutil.FlagErrorf("pass --resource-type, --resource-id and --kind")
			}
			if !client.IsUUID(opts.ResourceID) {
				return cmdutil.FlagErrorf("--resource-id %q is not a UUID", opts.ResourceID)
			}
			if _, err := cmdutil.ParseJSONFlag("input", opts.Input); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id")
	cmd.Flags().StringVar(&opts.ResourceType, "resource-type", "", "Kind of resource, e.g. deployment, build, environment")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Id of the resource")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "What the task does, e.g. deploy, validate")
	cmd.Flags().StringVar(&opts.Input, "input", "", "Input parameters (JSON object)")
	opts.Service.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Task{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Account: true})
	if err != nil {
		return err
	}
	defer c.Close()
	in := client.NewTask{AccountID: t.AccountID(), ProjectID: t.ProjectID(),
		ResourceType: opts.ResourceType, ResourceID: opts.ResourceID, Kind: opts.Kind}
	if opts.Input != "" {
		in.Input = []byte(opts.Input)
	}
	tk, err := c.Tasks.Create(ctx, in)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, tk)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Queued task %s (%s on %s %s).\n", tk.ID, tk.Kind, tk.ResourceType, tk.ResourceID)
	fmt.Fprintln(opts.IO.Out, tk.ID)
	return nil
}
