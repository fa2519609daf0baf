package auth

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdSignup builds `sfp signup`.
func NewCmdSignup(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, Config: f.Config, NewClient: f.NewClient, Getenv: f.Getenv, SignUp: true}
	cmd := &cobra.Command{
		Use:   "signup --email EMAIL [--server URL --api-key KEY | -t TENANT] [--password-stdin]",
		Short: "Create a user on a tenant and log in",
		Long: `Sign up with email and password (GoTrue's /signup), then keep the session as
'sfp login' does. When the tenant confirms sign-ups automatically (auth.autoconfirm,
the default of new embedded tenants) you are logged in at once; otherwise the user
waits for confirmation, which on the embedded runtime (it sends no mail) an
administrator gives. The server and key are found as for 'sfp login'.

A taken address or a weak password exits 1 with the server's message. A new
user sees nothing until they create an account or an owner adds them to one.`,
		Example: `  sfp signup -t dev --email me@example.test
  echo "$PASSWORD" | sfp signup --server https://sfp.acme.test --api-key "$ANON_KEY" --email me@acme.test --password-stdin`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Email == "" {
				opts.Email = f.Getenv("SFP_EMAIL")
			}
			if opts.Email == "" {
				return cmdutil.FlagErrorf("which email? pass --email EMAIL")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	registerLoginFlags(cmd, opts)
	return cmd
}
