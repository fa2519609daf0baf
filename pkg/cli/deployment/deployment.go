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

// Options are the inputs of the deployment commands.
type Options struct {
	IO      *cmdutil.IOStreams
	Account string
	Project string
	Env     string
	Release string
	Build   string
	Message string
	Details string
	Status  string
	ID      string
	Watch   bool
	List    cmdutil.ListFlags
	JSON    bool
}

// NewCmdCreate builds `sfp deployment create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "create --project P --env E [--release R] [--build B] [--watch]",
		Short: "Create a queued deployment (members and owners)",
		Long: `Create a queued deployment of a release definition and/or build to an
environment. The deployment id is printed on stdout; workers report on it
with 'sfp deployment report ID', and 'sfp deployment watch ID' follows it.`,
		Example: `  DEPLOYMENT=$(sfp deployment create --project acme/web --env staging --release 2026.12)
  sfp deployment watch "$DEPLOYMENT"`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Project == "" || opts.Env == "" {
				return cmdutil.FlagErrorf("which environment? pass --project P and --env E")
			}
			if _, err := cmdutil.ParseJSONFlag("details", opts.Details); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), f, opts)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Project identifier (org/repo) or id")
	cmd.Flags().StringVarP(&opts.Env, "env", "e", "", "Environment name or id")
	cmd.Flags().StringVar(&opts.Release, "release", "", "Release definition name or id")
	cmd.Flags().StringVar(&opts.Build, "build", "", "Build number or id")
	cmd.Flags().StringVar(&opts.Message, "message", "", "Initial message")
	cmd.Flags().StringVar(&opts.Details, "details", "", "Details (JSON object)")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Follow the deployment until it finishes")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func createRun(ctx context.Context, f *cmdutil.Factory, opts *Options) error {
	c, cfg, err := f.UserClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var p *client.Project
	if client.IsUUID(opts.Project) {
		p, err = c.Projects.Get(ctx, opts.Project)
	} else {
		a, aerr := cmdutil.ResolveAccount(ctx, c, cfg, opts.Account)
		if aerr != nil {
			return aerr
		}
		p, err = cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
	}
	if err != nil {
		return err
	}
	env, err := cmdutil.ResolveEnvironment(ctx, c, p.ID, opts.Env)
	if err != nil {
		return err
	}
	in := client.NewDeployment{EnvironmentID: env.ID, Message: opts.Message}
	if opts.Details != "" {
		in.Details = []byte(opts.Details)
	}
	if opts.Release != "" {
		r := opts.Release
		if !client.IsUUID(r) {
			rel, err := c.Releases.GetByName(ctx, p.ID, r)
			if err != nil {
				return err
			}
			r = rel.ID
		}
		in.ReleaseID = r
	}
	if opts.Build != "" {
		b := opts.Build
		if !client.IsUUID(b) {
			found, err := findBuild(ctx, c, p.ID, b)
			if err != nil {
				return err
			}
			b = found
		}
		in.BuildID = b
	}
	d, err := c.Deployments.Create(ctx, in)
	if err != nil {
		return err
	}
	if opts.JSON && !opts.Watch {
		return cmdutil.WriteJSON(opts.IO.Out, d)
	}
	if !opts.JSON {
		fmt.Fprintf(opts.IO.ErrOut, "Created deployment to %s of %s (queued).\n", env.Name, p.Identifier)
		fmt.Fprintln(opts.IO.Out, d.ID)
	}
	if !opts.Watch {
		return nil
	}
	w, err := c.Deployments.Watch(ctx, d.ID)
	if err != nil {
		return err
	}
	return cmdutil.FollowWatch(ctx, opts.IO, w, "deployment "+shortID(d.ID), opts.JSON)
}

// findBuild finds a project's build by its number.
func findBuild(ctx context.Context, c *client.Client, projectID, number string) (string, error) {
	for b, err := range allBuilds(ctx, c, projectID) {
		if err != nil {
			return "", err
		}
		if b.BuildNumber == number {
			return b.ID, nil
		}
	}
	return "", &client.Error{Op: "find build", StatusCode: 404, Code: "PT404", Message: fmt.Sprintf("no build %q in the project", number)}
}

