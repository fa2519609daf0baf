package server

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// KeysChangeOptions are the inputs of the commands that change a tenant's
// keys (`sfp server keys rotate|revoke|rotate-signing …`).
type KeysChangeOptions struct {
	tenantInputs

	Now func() time.Time
	// Force retires previous signing keys before their tokens expired.
	Force bool
	// Legacy is what `keys legacy on|off` switches legacy keys to.
	Legacy bool
}

// NewCmdKeysRotate builds `sfp server keys rotate`.
func NewCmdKeysRotate(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	cmd, _ := newCmdKeysChange(f, &cobra.Command{
		Use:   "rotate -t NAME",
		Short: "Replace the secret key with a new one",
		Long: `Make a new secret key (sb_secret_…) and stop accepting the old one — after a
leak, or when a worker that held it is retired. Also makes a secret key after
a revocation. Print the new key with ` + "`sfp server keys -t NAME --secret`" + `.

The publishable key, the legacy keys and users' sessions are unaffected. A
running embedded tenant takes the new key at once; a docker tenant when
` + "`sfp server start`" + ` recreates its containers.`,
	}, runF, func(_ *KeysChangeOptions, t *tenant.Tenant, s *tenant.Secrets) (string, error) {
		s.RotateSecretKey()
		return fmt.Sprintf("Made a new secret key for tenant %q; the previous one no longer works. Print it with `sfp server keys -t %s --secret`.", t.Name(), t.Name()), nil
	})
	return cmd
}

// NewCmdKeysRevoke builds `sfp server keys revoke`.
func NewCmdKeysRevoke(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	cmd, _ := newCmdKeysChange(f, &cobra.Command{
		Use:   "revoke -t NAME",
		Short: "Revoke the secret key",
		Long: `Revoke the secret key (sb_secret_…): the gateway refuses it from now on (401
Unauthorized, as Kong answers an unknown key) and the tenant has no secret key
until ` + "`sfp server keys rotate`" + ` makes a new one. Workers using it stop working;
the publishable key and users' sessions are unaffected. The legacy
service_role key is not a secret key: switch legacy keys off
(auth.legacy_keys: false in tenant.yaml) to refuse it too.`,
	}, runF, func(o *KeysChangeOptions, t *tenant.Tenant, s *tenant.Secrets) (string, error) {
		if err := s.RevokeSecretKey(o.Now()); err != nil {
			return "", err
		}
		return fmt.Sprintf("Revoked the secret key of tenant %q.", t.Name()), nil
	})
	return cmd
}

// newCmdKeysChange completes cmd, which holds the help text, into a command
// that changes the tenant's keys: change edits its .env (changeKeys) and
// says what it did. It returns the options for the command's own flags.
func newCmdKeysChange(f *cmdutil.Factory, cmd *cobra.Command, runF func(context.Context, *KeysChangeOptions) error,
	change func(*KeysChangeOptions, *tenant.Tenant, *tenant.Secrets) (string, error)) (*cobra.Command, *KeysChangeOptions) {
	opts := &KeysChangeOptions{Now: f.Now}
	cmd.Args = cmdutil.NoArgs
	cmd.RunE = cmdutil.RunE(opts, nil, runF, func(ctx context.Context, o *KeysChangeOptions) error {
		return changeKeys(ctx, f, o, func(t *tenant.Tenant, s *tenant.Secrets) (string, error) { return change(o, t, s) })
	})
	opts.register(f, cmd)
	return cmd, opts
}

// changeKeys loads the tenant, applies change to its .env under the
// secrets lock, prints what was done, and brings the change to the running
// tenant.
func changeKeys(ctx context.Context, f *cmdutil.Factory, opts *KeysChangeOptions, change func(*tenant.Tenant, *tenant.Secrets) (string, error)) error {
	t, err := loadTenant(f, &opts.Flags)
	if err != nil {
		return err
	}
	var done string
	if err := t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
		var err error
		done, err = change(t, s)
		return err == nil, err
	}); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, done)
	return applyKeys(ctx, f, opts.IO, t)
}

