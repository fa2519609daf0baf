package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// codeAttemptsOnTerminal is how many codes a person may type before login
// gives up; a script (stdin not a terminal) gets one.
const codeAttemptsOnTerminal = 3

// stepUpMFA raises a fresh session to aal2 when its user has a verified
// TOTP factor: it asks for the factor's current code (on a terminal, or the
// next line of stdin when it is not one, so scripts and tests can give it)
// and verifies it, which replaces the client's session with the aal2 one.
// A user without a verified factor is left at aal1 and nothing is asked.
// Every login path calls it once the first factor (password, browser
// login) has given a session.
func stepUpMFA(ctx context.Context, c *client.Client, ios *cmdutil.IOStreams) error {
	factors, err := c.Auth.Factors(ctx)
	if err != nil {
		return fmt.Errorf("list the user's factors: %w", err)
	}
	var factor *client.Factor
	for i := range factors {
		if factors[i].Verified() && factors[i].FactorType == "totp" {
			factor = &factors[i]
			break
		}
	}
	if factor == nil {
		return nil
	}
	attempts := 1
	if ios.IsStdinTTY() {
		attempts = codeAttemptsOnTerminal
	}
	name := factor.FriendlyName
	if name == "" {
		name = cmdutil.ShortID(factor.ID)
	}
	for i := 1; ; i++ {
		fmt.Fprintf(ios.ErrOut, "Two-factor code from your authenticator app (%s): ", name)
		code, err := cmdutil.ReadLine(ios.In)
		fmt.Fprintln(ios.ErrOut)
		if err != nil {
			return fmt.Errorf("read the two-factor code: %w", err)
		}
		if code == "" {
			return cmdutil.FlagErrorf("this user has two-factor authentication: give the current code of factor %s "+
				"(on a terminal, or on the line after the password with --password-stdin)", name)
		}
		_, err = c.Auth.ChallengeAndVerify(ctx, factor.ID, code)
		if err == nil {
			fmt.Fprintln(ios.ErrOut, "Second factor verified: the session is aal2.")
			return nil
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == "mfa_verification_failed" && i < attempts {
			fmt.Fprintln(ios.ErrOut, "That code is wrong or was already used; wait for the next one.")
			continue
		}
		return err // "verify factor: Invalid TOTP code entered"
	}
}
