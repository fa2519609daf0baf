package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ReleaseShowOptions are the inputs of `sfp release show`.
type ReleaseShowOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope   cmdutil.Scope // the project, for a release named by name
	Release string        // name or id
	JSON    bool
}

// NewCmdReleaseShow builds `sfp release show`.
func NewCmdReleaseShow(f *cmdutil.Factory, runF func(context.Context, *ReleaseShowOptions) error) *cobra.Command {
	opts := &ReleaseShowOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "show NAME|ID [--project P]",
		Short: "Show a release definition",
		Long:  `Show a release definition, with its JSON: by id, or by name with --project.`,
		Args:  cmdutil.ExactArgs(1, "give the release's name (with --project) or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Release = args[0]
			if !client.IsUUID(opts.Release) && opts.Scope.Project == "" {
				return cmdutil.FlagErrorf("a release named %q: pass --project to say whose", opts.Release)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return releaseShowRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Release{})
	return cmd
}

func releaseShowRun(ctx context.Context, opts *ReleaseShowOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{})
	if err != nil {
		return err
	}
	defer c.Close()
	var r *client.Release
	if client.IsUUID(opts.Release) {
		r, err = c.Releases.Get(ctx, opts.Release)
	} else {
		r, err = c.Releases.GetByName(ctx, t.Project.ID, opts.Release)
	}
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, r)
	}
	if err := cmdutil.PrintFields(opts.IO.Out, "Release", r.Name, "ID", r.ID, "Project", r.ProjectID,
		"Description", r.Description, "Created", cmdutil.FormatTime(r.CreatedAt)); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, "Definition:")
	var v any
	if json.Unmarshal(r.Definition, &v) == nil {
		return cmdutil.WriteJSON(opts.IO.Out, v)
	}
	return nil
}
