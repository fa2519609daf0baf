// Package integration holds `sfp integration`: connections to external
// services and their encrypted credentials.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdIntegration builds `sfp integration`.
func NewCmdIntegration(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "integration <command>",
		Short: "Connect external services and store their credentials",
		Long: `An integration connects an account (or some of its projects) to an external
service: GitHub, Azure DevOps, Salesforce... Every member sees integrations;
only owners add, change and remove them.

Credentials are stored encrypted in the database under a key kept in Vault.
Only owners and workers with the service_role key may set or read them, and
every access is logged.`,
	}
	creds := &cobra.Command{
		Use:   "credentials <command>",
		Short: "Set, read and delete an integration's credentials",
	}
	creds.AddCommand(NewCmdCredentialsSet(f, nil), NewCmdCredentialsGet(f, nil), NewCmdCredentialsDelete(f, nil))
	cmd.AddCommand(NewCmdAdd(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdRemove(f, nil), creds)
	return cmd
}

// Options are the inputs of the integration commands.
type Options struct {
	IO       *cmdutil.IOStreams
	Account  string
	Name     string
	Provider string
	AuthType string
	Projects []string
	Metadata string
	Yes      bool
	File     string
	Reveal   bool
	Field    string
	Output   string
	Service  cmdutil.ServiceFlags
	List     cmdutil.ListFlags
	JSON     bool
}

type scope struct {
	c       *client.Client
	account *client.Account
}

// run resolves the client (the user's, or a worker's when service
// credentials are given) and the account.
func run(f *cmdutil.Factory, opts *Options, runF func(context.Context, *Options) error,
	fn func(ctx context.Context, s *scope) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			opts.Name = args[0]
		}
		if _, err := cmdutil.ParseJSONFlag("metadata", opts.Metadata); err != nil {
			return err
		}
		if cmd.Flags().Lookup("limit") != nil {
			if err := opts.List.Validate(); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		ctx := cmd.Context()
		var (
			c   *client.Client
			cfg = &cmdutil.Config{}
			err error
		)
		if cmd.Flags().Lookup("service-key") != nil && opts.Service.Given(f) {
			if opts.Account == "" && !client.IsUUID(opts.Name) {
				return cmdutil.FlagErrorf("with the service key, name the account with --account SLUG (or give the integration's id)")
			}
			c, err = f.ServiceClient(ctx, &opts.Service)
		} else {
			c, cfg, err = f.UserClient(ctx)
		}
		if err != nil {
			return err
		}
		defer c.Close()
		s := &scope{c: c}
		if opts.Name != "" && client.IsUUID(opts.Name) && opts.Account == "" {
			return fn(ctx, s)
		}
		if s.account, err = cmdutil.ResolveAccount(ctx, c, cfg, opts.Account); err != nil {
			return err
		}
		return fn(ctx, s)
	}
}

func (s *scope) get(ctx context.Context, name string) (*client.Integration, error) {
	if client.IsUUID(name) {
		return s.c.Integrations.Get(ctx, name)
	}
	return s.c.Integrations.GetByName(ctx, s.account.ID, name)
}

