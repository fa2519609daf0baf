package build

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// BuildShowOptions are the inputs of `sfp build show`.
type BuildShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

	ID   string
	JSON bool
}

// NewCmdBuildShow builds `sfp build show`.
func NewCmdBuildShow(f *cmdutil.Factory, runF func(context.Context, *BuildShowOptions) error) *cobra.Command {
	opts := &BuildShowOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a build",
		Args:  cmdutil.ExactArgs(1, "give the build's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if err := cmdutil.CheckID("build", opts.ID); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return buildShowRun(cmd.Context(), opts)
		},
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Build{})
	return cmd
}

func buildShowRun(ctx context.Context, opts *BuildShowOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	b, err := c.Builds.Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, b)
	}
	return cmdutil.PrintFields(opts.IO.Out, "Build", b.BuildNumber, "ID", b.ID, "Project", b.ProjectID, "Status", b.Status,
		"Branch", b.Branch, "Commit", b.CommitSHA, "Version", b.Version, "URL", b.URL,
		"Metadata", cmdutil.CompactJSON(b.Metadata), "Started", cmdutil.FormatTimePtr(b.StartedAt),
		"Finished", cmdutil.FormatTimePtr(b.FinishedAt), "Created", cmdutil.FormatTime(b.CreatedAt))
}
