package deployment

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// CreateOptions are the inputs of `sfp deployment create`.
type CreateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope   cmdutil.Scope // the project and environment
	Release string        // name or id
	Build   string        // build number or id
	Message string
	Details string
	Watch   bool
	JSON    bool
}

// NewCmdCreate builds `sfp deployment create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "create --project P --env E [--release R] [--build B] [--watch]",
		Short: "Create a queued deployment (members and owners)",
		Long: `Create a queued deployment of a release definition and/or build to an
environment; the release is named by name or id, the build by number or id.
The deployment id is printed on stdout; workers report on it with
'sfp deployment report ID', and 'sfp deployment watch ID' follows it.
--watch follows it at once, as watch does.`,
		Example: `  DEPLOYMENT=$(sfp deployment create --project acme/web --env staging --release 2026.12)
  sfp deployment watch "$DEPLOYMENT"`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Scope.Project == "" || opts.Scope.Environment == "" {
				return cmdutil.FlagErrorf("which environment? pass --project P and --env E")
			}
			if _, err := cmdutil.ParseJSONFlag("details", opts.Details); err != nil {
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
	cmd.Flags().StringVarP(&opts.Scope.Environment, "env", "e", "", "Environment name or id")
	cmd.Flags().StringVar(&opts.Release, "release", "", "Release definition name or id")
	cmd.Flags().StringVar(&opts.Build, "build", "", "Build number or id")
	cmd.Flags().StringVar(&opts.Message, "message", "", "Initial message")
	cmd.Flags().StringVar(&opts.Details, "details", "", "Details (JSON object)")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Follow the deployment until it finishes")
	cmdutil.JSONFlag(cmd, &opts.JSON, "Output JSON (with --watch: the watch's events)", client.Deployment{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Environment: true})
	if err != nil {
		return err
	}
	defer c.Close()
	in := client.NewDeployment{EnvironmentID: t.Environment.ID, Message: opts.Message}
	if opts.Details != "" {
		in.Details = []byte(opts.Details)
	}
	if in.ReleaseID, err = releaseID(ctx, c, t.Project.ID, opts.Release); err != nil {
		return err
	}
	if in.BuildID, err = buildID(ctx, c, t.Project.ID, opts.Build); err != nil {
		return err
	}
	d, err := c.Deployments.Create(ctx, in)
	if err != nil {
		return err
	}
	if opts.JSON && !opts.Watch {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	if !opts.JSON {
		fmt.Fprintf(opts.IO.ErrOut, "Created deployment to %s of %s (queued).\n", t.Environment.Name, t.Project.Identifier)
		fmt.Fprintln(opts.IO.Out, d.ID)
	}
	if !opts.Watch {
		return nil
	}
	w, err := c.Deployments.Watch(ctx, d.ID)
	if err != nil {
		return err
	}
	return cmdutil.FollowWatch(ctx, opts.IO, w, "deployment "+cmdutil.ShortID(d.ID), opts.JSON)
}

// releaseID finds a project's release by name ("" and ids pass through).
func releaseID(ctx context.Context, c *client.Client, projectID, ref string) (string, error) {
	if ref == "" || client.IsUUID(ref) {
		return ref, nil
	}
	r, err := c.Releases.GetByName(ctx, projectID, ref)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// buildID finds a project's build by its number ("" and ids pass through).
func buildID(ctx context.Context, c *client.Client, projectID, ref string) (string, error) {
	if ref == "" || client.IsUUID(ref) {
		return ref, nil
	}
	o := client.BuildListOptions{ProjectID: projectID, ListOptions: client.ListOptions{Limit: client.MaxPageSize}}
	for {
		p, err := c.Builds.List(ctx, o)
		if err != nil {
			return "", err
		}
		for _, b := range p.Items {
			if b.BuildNumber == ref {
				return b.ID, nil
			}
		}
		if p.Next == "" {
			return "", &client.Error{Op: "find build", StatusCode: 404, Code: "PT404", Message: fmt.Sprintf("no build %q in the project", ref)}
		}
		o.Cursor = p.Next
	}
}