// NewCmdAdd builds `sfp integration add`.
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "add NAME --provider P --auth-type A [--project P]... [--metadata JSON]",
		Short: "Add an integration (owners)",
		Example: `  sfp integration add github-acme --provider github --auth-type token --metadata '{"org":"acme"}'
  sfp integration add prod-org --provider salesforce --auth-type jwt --project acme/web`,
		Args: cmdutil.ExactArgs(1, "give the integration's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Provider == "" || opts.AuthType == "" {
				return cmdutil.FlagErrorf("pass --provider (e.g. github) and --auth-type (e.g. token)")
			}
			return run(f, opts, runF, func(ctx context.Context, s *scope) error {
				in := client.NewIntegration{AccountID: s.account.ID, Name: opts.Name, Provider: opts.Provider, AuthType: opts.AuthType}
				if opts.Metadata != "" {
					in.Metadata = []byte(opts.Metadata)
				}
				for _, p := range opts.Projects {
					pr, err := cmdutil.ResolveProject(ctx, s.c, s.account.ID, p)
					if err != nil {
						return err
					}
					in.ProjectIDs = append(in.ProjectIDs, pr.ID)
				}
				i, err := s.c.Integrations.Create(ctx, in)
				if err != nil {
					return err
				}
				if opts.JSON {
					return cmdutil.WriteJSON(opts.IO.Out, i)
				}
				fmt.Fprintf(opts.IO.ErrOut, "Added integration %s (%s, %s). Set its credentials with `sfp integration credentials set %s`.\n",
					i.Name, i.Provider, i.Scope, i.Name)
				fmt.Fprintln(opts.IO.Out, i.ID)
				return nil
			})(cmd, args)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Service: github, azure_devops, salesforce, ...")
	cmd.Flags().StringVar(&opts.AuthType, "auth-type", "", "How it authenticates: token, oauth, github_app, jwt, ...")
	cmd.Flags().StringArrayVarP(&opts.Projects, "project", "p", nil, "Limit it to this project (repeatable; default: the whole account)")
	cmd.Flags().StringVar(&opts.Metadata, "metadata", "", "Non-secret settings (JSON object)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdList builds `sfp integration list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "list [--provider P]",
		Short: "List the account's integrations",
		Args:  cmdutil.NoArgs,
		RunE: run(f, opts, runF, func(ctx context.Context, s *scope) error {
			items, next, err := cmdutil.Collect(ctx, opts.List, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Integration], error) {
				return s.c.Integrations.List(ctx, client.IntegrationListOptions{ListOptions: o, AccountID: s.account.ID, Provider: opts.Provider})
			})
			if err != nil {
				return err
			}
			cmdutil.PrintNext(opts.IO, next)
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, items)
			}
			t := cmdutil.NewTable(opts.IO.Out, "NAME", "PROVIDER", "AUTH", "SCOPE", "STATUS", "CREDENTIALS", "ID")
			for _, i := range items {
				creds := "none"
				if i.CredentialsUpdatedAt != nil {
					creds = "set " + cmdutil.FormatTimePtr(i.CredentialsUpdatedAt)
				}
				t.Row(i.Name, i.Provider, i.AuthType, i.Scope, i.Status, creds, i.ID)
			}
			return t.Flush()
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Only this provider")
	opts.List.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdShow builds `sfp integration show`.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an integration (never its credentials)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, s *scope) error {
			i, err := s.get(ctx, opts.Name)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, i)
			}
			creds := "none"
			if i.CredentialsUpdatedAt != nil {
				creds = "set at " + cmdutil.FormatTimePtr(i.CredentialsUpdatedAt)
			}
			return cmdutil.PrintFields(opts.IO.Out, "Integration", i.Name, "ID", i.ID, "Provider", i.Provider, "Auth type", i.AuthType,
				"Scope", i.Scope, "Projects", strings.Join(i.ProjectIDs, ", "), "Status", i.Status,
				"Metadata", cmdutil.CompactJSON(i.Metadata), "Credentials", creds, "Created", cmdutil.FormatTime(i.CreatedAt))
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdRemove builds `sfp integration remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "remove NAME --yes",
		Short: "Remove an integration and its credentials (owners)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, s *scope) error {
			i, err := s.get(ctx, opts.Name)
			if err != nil {
				return err
			}
			if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("Remove integration %s and its credentials?", i.Name)); err != nil {
				return err
			}
			if err := s.c.Integrations.Delete(ctx, i.ID); err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.ErrOut, "Removed integration %s.\n", i.Name)
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

// NewCmdCredentialsSet builds `sfp integration credentials set`.
func NewCmdCredentialsSet(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "set NAME [--from-file FILE]",
		Short: "Store an integration's credentials, encrypted (owners, workers)",
		Long: `Store the credentials (a JSON object) read from --from-file, or from stdin
when no file is given, replacing earlier ones. They are encrypted in the
database and never printed.`,
		Example: `  sfp integration credentials set github-acme --from-file token.json
  echo '{"token":"ghp_..."}' | sfp integration credentials set github-acme`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.File == "" {
				if opts.IO.IsStdinTTY() {
					return cmdutil.FlagErrorf("pipe the credentials (a JSON object) into stdin, or pass --from-file FILE")
				}
				opts.File = "-"
			}
			return run(f, opts, runF, func(ctx context.Context, s *scope) error {
				raw, err := cmdutil.ReadJSONInput(opts.IO, opts.File, "the credentials")
				if err != nil {
					return err
				}
				var obj map[string]json.RawMessage
				if json.Unmarshal(raw, &obj) != nil || obj == nil {
					return cmdutil.FlagErrorf("the credentials must be a JSON object")
				}
				i, err := s.get(ctx, opts.Name)
				if err != nil {
					return err
				}
				if err := s.c.Integrations.SetCredentials(ctx, i.ID, raw); err != nil {
					return err
				}
				fmt.Fprintf(opts.IO.ErrOut, "Stored the credentials of %s (keys: %s), encrypted.\n", i.Name, strings.Join(keys(obj), ", "))
				return nil
			})(cmd, args)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().StringVar(&opts.File, "from-file", "", "File holding the credentials (JSON object); - or none for stdin")
	opts.Service.Register(cmd)
	return cmd
}

func keys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// NewCmdCredentialsGet builds `sfp integration credentials get`.
func NewCmdCredentialsGet(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "get NAME [--reveal | --field KEY | --output FILE]",
		Short: "Read an integration's credentials (owners, workers)",
		Long: `Read an integration's credentials. Only owners of the account and workers with