func allBuilds(ctx context.Context, c *client.Client, projectID string) func(func(client.Build, error) bool) {
	return func(yield func(client.Build, error) bool) {
		o := client.BuildListOptions{ProjectID: projectID, ListOptions: client.ListOptions{Limit: client.MaxPageSize}}
		for {
			p, err := c.Builds.List(ctx, o)
			if err != nil {
				yield(client.Build{}, err)
				return
			}
			for _, b := range p.Items {
				if !yield(b, nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			o.Cursor = p.Next
		}
	}
}

func shortID(id string) string {
	if len(id) >= 8 {
		return id[:8]
	}
	return id
}

// NewCmdList builds `sfp deployment list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list [--project P [--env E]] [--status S]",
		Short: "List deployments, newest first",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.List.Validate(); err != nil {
				return err
			}
			if opts.Env != "" && opts.Project == "" {
				return cmdutil.FlagErrorf("--env needs --project")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, cfg, err := f.UserClient(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			lo := client.DeploymentListOptions{Status: opts.Status}
			a, err := cmdutil.ResolveAccount(ctx, c, cfg, opts.Account)
			if err != nil {
				return err
			}
			lo.AccountID = a.ID
			names := map[string]string{}
			if opts.Project != "" {
				p, err := cmdutil.ResolveProject(ctx, c, a.ID, opts.Project)
				if err != nil {
					return err
				}
				lo.ProjectID = p.ID
				if opts.Env != "" {
					e, err := cmdutil.ResolveEnvironment(ctx, c, p.ID, opts.Env)
					if err != nil {
						return err
					}
					lo.EnvironmentID = e.ID
				}
				for e, err := range c.Environments.All(ctx, p.ID) {
					if err != nil {
						return err
					}
					names[e.ID] = e.Name
				}
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
			t := cmdutil.NewTable(opts.IO.Out, "ID", "STATUS", "PROGRESS", "ENVIRONMENT", "MESSAGE", "CREATED")
			for _, d := range items {
				env := names[d.EnvironmentID]
				if env == "" {
					env = shortID(d.EnvironmentID)
				}
				t.Row(d.ID, d.Status, strconv.Itoa(d.Progress)+"%", env, cmdutil.Ellipsis(d.Message, 40), cmdutil.FormatTime(d.CreatedAt))
			}
			return t.Flush()
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVarP(&opts.Project, "project", "p", "", "Only this project (identifier or id)")
	cmd.Flags().StringVarP(&opts.Env, "env", "e", "", "Only this environment (needs --project)")
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only this status: queued, running, succeeded, failed, cancelled")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func idCmd(f *cmdutil.Factory, opts *Options, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, c *client.Client) error) func(*cobra.Command, []string) error {
	return cmdutil.IDRunE(f, "deployment", opts, func(id string) { opts.ID = id }, runF, fn)
}

// NewCmdShow builds `sfp deployment show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a deployment",
		Args:  cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: idCmd(f, opts, runF, func(ctx context.Context, c *client.Client) error {
			d, err := c.Deployments.Get(ctx, opts.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, d)
			}
			return PrintDeployment(opts.IO, d)
		}),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// PrintDeployment prints a deployment for humans.
func PrintDeployment(ios *cmdutil.IOStreams, d *client.Deployment) error {
	return cmdutil.PrintFields(ios.Out, "Deployment", d.ID, "Status", d.Status, "Progress", strconv.Itoa(d.Progress)+"%",
		"Message", d.Message, "Project", d.ProjectID, "Environment", d.EnvironmentID, "Release", d.ReleaseID, "Build", d.BuildID,
		"Details", cmdutil.CompactJSON(d.Details), "Started", cmdutil.FormatTimePtr(d.StartedAt),
		"Finished", cmdutil.FormatTimePtr(d.FinishedAt), "Created", cmdutil.FormatTime(d.CreatedAt))
}

// NewCmdWatch builds `sfp deployment watch`.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "watch ID [--json]",
		Short: "Follow a deployment live until it finishes",
		Long: `Follow a deployment until it succeeds, fails or is cancelled: a progress bar
and status messages on a terminal, or with --json one JSON event per line
(event, resource_type, id, status, progress, message, final, time).

Exit code: 0 when it succeeded, 8 when it failed or was cancelled.`,
		Args: cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: idCmd(f, opts, runF, func(ctx context.Context, c *client.Client) error {
			w, err := c.Deployments.Watch(ctx, opts.ID)
			if err != nil {
				return err
			}
			return cmdutil.FollowWatch(ctx, opts.IO, w, "deployment "+shortID(opts.ID), opts.JSON)
		}),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Stream JSON events, one per line")
	return cmd
}

// ReportOptions are the inputs of `sfp deployment report`.
type ReportOptions struct {
	IO       *cmdutil.IOStreams
	ID       string
	Status   string
	Progress int
	Message  string
	Details  string
	Service  cmdutil.ServiceFlags
	JSON     bool

	progressSet, messageSet bool
}

// NewCmdReport builds `sfp deployment report`.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "report ID [--status S] [--progress N] [--message M]",
		Short: "Report a deployment's progress (workers)",
		Long: `Record progress on a deployment, as a worker does. With --service-key,
SFP_SERVICE_KEY or -t TENANT it acts with the service_role key (workers);
otherwise as the logged-in user (members and owners).

Status moves queued -> running -> succeeded | failed | cancelled; succeeded
sets progress to 100.`,
		Example: `  sfp deployment report "$DEPLOYMENT" -t acme --status running --progress 10 --message "validating"
  sfp deployment report "$DEPLOYMENT" -t acme --status succeeded --message "deployed"`,
		Args: cmdutil.ExactArgs(1, "give the deployment's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.progressSet, opts.messageSet = cmd.Flags().Changed("progress"), cmd.Flags().Changed("message")
			if err := validateReport(opts.ID, opts.Status, opts.Progress, opts.progressSet, opts.messageSet || opts.Details != ""); err != nil {
				return err
			}
			if _, err := cmdutil.ParseJSONFlag("details", opts.Details); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			ctx := cmd.Context()
			c, err := ReporterClient(ctx, f, &opts.Service)
			if err != nil {
				return err
			}
			defer c.Close()
			p := client.Progress{Status: opts.Status}
			if opts.progressSet {
				p.Progress = &opts.Progress
			}
			if opts.messageSet {
				p.Message = &opts.Message
			}
			if opts.Details != "" {
				p.Details = []byte(opts.Details)
			}
			d, err := c.Deployments.Report(ctx, opts.ID, p)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, d)
			}
			fmt.Fprintf(opts.IO.ErrOut, "Deployment %s: %s, %d%%.\n", shortID(d.ID), d.Status, d.Progress)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Status, "status", "", "New status: running, succeeded, failed or cancelled")
	cmd.Flags().IntVar(&opts.Progress, "progress", 0, "Progress in percent (0-100)")
	cmd.Flags().StringVar(&opts.Message, "message", "", "Progress message")
	cmd.Flags().StringVar(&opts.Details, "details", "", "Details (JSON object, replaces them)")
	opts.Service.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// validateReport checks the flags of a progress report.
