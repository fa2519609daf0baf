package server

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// NewCmdKeysRotateSigning builds `sfp server keys rotate-signing` and its
// three stages, after Supabase's signing-key procedure (create a standby
// key, rotate to it, revoke the previous key once its tokens expired).
func NewCmdKeysRotateSigning(f *cmdutil.Factory) *cobra.Command {
	opts := &KeysChangeOptions{Now: f.Now}
	cmd := &cobra.Command{
		Use:   "rotate-signing <standby|promote|retire> -t NAME",
		Short: "Rotate the key that signs access tokens, in three stages",
		Long: `Rotate the ES256 key the auth server signs access tokens with, without signing
anybody out. Three stages, each a subcommand, as Supabase's signing keys:

  standby   make a new key and publish it in the JWKS; it signs nothing yet, so
            verifiers that cache the JWKS (supabase-js: 10 minutes) learn it
            before the first token signed with it reaches them
  promote   sign new tokens with the standby key; the key that signed until now
            becomes the previous key, still trusted for the tokens it signed
  retire    remove the previous key once those tokens have expired
            (auth.jwt_expiry plus 15 minutes after the promotion); --force
            removes it earlier, refusing the tokens it signed

Without a stage it shows the signing keys and the next stage. A running
embedded tenant takes each stage at once; a docker tenant when
` + "`sfp server start`" + ` recreates its containers. docs/keys.md has the procedure.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := loadTenant(f, &opts.Flags)
			if err != nil {
				return err
			}
			return signingStatus(opts, t)
		},
	}
	opts.register(f, cmd)
	cmd.AddCommand(newCmdSigningStandby(f, nil), newCmdSigningPromote(f, nil), newCmdSigningRetire(f, nil))
	return cmd
}

func newCmdSigningStandby(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	cmd, _ := newCmdKeysChange(f, &cobra.Command{
		Use:   "standby -t NAME",
		Short: "Stage 1: make a standby signing key, published but not signing",
	}, runF, func(o *KeysChangeOptions, t *tenant.Tenant, s *tenant.Secrets) (string, error) {
		k, err := s.AddStandbySigningKey(o.Now())
		if err != nil {
			return "", stageError(err)
		}
		return fmt.Sprintf("Made standby signing key %s; it is published in the JWKS and signs nothing yet. "+
			"Promote it with `sfp server keys rotate-signing promote -t %s` once clients that cache the JWKS have seen it (10 minutes for supabase-js).",
			k.ID, t.Name()), nil
	})
	return cmd
}

func newCmdSigningPromote(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	cmd, _ := newCmdKeysChange(f, &cobra.Command{
		Use:   "promote -t NAME",
		Short: "Stage 2: sign new tokens with the standby key",
		Long: `Sign new access tokens with the standby key. The key that signed until now
becomes the previous key: tokens it signed stay valid until they expire, so no
session ends. The gateway's role tokens are signed again with the new key.`,
	}, runF, func(o *KeysChangeOptions, t *tenant.Tenant, s *tenant.Secrets) (string, error) {
		lifetime := time.Duration(t.Config.Auth.JWTExpiry) * time.Second
		cur, prev, err := s.PromoteSigningKey(o.Now(), lifetime)
		if err != nil {
			return "", stageError(err)
		}
		msg := fmt.Sprintf("Signing key %s now signs new access tokens.", cur.ID)
		if prev.ID != "" {
			msg += fmt.Sprintf(" Key %s still verifies the tokens it signed; retire it after %s with `sfp server keys rotate-signing retire -t %s`.",
				prev.ID, prev.RetireAfter.UTC().Format(time.RFC3339), t.Name())
		}
		return msg, nil
	})
	return cmd
}

func newCmdSigningRetire(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	cmd, opts := newCmdKeysChange(f, &cobra.Command{
		Use:   "retire -t NAME [--force]",
		Short: "Stage 3: remove the previous signing key once its tokens expired",
		Long: `Remove the previous signing key: it leaves the JWKS and tokens it signed are
refused. Refused while such tokens may still be valid (auth.jwt_expiry plus 15
minutes after the promotion), unless --force: then sessions whose access token
it signed must refresh (their refresh token still works).`,
	}, runF, func(o *KeysChangeOptions, t *tenant.Tenant, s *tenant.Secrets) (string, error) {
		retired, err := s.RetireSigningKeys(o.Now(), o.Force)
		if err != nil {
			return "", stageError(err)
		}
		ids := make([]string, len(retired))
		for i, k := range retired {
			ids[i] = k.ID
		}
		return fmt.Sprintf("Retired signing key %s; tokens it signed are refused from now on.", strings.Join(ids, ", ")), nil
	})
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Retire even though tokens the key signed may not have expired yet")
	return cmd
}

// stageError is a stage that cannot run now: a usage error, its message
// saying what to do instead.
func stageError(err error) error {
	return &cmdutil.FlagError{Err: err}
}

// signingStatus prints the signing keys and the next stage.
func signingStatus(opts *KeysChangeOptions, t *tenant.Tenant) error {
	k := keysOf(t, false, false)
	w := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
	writeSigningKeys(w, k.SigningKeys)
	if err := w.Flush(); err != nil {
		return err
	}
	s := t.Secrets
	next := fmt.Sprintf("make a standby key: `sfp server keys rotate-signing standby -t %s`", t.Name())
	if _, ok := s.SigningKeyByStatus(tenant.SigningStandby); ok {
		next = fmt.Sprintf("promote the standby key: `sfp server keys rotate-signing promote -t %s`", t.Name())
	} else if p, ok := s.SigningKeyByStatus(tenant.SigningPrevious); ok {
		next = fmt.Sprintf("retire the previous key after %s: `sfp server keys rotate-signing retire -t %s`", p.RetireAfter.UTC().Format(time.RFC3339), t.Name())
	}
	if len(s.SigningKeys) == 0 {
		next = "start the tenant once: it makes its first signing key"
	}
	fmt.Fprintf(opts.IO.ErrOut, "Next: %s.\n", next)
	return nil
}
