package env

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// CreateOptions are the inputs of `sfp env create`.
type CreateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope       cmdutil.Scope // the project
	Name        string
	Category    string
	Branch      string
	Description string
	Tags        []string
	Metadata    string
	Inactive    bool
	JSON        bool
}

// NewCmdCreate builds `sfp env create`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	cmd := &cobra.Command{
		Use:     "create NAME --project P [--category C] [--branch B] [--tag T]...",
		Short:   "Create an environment (members and owners)",
		Long:    `Create an environment of a project; its id is printed on stdout.`,
		Example: `  sfp env create staging --project acme/web --category staging --branch main --tag eu`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := opts.Scope.Check(cmdutil.Need{Project: true}); err != nil {
				return err
			}
			if _, err := cmdutil.ParseJSONFlag("metadata", opts.Metadata); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().StringVar(&opts.Category, "category", "", "Category, e.g. development (default), test, staging, production")
	cmd.Flags().StringVar(&opts.Branch, "branch", "", "Git branch the environment follows")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	cmd.Flags().StringArrayVar(&opts.Tags, "tag", nil, "Tag (repeatable)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Metadata (JSON object)")
	cmd.Flags().BoolVar(&opts.Inactive, "inactive", false, "Create it inactive (it cannot be locked)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Environment{})
	return cmd
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, cmdutil.Need{Project: true})
	if err != nil {
		return err
	}
	defer c.Close()
	e, err := c.Environments.Create(ctx, client.NewEnvironment{ProjectID: t.Project.ID, Name: opts.Name,
		Category: opts.Category, Branch: opts.Branch, Description: opts.Description, Inactive: opts.Inactive,
		Metadata: raw(opts.Metadata), Tags: opts.Tags})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, e)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created environment %s of %s.\n", e.Name, t.Project.Identifier)
	fmt.Fprintln(opts.IO.Out, e.ID)
	return nil
}
