package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// CredentialsSetOptions are the inputs of `sfp integration credentials set`.
type CredentialsSetOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc // the service key's, else the user's
	Config cmdutil.ConfigFunc

	Scope   cmdutil.Scope // the account, for an integration named by name
	Name    string        // name or id
	File    string        // - for stdin
	Service cmdutil.ServiceFlags
}

// NewCmdCredentialsSet builds `sfp integration credentials set`.
func NewCmdCredentialsSet(f *cmdutil.Factory, runF func(context.Context, *CredentialsSetOptions) error) *cobra.Command {
	opts := &CredentialsSetOptions{IO: f.IOStreams}
	opts.Client, opts.Config = f.WorkerOrUser(&opts.Service)
	cmd := &cobra.Command{
		Use:   "set NAME [--from-file FILE]",
		Short: "Store an integration's credentials, encrypted (owners, workers)",
		Long: `Store the credentials (a JSON object) read from --from-file, or from stdin
when no file is given, replacing earlier ones. They are encrypted in the
database and never printed; only the names of their keys are echoed.`,
		Example: `  sfp integration credentials set github-acme --from-file token.json
  echo '{"token":"ghp_..."}' | sfp integration credentials set github-acme`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.File == "" {
				if opts.IO.IsStdinTTY() {
					return cmdutil.FlagErrorf("pipe the credentials (a JSON object) into stdin, or pass --from-file FILE")
				}
				opts.File = "-"
			}
			if err := checkWorker(f, &opts.Service, opts.Scope, opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credentialsSetRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().StringVar(&opts.File, "from-file", "", "File holding the credentials (JSON object); - or none for stdin")
	opts.Service.Register(cmd)
	return cmd
}

func credentialsSetRun(ctx context.Context, opts *CredentialsSetOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, named(opts.Name))
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := cmdutil.ReadJSONInput(opts.IO, opts.File, "the credentials")
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return cmdutil.FlagErrorf("the credentials must be a JSON object")
	}
	i, err := find(ctx, c, t, opts.Name)
	if err != nil {
		return err
	}
	if err := c.Integrations.SetCredentials(ctx, i.ID, raw); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Stored the credentials of %s (keys: %s), encrypted.\n", i.Name, strings.Join(keys(obj), ", "))
	return nil
}
