package cmdutil

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// ShowOptions are the inputs of a command that shows one resource by id
// (`sfp build show`, `sfp deployment show`): such commands differ only in
// what they fetch and how they print it.
type ShowOptions struct {
	Deps
	// Kind is what is shown ("build"), for messages.
	Kind string

	ID   string
	JSON bool
}

// NewCmdShow completes cmd, which holds the help text, into the show
// command of opts.Kind: get fetches the resource by id, print prints it for
// people, and --json prints it as T encodes.
func NewCmdShow[T any](cmd *cobra.Command, opts *ShowOptions, runF func(context.Context, *ShowOptions) error,
	get func(ctx context.Context, c *client.Client, id string) (T, error), print func(*IOStreams, T) error) *cobra.Command {
	cmd.Args = ExactArgs(1, fmt.Sprintf("give the %s's id", opts.Kind))
	cmd.RunE = RunArgsE(opts, IDArg(opts.Kind, &opts.ID), runF, func(ctx context.Context, o *ShowOptions) error {
		return CallAndPrint(ctx, o.Deps, o.JSON, func(c *client.Client) (T, error) { return get(ctx, c, o.ID) },
			func(v T) error { return print(o.IO, v) })
	})
	var shape T
	JSONFlag(cmd, &opts.JSON, "", shape)
	return cmd
}

// idArg is the parse function of a command whose one argument is the id of
// a resource of kind: it stores it in id and refuses one that is not a
// UUID.
func IDArg(kind string, id *string) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		*id = args[0]
		return CheckID(kind, *id)
	}
}