func validateReport(id, status string, progress int, progressSet, other bool) error {
	if !client.IsUUID(id) {
		return cmdutil.FlagErrorf("%q is not an id (a UUID)", id)
	}
	switch status {
	case "", client.StatusQueued, client.StatusRunning, client.StatusSucceeded, client.StatusFailed, client.StatusCancelled:
	default:
		return cmdutil.FlagErrorf("--status must be running, succeeded, failed or cancelled, not %q", status)
	}
	if progressSet && (progress < 0 || progress > 100) {
		return cmdutil.FlagErrorf("--progress must be between 0 and 100, not %d", progress)
	}
	if status == "" && !progressSet && !other {
		return cmdutil.FlagErrorf("nothing to report: pass --status, --progress or --message")
	}
	return nil
}

// ReporterClient is the client a progress report uses: the service key
// when one is given, else the logged-in session.
func ReporterClient(ctx context.Context, f *cmdutil.Factory, s *cmdutil.ServiceFlags) (*client.Client, error) {
	if s.Given(f) {
		return f.ServiceClient(ctx, s)
	}
	c, _, err := f.UserClient(ctx)
	var ae *cmdutil.AuthError
	if errors.As(err, &ae) {
		return nil, &cmdutil.AuthError{Msg: "no service key and not logged in: workers pass --service-key KEY, set SFP_SERVICE_KEY or pass -t TENANT for a local tenant; users run `sfp login` first"}
	}
	return c, err
}

// ValidateReport is validateReport for the task commands.
func ValidateReport(id, status string, progress int, progressSet, other bool) error {
	return validateReport(id, status, progress, progressSet, other)
}