// applyKeys brings changed keys to the tenant: a running embedded tenant
// reloads them now; a docker or stopped tenant takes them at its next
// start, and the message says so.
func applyKeys(ctx context.Context, f *cmdutil.Factory, io *cmdutil.IOStreams, t *tenant.Tenant) error {
	return applyChange(ctx, f, io, t, "keys", "the containers whose keys changed")
}

// applyChange brings a change to what the tenant reloads with its keys
// (what: "keys", "provider settings"): a running embedded tenant reloads
// now; a docker tenant when compose recreates recreated, a stopped one at
// its next start. The message says which.
func applyChange(ctx context.Context, f *cmdutil.Factory, io *cmdutil.IOStreams, t *tenant.Tenant, what, recreated string) error {
	rt, err := runtimeFor(f, t, embedded.Options{})
	if err != nil {
		return err
	}
	ka, ok := rt.(runtime.KeyApplier)
	if !ok {
		fmt.Fprintf(io.ErrOut, "Apply it with `sfp server start -t %s`: docker compose recreates %s.\n", t.Name(), recreated)
		return nil
	}
	applied, err := ka.ApplyKeys(ctx, t)
	if err != nil {
		return err
	}
	if applied {
		fmt.Fprintf(io.ErrOut, "The running tenant uses the new %s.\n", what)
	} else {
		fmt.Fprintf(io.ErrOut, "The tenant is not running; it uses the new %s from its next start.\n", what)
	}
	return nil
}

// NewCmdKeysLegacy builds `sfp server keys legacy`.
func NewCmdKeysLegacy(f *cmdutil.Factory, runF func(context.Context, *KeysChangeOptions) error) *cobra.Command {
	opts := &KeysChangeOptions{Now: f.Now}
	cmd := &cobra.Command{
		Use:   "legacy <on|off> -t NAME",
		Short: "Accept or refuse the legacy anon and service_role keys",
		Long: `Switch the legacy key model on or off (auth.legacy_keys in tenant.yaml).

Off, the gateway refuses the legacy anon and service_role keys (401
Unauthorized) and auth, REST and realtime refuse every HS256 token — those keys,
and access tokens issued before the tenant had a signing key — so only the
publishable and secret keys and ES256 tokens work. Move every client to the
publishable or secret key first; Supabase deprecates the legacy keys by the end
of 2026. On again, the same legacy keys work again.`,
		Args:      cmdutil.ExactArgs(1, "say on or off: `sfp server keys legacy off -t NAME`"),
		ValidArgs: []string{"on", "off"},
		RunE:      cmdutil.RunArgsE(opts, opts.parseLegacy, runF, onTenant(f, legacyRun)),
	}
	opts.register(f, cmd)
	return cmd
}

// parseLegacy reads the on|off argument of `keys legacy`.
func (opts *KeysChangeOptions) parseLegacy(_ *cobra.Command, args []string) error {
	switch args[0] {
	case "on":
		opts.Legacy = true
	case "off":
		opts.Legacy = false
	default:
		return cmdutil.FlagErrorf("legacy %q: say on or off", args[0])
	}
	return nil
}

// legacyRun switches the legacy keys in tenant.yaml and brings the change
// to the tenant.
func legacyRun(ctx context.Context, f *cmdutil.Factory, opts *KeysChangeOptions, t *tenant.Tenant) error {
	on := opts.Legacy
	t.Config.Auth.LegacyKeys = &on
	if err := t.SaveConfig(); err != nil {
		return err
	}
	// JWT_KEYS and JWT_JWKS list the legacy secret only while it
	// is accepted (the docker runtime's GoTrue and PostgREST).
	if err := t.UpdateSecrets(func(*tenant.Secrets) (bool, error) { return true, nil }); err != nil {
		return err
	}
	if on {
		fmt.Fprintf(opts.IO.ErrOut, "Tenant %q accepts the legacy anon and service_role keys and HS256 tokens again.\n", t.Name())
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "Tenant %q refuses the legacy anon and service_role keys and HS256 tokens.\n", t.Name())
	}
	return applyKeys(ctx, f, opts.IO, t)
}
