package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// CredentialsGetOptions are the inputs of `sfp integration credentials get`.
type CredentialsGetOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc // the service key's, else the user's
	Config cmdutil.ConfigFunc

	Scope   cmdutil.Scope // the account, for an integration named by name
	Name    string        // name or id
	Reveal  bool
	Field   string
	Output  string
	Service cmdutil.ServiceFlags
	JSON    bool
}

// keysJSON is the --json shape of `sfp integration credentials get`
// without --reveal, --field or --output: the names of the keys only.
type keysJSON struct {
	Integration string   `json:"integration"`
	Keys        []string `json:"keys"`
}

// NewCmdCredentialsGet builds `sfp integration credentials get`.
func NewCmdCredentialsGet(f *cmdutil.Factory, runF func(context.Context, *CredentialsGetOptions) error) *cobra.Command {
	opts := &CredentialsGetOptions{IO: f.IOStreams}
	opts.Client, opts.Config = f.WorkerOrUser(&opts.Service)
	cmd := &cobra.Command{
		Use:   "get NAME [--reveal | --field KEY | --output FILE]",
		Short: "Read an integration's credentials (owners, workers)",
		Long: `Read an integration's credentials. Only owners of the account and workers with
the service_role key may (members and viewers: exit 5); every read is logged.
The values are not printed unless you ask: --reveal prints the JSON on stdout,
--field KEY prints one value (a string as is, anything else as JSON), --output
FILE writes the JSON to a new file readable only by you (0600). Without these,
only the names of the keys are shown. No credentials: exit 3.`,
		Example: `  sfp integration credentials get github-acme               # key names only
  TOKEN=$(sfp integration credentials get github-acme --field token)
  sfp integration credentials get github-acme -t acme --account acme --output creds.json   # as a worker`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			given := 0
			for _, b := range []bool{opts.Reveal, opts.Output != "", opts.Field != ""} {
				if b {
					given++
				}
			}
			if given > 1 {
				return cmdutil.FlagErrorf("--reveal, --field and --output exclude each other")
			}
			if err := checkWorker(f, &opts.Service, opts.Scope, opts.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return credentialsGetRun(cmd.Context(), opts)
		},
	}
	opts.Scope.AccountFlag(cmd)
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "Print the credentials (JSON) on stdout")
	cmd.Flags().StringVar(&opts.Field, "field", "", "Print the value of this key only")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Write the credentials to this new file (mode 0600)")
	opts.Service.Register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "Print the key names as JSON", keysJSON{})
	return cmd
}

func credentialsGetRun(ctx context.Context, opts *CredentialsGetOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, named(opts.Name))
	if err != nil {
		return err
	}
	defer c.Close()
	i, err := find(ctx, c, t, opts.Name)
	if err != nil {
		return err
	}
	raw, err := c.Integrations.Credentials(ctx, i.ID)
	if err != nil {
		return err
	}
	if raw == nil {
		return &client.Error{Op: "get credentials", StatusCode: 404, Code: "PT404",
			Message: fmt.Sprintf("integration %s has no credentials", i.Name),
			Hint:    "set them with `sfp integration credentials set " + i.Name + "`"}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("read credentials: %w", err)
	}
	switch {
	case opts.Field != "":
		return printField(opts.IO, i.Name, obj, opts.Field)
	case opts.Reveal:
		return cmdutil.WriteJSON(opts.IO.Out, obj)
	case opts.Output != "":
		return writeCredentials(opts.IO, i.Name, opts.Output, raw)
	case opts.JSON:
		return cmdutil.WriteJSON(opts.IO.Out, keysJSON{i.Name, keys(obj)})
	}
	fmt.Fprintf(opts.IO.Out, "%s\n", strings.Join(keys(obj), "\n"))
	fmt.Fprintf(opts.IO.ErrOut, "Credentials of %s hold the keys above; values hidden (--reveal prints them, --output FILE saves them).\n", i.Name)
	return nil
}

// printField prints one value: a string as is, anything else as JSON.
func printField(ios *cmdutil.IOStreams, name string, obj map[string]json.RawMessage, field string) error {
	v, ok := obj[field]
	if !ok {
		return &client.Error{Op: "get credentials", StatusCode: 404, Code: "PT404",
			Message: fmt.Sprintf("the credentials of %s have no key %q (keys: %s)", name, field, strings.Join(keys(obj), ", "))}
	}
	var str string
	if json.Unmarshal(v, &str) == nil {
		fmt.Fprintln(ios.Out, str)
		return nil
	}
	fmt.Fprintln(ios.Out, string(v))
	return nil
}

// writeCredentials writes them to a new file only the user may read.
func writeCredentials(ios *cmdutil.IOStreams, name, path string, raw []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := fh.Write(append(raw, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	fmt.Fprintf(ios.ErrOut, "Wrote the credentials of %s to %s (mode 0600).\n", name, path)
	return nil
}
