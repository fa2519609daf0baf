package mfa

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// VerifyOptions are the inputs of `sfp mfa verify`.
type VerifyOptions struct {
	cmdutil.Deps
	FactorID string
}

// NewCmdVerify builds `sfp mfa verify`.
func NewCmdVerify(f *cmdutil.Factory, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{Deps: f.UserDeps()}
	return &cobra.Command{
		Use:   "verify FACTOR_ID",
		Short: "Verify a factor with a code: finish enrolment, or raise the session to aal2",
		Long: `Read a code from the authenticator app (on a terminal, or from stdin) and verify
it against the factor. An unverified factor becomes active; the session
becomes aal2 and is saved, as after a login with the code.`,
		Args: cmdutil.ExactArgs(1, "which factor? pass its id (sfp mfa list)"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.IDArg("factor", &opts.FactorID), runF, verifyRun),
	}
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		return verifyFactor(ctx, opts.IO, c, opts.FactorID, "factor "+cmdutil.ShortID(opts.FactorID))
	})
}

// verifyFactor asks for a code and verifies it; the client saves the aal2
// session.
func verifyFactor(ctx context.Context, ios *cmdutil.IOStreams, c *client.Client, factorID, what string) error {
	code, err := promptCode(ios, what)
	if err != nil {
		return err
	}
	if _, err := c.Auth.ChallengeAndVerify(ctx, factorID, code); err != nil {
		return err // "verify factor: Invalid TOTP code entered"
	}
	fmt.Fprintf(ios.ErrOut, "Factor %s verified: this session is aal2.\n", factorID)
	return nil
}
