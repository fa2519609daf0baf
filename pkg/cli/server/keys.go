package server

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// KeysOptions are the inputs of `sfp server keys`.
type KeysOptions struct {
	IO          *cmdutil.IOStreams
	Flags       tenantFlags
	ServiceRole bool
	JSON        bool
}

// NewCmdKeys builds `sfp server keys`.
func NewCmdKeys(f *cmdutil.Factory, runF func(context.Context, *KeysOptions) error) *cobra.Command {
	opts := &KeysOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "keys -t NAME [--service-role]",
		Short: "Print a tenant's URL and API keys",
		Long: `Print the tenant's API URL and anon key, what a browser or the sfp CLI needs.
The service_role key bypasses row-level security; it is printed only with
--service-role.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			t, err := loadTenant(f, &opts.Flags)
			if err != nil {
				return err
			}
			out := struct {
				URL        string `json:"url"`
				AnonKey    string `json:"anon_key"`
				ServiceKey string `json:"service_role_key,omitempty"`
			}{URL: t.URL(), AnonKey: t.Secrets.AnonKey}
			if opts.ServiceRole {
				out.ServiceKey = t.Secrets.ServiceRoleKey
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, out)
			}
			fmt.Fprintf(opts.IO.Out, "URL:              %s\nanon key:         %s\n", out.URL, out.AnonKey)
			if opts.ServiceRole {
				fmt.Fprintf(opts.IO.Out, "service_role key: %s\n", out.ServiceKey)
				fmt.Fprintln(opts.IO.ErrOut, "The service_role key bypasses row-level security: keep it on servers and workers.")
			}
			return nil
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().BoolVar(&opts.ServiceRole, "service-role", false, "Also print the service_role key")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}