the service_role key may; every read is logged. The values are not printed
unless you ask: --reveal prints the JSON on stdout, --field KEY prints one
value (a string as is, anything else as JSON), --output FILE writes the JSON
to a new file readable only by you (0600). Without these, only the names of
the keys are shown.`,
		Example: `  sfp integration credentials get github-acme               # key names only
  TOKEN=$(sfp integration credentials get github-acme --field token)
  sfp integration credentials get github-acme -t acme --account acme --output creds.json   # as a worker`,
		Args: cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			set := 0
			for _, b := range []bool{opts.Reveal, opts.Output != "", opts.Field != ""} {
				if b {
					set++
				}
			}
			if set > 1 {
				return cmdutil.FlagErrorf("--reveal, --field and --output exclude each other")
			}
			return run(f, opts, runF, func(ctx context.Context, s *scope) error {
				i, err := s.get(ctx, opts.Name)
				if err != nil {
					return err
				}
				raw, err := s.c.Integrations.Credentials(ctx, i.ID)
				if err != nil {
					return err
				}
				if raw == nil {
					return &client.Error{Op: "get credentials", StatusCode: 404, Code: "PT404",
						Message: fmt.Sprintf("integration %s has no credentials", i.Name),
						Hint:    "set them with `sfp integration credentials set " + i.Name + "`"}
				}
				switch {
				case opts.Field != "":
					var obj map[string]json.RawMessage
					if err := json.Unmarshal(raw, &obj); err != nil {
						return fmt.Errorf("read credentials: %w", err)
					}
					v, ok := obj[opts.Field]
					if !ok {
						return &client.Error{Op: "get credentials", StatusCode: 404, Code: "PT404",
							Message: fmt.Sprintf("the credentials of %s have no key %q (keys: %s)", i.Name, opts.Field, strings.Join(keys(obj), ", "))}
					}
					var str string
					if json.Unmarshal(v, &str) == nil {
						fmt.Fprintln(opts.IO.Out, str)
						return nil
					}
					fmt.Fprintln(opts.IO.Out, string(v))
					return nil
				case opts.Reveal:
					var v any
					if err := json.Unmarshal(raw, &v); err != nil {
						return err
					}
					return cmdutil.WriteJSON(opts.IO.Out, v)
				case opts.Output != "":
					fh, err := os.OpenFile(opts.Output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
					fmt.Fprintf(opts.IO.ErrOut, "Wrote the credentials of %s to %s (mode 0600).\n", i.Name, opts.Output)
					return nil
				}
				var obj map[string]json.RawMessage
				_ = json.Unmarshal(raw, &obj)
				if opts.JSON {
					return cmdutil.WriteJSON(opts.IO.Out, struct {
						Integration string   `json:"integration"`
						Keys        []string `json:"keys"`
					}{i.Name, keys(obj)})
				}
				fmt.Fprintf(opts.IO.Out, "%s\n", strings.Join(keys(obj), "\n"))
				fmt.Fprintf(opts.IO.ErrOut, "Credentials of %s hold the keys above; values hidden (--reveal prints them, --output FILE saves them).\n", i.Name)
				return nil
			})(cmd, args)
		},
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "Print the credentials (JSON) on stdout")
	cmd.Flags().StringVar(&opts.Field, "field", "", "Print the value of this key only")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Write the credentials to this new file (mode 0600)")
	opts.Service.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the key names as JSON")
	return cmd
}

// NewCmdCredentialsDelete builds `sfp integration credentials delete`.
func NewCmdCredentialsDelete(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an integration's credentials (owners, workers)",
		Args:  cmdutil.ExactArgs(1, "give the integration's name or id"),
		RunE: run(f, opts, runF, func(ctx context.Context, s *scope) error {
			i, err := s.get(ctx, opts.Name)
			if err != nil {
				return err
			}
			removed, err := s.c.Integrations.DeleteCredentials(ctx, i.ID)
			if err != nil {
				return err
			}
			if removed {
				fmt.Fprintf(opts.IO.ErrOut, "Deleted the credentials of %s.\n", i.Name)
			} else {
				fmt.Fprintf(opts.IO.ErrOut, "%s had no credentials.\n", i.Name)
			}
			return nil
		}),
	}
	cmdutil.AccountFlag(cmd, &opts.Account)
	opts.Service.Register(cmd)
	return cmd
}
