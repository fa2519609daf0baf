package env

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// UpdateOptions are the inputs of `sfp env update`.
type UpdateOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

	Scope cmdutil.Scope // the project and the environment
	// Changes holds the fields whose flags were given.
	Changes client.EnvironmentUpdate
	JSON    bool
}

// NewCmdUpdate builds `sfp env update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	var flags struct {
		rename, category, branch, description, metadata string
		active                                          bool
		tags                                            []string
	}
	cmd := &cobra.Command{
		Use:   "update NAME --project P [--rename N] [--category C] [--branch B] [--active=false] [--tag T]...",
		Short: "Change an environment (members and owners)",
		Long: `Change the fields whose flags are given; "" clears a text field and --tag
replaces the tags.`,
		Example: `  sfp env update staging --project acme/web --active=false`,
		Args:    cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if _, err := cmdutil.ParseJSONFlag("metadata", flags.metadata); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			u := &opts.Changes
			u.Name = ifChanged(changed, "rename", &flags.rename)
			u.Category = ifChanged(changed, "category", &flags.category)
			u.Branch = ifChanged(changed, "branch", &flags.branch)
			u.Description = ifChanged(changed, "description", &flags.description)
			u.Active = ifChanged(changed, "active", &flags.active)
			u.Tags = ifChanged(changed, "tag", &flags.tags)
			u.Metadata = raw(flags.metadata)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().StringVar(&flags.rename, "rename", "", "New name")
	cmd.Flags().StringVar(&flags.category, "category", "", "Category")
	cmd.Flags().StringVar(&flags.branch, "branch", "", "Git branch (\"\" clears it)")
	cmd.Flags().StringVar(&flags.description, "description", "", "Description (\"\" clears it)")
	cmd.Flags().BoolVar(&flags.active, "active", true, "Whether the environment is in use (--active=false deactivates it)")
	cmd.Flags().StringArrayVar(&flags.tags, "tag", nil, "Tag (repeatable; replaces the tags)")
	cmd.Flags().StringVar(&flags.metadata, "metadata", "", "Metadata (JSON object, replaces it)")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Environment{})
	return cmd
}

// ifChanged is p when the flag was given, else nil (no change).
func ifChanged[T any](changed func(string) bool, flag string, p *T) *T {
	if changed(flag) {
		return p
	}
	return nil
}

func updateRun(ctx context.Context, opts *UpdateOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, needEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	e, err := c.Environments.Update(ctx, t.Environment.ID, opts.Changes)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, e)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Updated environment %s of %s.\n", e.Name, t.Project.Identifier)
	return nil
}
