// Package mfa holds `sfp mfa`: the signed-in user's second factors (TOTP).
package mfa

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/internal/qrdraw"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdMFA builds `sfp mfa`.
func NewCmdMFA(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mfa <command>",
		Short: "Manage your second factors (TOTP authenticator apps)",
		Long: `A second factor is an authenticator app (TOTP: Google Authenticator, 1Password,
Authy...) that shows a new 6-digit code every 30 seconds. Once you have a
verified factor, 'sfp login' asks for its code after the password, and your
session is at assurance level aal2. The tenant then requires aal2 from you to
read or write integration credentials; workers (service_role) are not affected.

Each code works once. A verified factor can only be removed from an aal2
session.`,
	}
	cmd.AddCommand(NewCmdEnroll(f, nil), NewCmdVerify(f, nil), NewCmdList(f, nil), NewCmdRemove(f, nil))
	return cmd
}

// factorJSON is the --json shape of a factor.
type factorJSON struct {
	ID        string `json:"id"`
	Name      string `json:"friendly_name"`
	Type      string `json:"factor_type"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func toJSON(f client.Factor) factorJSON {
	return factorJSON{ID: f.ID, Name: f.FriendlyName, Type: f.FactorType, Status: f.Status, CreatedAt: cmdutil.FormatTime(f.CreatedAt)}
}

// ListOptions are the inputs of `sfp mfa list`.
type ListOptions struct {
	cmdutil.Deps
	JSON bool
}

// NewCmdList builds `sfp mfa list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your second factors",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, nil, runF, listRun),
	}
	cmdutil.JSONFlag(cmd, &opts.JSON, "", []factorJSON{})
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		factors, err := c.Auth.Factors(ctx)
		if err != nil {
			return err
		}
		out := make([]factorJSON, 0, len(factors))
		for _, f := range factors {
			out = append(out, toJSON(f))
		}
		return cmdutil.PrintItems(opts.IO, opts.JSON, out, "No second factor: add one with `sfp mfa enroll`.",
			[]string{"ID", "NAME", "TYPE", "STATUS", "CREATED"}, func(f factorJSON) []string {
				return []string{f.ID, f.Name, f.Type, f.Status, f.CreatedAt}
			})
	})
}

// RemoveOptions are the inputs of `sfp mfa remove`.
type RemoveOptions struct {
	cmdutil.Deps
	FactorID string
}

// NewCmdRemove builds `sfp mfa remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "remove FACTOR_ID",
		Short: "Remove a second factor",
		Long: `Remove a factor (its id from 'sfp mfa list'). Removing a verified factor needs
an aal2 session: log in with its code first (or 'sfp mfa verify FACTOR_ID').
Sessions raised to aal2 with it fall back to aal1.`,
		Args: cmdutil.ExactArgs(1, "which factor? pass its id (sfp mfa list)"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.IDArg("factor", &opts.FactorID), runF, removeRun),
	}
	return cmd
}

func removeRun(ctx context.Context, opts *RemoveOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		if err := c.Auth.Unenroll(ctx, opts.FactorID); err != nil {
			var ce *client.Error
			if errors.As(err, &ce) && ce.Code == "insufficient_aal" {
				return fmt.Errorf("%w (verify the factor first: `sfp mfa verify %s`, then remove it)", err, opts.FactorID)
			}
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Removed factor %s.\n", opts.FactorID)
		return nil
	})
}

// promptCode asks for a code on stderr and reads one line from stdin.
func promptCode(ios *cmdutil.IOStreams, what string) (string, error) {
	fmt.Fprintf(ios.ErrOut, "Code from your authenticator app for %s: ", what)
	code, err := cmdutil.ReadLine(ios.In)
	fmt.Fprintln(ios.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read the code: %w", err)
	}
	if code = strings.TrimSpace(code); code == "" {
		return "", cmdutil.FlagErrorf("no code given: type the 6-digit code your authenticator app shows (or pipe it to stdin)")
	}
	return code, nil
}

// drawQR returns the otpauth URI's QR code drawn for a terminal.
func drawQR(uri string) (string, error) {
	return qrdraw.Terminal(uri)
}
