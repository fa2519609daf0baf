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

// credentialsTarget is what every credentials command names: an
// integration, by name in the account or by id, as its owner or as a
// worker with the service credentials.
type credentialsTarget struct {
	integrationRef

	Service cmdutil.ServiceFlags
}

// init makes the command act as a worker when given service credentials,
// else as the signed-in user.
func (ct *credentialsTarget) init(f *cmdutil.Factory) { ct.Deps = f.WorkerDeps(&ct.Service) }

// register adds --account and the service credential flags.
func (ct *credentialsTarget) register(cmd *cobra.Command) {
	ct.Scope.AccountFlag(cmd)
	ct.Service.Register(cmd)
}

// parse takes the integration argument. A worker naming it by name must
// name the account too: a worker has no account of its own.
func (ct *credentialsTarget) parse(f *cmdutil.Factory, args []string) error {
	ct.Name = args[0]
	if ct.Service.Given(f.Getenv) && ct.Scope.Account == "" && !client.IsUUID(ct.Name) {
		return cmdutil.FlagErrorf("with the service key, name the account with --account SLUG (or give the integration's id)")
	}
	return nil
}

// CredentialsSetOptions are the inputs of `sfp integration credentials set`.
type CredentialsSetOptions struct {
	credentialsTarget

	File string // - for stdin
}

// NewCmdCredentialsSet builds `sfp integration credentials set`.
func NewCmdCredentialsSet(f *cmdutil.Factory, runF func(context.Context, *CredentialsSetOptions) error) *cobra.Command {
	opts := &CredentialsSetOptions{}
	opts.init(f)
	cmd := &cobra.Command{
		Use:   "set NAME [--from-file FILE]",
		Short: "Store an integration's credentials, encrypted (owners, workers)",
		Long: `Store the credentials (a JSON object) read from --from-file, or from stdin
when no file is given, replacing earlier ones. They are encrypted in the
database and never printed; only the names of their keys are echoed.`,
		Example: `  sfp integration credentials set github-acme --from-file token.json
  echo '{"token":"ghp_..."}' | sfp integration credentials set github-acme`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			if opts.File == "" {
				if opts.IO.IsStdinTTY() {
					return cmdutil.FlagErrorf("pipe the credentials (a JSON object) into stdin, or pass --from-file FILE")
				}
				opts.File = "-"
			}
			return opts.parse(f, args)
		}, runF, credentialsSetRun),
	}
	cmd.Flags().StringVar(&opts.File, "from-file", "", "File holding the credentials (JSON object); - or none for stdin")
	opts.register(cmd)
	return cmd
}

func credentialsSetRun(ctx context.Context, opts *CredentialsSetOptions) error {
	raw, err := cmdutil.ReadJSONInput(opts.IO, opts.File, "the credentials")
	if err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return cmdutil.FlagErrorf("the credentials must be a JSON object")
	}
	return opts.with(ctx, func(c *client.Client, i *client.Integration) error {
		if err := c.Integrations.SetCredentials(ctx, i.ID, raw); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Stored the credentials of %s (keys: %s), encrypted.\n", i.Name, strings.Join(keys(obj), ", "))
		return nil
	})
}

// CredentialsGetOptions are the inputs of `sfp integration credentials get`.
type CredentialsGetOptions struct {
	credentialsTarget

	Reveal bool
	Field  string
	Output string
	JSON   bool
}

// keysJSON is the --json shape of `sfp integration credentials get`
// without --reveal, --field or --output: the names of the keys only.
type keysJSON struct {
	Integration string   `json:"integration"`
	Keys        []string `json:"keys"`
}

// NewCmdCredentialsGet builds `sfp integration credentials get`.
func NewCmdCredentialsGet(f *cmdutil.Factory, runF func(context.Context, *CredentialsGetOptions) error) *cobra.Command {
	opts := &CredentialsGetOptions{}
	opts.init(f)
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
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			given := 0
			for _, b := range []bool{opts.Reveal, opts.Output != "", opts.Field != ""} {
				if b {
					given++
				}
			}
			if given > 1 {
				return cmdutil.FlagErrorf("--reveal, --field and --output exclude each other")
			}
			return opts.parse(f, args)
		}, runF, credentialsGetRun),
	}
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "Print the credentials (JSON) on stdout")
	cmd.Flags().StringVar(&opts.Field, "field", "", "Print the value of this key only")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Write the credentials to this new file (mode 0600)")
	opts.register(cmd)
	cmdutil.JSONFlag(cmd, &opts.JSON, "Print the key names as JSON", keysJSON{})
	return cmd
}

func credentialsGetRun(ctx context.Context, opts *CredentialsGetOptions) error {
	return opts.with(ctx, func(c *client.Client, i *client.Integration) error {
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
	})
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

// CredentialsDeleteOptions are the inputs of `sfp integration credentials delete`.
type CredentialsDeleteOptions struct {
	credentialsTarget
}

// NewCmdCredentialsDelete builds `sfp integration credentials delete`.
func NewCmdCredentialsDelete(f *cmdutil.Factory, runF func(context.Context, *CredentialsDeleteOptions) error) *cobra.Command {
	opts := &CredentialsDeleteOptions{}
	opts.init(f)
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an integration's credentials (owners, workers)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			return opts.parse(f, args)
		}, runF, credentialsDeleteRun),
	}
	opts.register(cmd)
	return cmd
}

func credentialsDeleteRun(ctx context.Context, opts *CredentialsDeleteOptions) error {
	return opts.with(ctx, func(c *client.Client, i *client.Integration) error {
		removed, err := c.Integrations.DeleteCredentials(ctx, i.ID)
		if err != nil {
			return err
		}
		if removed {
			fmt.Fprintf(opts.IO.ErrOut, "Deleted the credentials of %s.\n", i.Name)
		} else {
			fmt.Fprintf(opts.IO.ErrOut, "%s had no credentials.\n", i.Name)
		}
		return nil
	})
}
