// Package deployment holds `sfp deployment`.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdDeployment builds `sfp deployment`.
func NewCmdDeployment(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployment <command>",
		Aliases: []string{"deploy"},
		Short:   "Create deployments, follow them live, report their progress",
		Long: `A deployment puts a release or build on an environment. Members create them;
a worker picks them up and reports progress ('sfp deployment report', with
the service key); anyone in the account follows them with 'sfp deployment
watch'. Status moves queued -> running -> succeeded | failed | cancelled.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdWatch(f, nil), NewCmdReport(f, nil))
	return cmd
}

// printDeployment prints a deployment for humans.
func printDeployment(ios *cmdutil.IOStreams, d *client.Deployment) error {
	return cmdutil.PrintFields(ios.Out, "Deployment", d.ID, "Status", d.Status, "Progress", strconv.Itoa(d.Progress)+"%",
		"Message", d.Message, "Project", d.ProjectID, "Environment", d.EnvironmentID, "Release", d.ReleaseID, "Build", d.BuildID,
		"Details", cmdutil.CompactJSON(d.Details), "Started", cmdutil.FormatTimePtr(d.StartedAt),
		"Finished", cmdutil.FormatTimePtr(d.FinishedAt), "Created", cmdutil.FormatTime(d.CreatedAt))
}

// CreateOptions are the inputs of `sfp deployment create`.
type CreateOptions struct {
	cmdutil.Deps

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
	opts := &CreateOptions{Deps: f.UserDeps()}
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
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, _ []string) error {
			if opts.Scope.Project == "" || opts.Scope.Environment == "" {
				return cmdutil.FlagErrorf("which environment? pass --project P and --env E")
			}
			return cmdutil.CheckJSONFlags(cmdutil.JSONFlagValue{Name: "details", Value: opts.Details})
		}, runF, createRun),
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
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Environment: true}, func(c *client.Client, t *cmdutil.Target) error {
		in := client.NewDeployment{EnvironmentID: t.Environment.ID, Message: opts.Message}
		var err error
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
	})
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

// ListOptions are the inputs of `sfp deployment list`.
type ListOptions struct {
	cmdutil.ListInputs // Scope: account, optional project and environment

	Status string
}

// NewCmdList builds `sfp deployment list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{Deps: f.UserDeps()}}
	cmd := &cobra.Command{
		Use:   "list [--project P [--env E]] [--status S]",
		Short: "List deployments, newest first",
		Long: `List the deployments of the account, of a project or of one environment,
newest first, with the environment's name. Viewers may.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.Check(func() error {
			if opts.Scope.Environment != "" && opts.Scope.Project == "" {
				return cmdutil.FlagErrorf("--env needs --project")
			}
			return nil
		}), runF, listRun),
	}
	opts.ProjectFilter(cmd)
	cmd.Flags().StringVarP(&opts.Scope.Environment, "env", "e", "", "Only this environment (needs --project)")
	cmdutil.StatusFilter(cmd, &opts.Status)
	opts.Register(cmd, []client.Deployment{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return opts.WithTarget(ctx, opts.Scope, cmdutil.Need{Account: true}, func(c *client.Client, t *cmdutil.Target) error {
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
		var names map[string]string // for people only
		if !opts.JSON {
			if names, err = environmentNames(ctx, c, items); err != nil {
				return err
			}
		}
		return cmdutil.PrintList(opts.IO, opts.JSON, items, next, []string{"ID", "STATUS", "PROGRESS", "ENVIRONMENT", "MESSAGE", "CREATED"}, func(d client.Deployment) []string {
			return []string{d.ID, d.Status, strconv.Itoa(d.Progress) + "%", names[d.EnvironmentID], cmdutil.Ellipsis(d.Message, 40), cmdutil.FormatTime(d.CreatedAt)}
		})
	})
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
