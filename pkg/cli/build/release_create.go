package build

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// ReleaseCreateOptions are the inputs of `sfp release create`.
type ReleaseCreateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope       cmdutil.Scope // the project
	Name        string
	Description string
	Definition  string // a file, or - for stdin
	JSON        bool
}

// NewCmdReleaseCreate builds `sfp release create`.
func NewCmdReleaseCreate(f *cmdutil.Factory, runF func(context.Context, *ReleaseCreateOptions) error) *cobra.Command {
	opts := &ReleaseCreateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "create NAME --project P [--definition FILE|-] [--description D]",
		Short: "Create a release definition (members and owners)",
		Long: `Create a release definition of a project from a JSON object (--definition FILE,
or - for stdin); its id is printed on stdout. A taken name exits 6.`,
		Example: `  sfp release create 2026.12 --project acme/web --definition release.json`,
		Args:    cmdutil.ExactArgs(1, "give the release's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := opts.Scope.Check(cmdutil.Need{Project: true}); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return releaseCreateRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	opts.Scope.ProjectFlag(cmd, "Project identifier (org/repo) or id (required)")
	cmd.Flags().StringVar(&opts.Definition, "definition", "", "File holding the definition (JSON object), or - for stdin")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Release{})
	return cmd
}

func releaseCreateRun(ctx context.Context, opts *ReleaseCreateOptions) error {
	var def json.RawMessage
	if opts.Definition != "" {
		var err error
		if def, err = cmdutil.ReadJSONInput(opts.IO, opts.Definition, "the release definition"); err != nil {
			return err
		}
	}
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Releases.Create(ctx, client.NewRelease{ProjectID: t.Project.ID, Name: opts.Name, Description: opts.Description, Definition: def})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, r)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created release %s of %s.\n", r.Name, t.Project.Identifier)
	fmt.Fprintln(opts.IO.Out, r.ID)
	return nil
}
