package mfa

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// EnrollOptions are the inputs of `sfp mfa enroll`.
type EnrollOptions struct {
	cmdutil.Deps
	Name     string
	Issuer   string
	NoVerify bool
	JSON     bool
}

// enrollJSON is the --json shape of a new factor: the secret is there
// because the user asked for it, to put it in an authenticator app.
type enrollJSON struct {
	ID     string `json:"id"`
	Name   string `json:"friendly_name"`
	URI    string `json:"uri"`
	Secret string `json:"secret"`
	Status string `json:"status"`
}

// NewCmdEnroll builds `sfp mfa enroll`.
func NewCmdEnroll(f *cmdutil.Factory, runF func(context.Context, *EnrollOptions) error) *cobra.Command {
	opts := &EnrollOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "enroll [--name NAME] [--issuer ISSUER] [--no-verify]",
		Short: "Add an authenticator app as a second factor",
		Long: `Create a TOTP factor and print its otpauth:// URI and a QR code to scan with an
authenticator app, then ask for the code the app shows and verify it: the
factor is then active and this session is aal2. The URI holds the factor's
secret: keep it to yourself.

With --no-verify the factor is only created, unverified; finish with
'sfp mfa verify FACTOR_ID' (an unverified factor never challenged is dropped by
a later enrolment once it is five minutes old).
With --json the factor is printed as JSON (with its uri and secret, no QR
code) before the code is read from stdin.`,
		Example: `  sfp mfa enroll --name laptop
  sfp mfa enroll --no-verify --json | jq -r .uri`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, enrollRun),
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "Name of the factor, unique among yours (e.g. the device)")
	cmd.Flags().StringVar(&opts.Issuer, "issuer", "", "Service name the app shows (default: the tenant's site host)")
	cmd.Flags().BoolVar(&opts.NoVerify, "no-verify", false, "Create the factor without asking for a code")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", enrollJSON{})
	return cmd
}

func enrollRun(ctx context.Context, opts *EnrollOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		e, err := c.Auth.EnrollTOTP(ctx, opts.Name, opts.Issuer)
		if err != nil {
			return err
		}
		// One write, so that a reader of stdout has all of it at once.
		if opts.JSON {
			if err := cmdutil.WriteJSON(opts.IO.Out, enrollJSON{ID: e.ID, Name: e.FriendlyName, URI: e.URI, Secret: e.Secret, Status: "unverified"}); err != nil {
				return err
			}
		} else {
			qr, err := drawQR(e.URI)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s\n\n%s\nFactor %s (secret %s)\n", e.URI, qr, e.ID, e.Secret)
			if _, err := fmt.Fprint(opts.IO.Out, b.String()); err != nil {
				return err
			}
		}
		if opts.NoVerify {
			fmt.Fprintf(opts.IO.ErrOut, "Created factor %s, not yet verified: run `sfp mfa verify %s` with a code from the app.\n", e.ID, e.ID)
			return nil
		}
		fmt.Fprintln(opts.IO.ErrOut, "Scan the QR code (or enter the URI) in your authenticator app.")
		return verifyFactor(ctx, opts.IO, c, e.ID, "the new factor")
	})
}
