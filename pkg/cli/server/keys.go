package server

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// KeysOptions are the inputs of `sfp server keys`.
type KeysOptions struct {
	tenantJSONInputs

	Secret      bool
	ServiceRole bool
}

// Keys is what `sfp server keys --json` prints.
type Keys struct {
	URL string `json:"url"`
	// PublishableKey (sb_publishable_…) replaces the anon key: safe in a
	// browser, row-level security decides what it may see.
	PublishableKey string `json:"publishable_key,omitempty"`
	// SecretKey (sb_secret_…) replaces the service_role key; only with
	// --secret, absent once revoked.
	SecretKey string `json:"secret_key,omitempty"`
	// SecretKeyRevokedAt is set while the secret key is revoked.
	SecretKeyRevokedAt *time.Time `json:"secret_key_revoked_at,omitempty"`
	// LegacyKeys tells whether the legacy JWT keys below are accepted
	// (auth.legacy_keys).
	LegacyKeys bool `json:"legacy_keys"`
	// AnonKey is the legacy anon key (a JWT), while legacy keys are on.
	AnonKey string `json:"anon_key,omitempty"`
	// ServiceRoleKey is the legacy service_role key, only with
	// --service-role and while legacy keys are on.
	ServiceRoleKey string `json:"service_role_key,omitempty"`
	// JWKSURL is where the public signing keys are published.
	JWKSURL string `json:"jwks_url"`
	// SigningKeys are the keys access tokens are signed and verified with.
	SigningKeys []SigningKeyInfo `json:"signing_keys"`
}

// SigningKeyInfo describes one signing key (never its private part).
type SigningKeyInfo struct {
	KID       string    `json:"kid"`
	Algorithm string    `json:"algorithm"`
	Status    string    `json:"status"` // standby, current or previous
	Since     time.Time `json:"since"`
	// RetireAfter is, for a previous key, when its tokens have all expired
	// and `sfp server keys rotate-signing retire` may remove it.
	RetireAfter *time.Time `json:"retire_after,omitempty"`
}

// NewCmdKeys builds `sfp server keys` and its subcommands.
func NewCmdKeys(f *cmdutil.Factory, runF func(context.Context, *KeysOptions) error) *cobra.Command {
	opts := &KeysOptions{}
	cmd := &cobra.Command{
		Use:   "keys -t NAME [--secret] [--service-role]",
		Short: "Print a tenant's URL and API keys; rotate and revoke them",
		Long: `Print the tenant's API URL and publishable key — what a browser, supabase-js or
the sfp CLI needs — with its legacy anon key while legacy keys are on
(auth.legacy_keys in tenant.yaml), the JWKS URL and the signing keys.

The secret key (sb_secret_…) and the legacy service_role key bypass row-level
security: they are printed only with --secret and --service-role. Keep them on
servers and workers.

Subcommands rotate and revoke the secret key and rotate the signing key; a
running embedded tenant takes the change at once, a docker tenant when
` + "`sfp server start`" + ` recreates its containers. See docs/keys.md.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, onTenant(f, func(_ context.Context, _ *cmdutil.Factory, o *KeysOptions, t *tenant.Tenant) error {
			return keysRun(o, t)
		})),
	}
	cmd.Flags().BoolVar(&opts.Secret, "secret", false, "Also print the secret key (sb_secret_…)")
	cmd.Flags().BoolVar(&opts.ServiceRole, "service-role", false, "Also print the legacy service_role key")
	opts.registerJSON(f, cmd, "", Keys{})
	cmd.AddCommand(NewCmdKeysRotate(f, nil), NewCmdKeysRevoke(f, nil), NewCmdKeysRotateSigning(f), NewCmdKeysLegacy(f, nil))
	return cmd
}

// keysOf collects what `sfp server keys` shows of t.
func keysOf(t *tenant.Tenant, secret, serviceRole bool) Keys {
	s := t.Secrets
	k := Keys{
		URL:            t.URL(),
		PublishableKey: s.PublishableKey,
		LegacyKeys:     t.Config.Auth.LegacyKeysEnabled(),
		JWKSURL:        t.URL() + "/auth/v1/.well-known/jwks.json",
		SigningKeys:    []SigningKeyInfo{},
	}
	if secret {
		k.SecretKey = s.SecretKey
	}
	if !s.SecretKeyRevokedAt.IsZero() {
		at := s.SecretKeyRevokedAt.UTC()
		k.SecretKeyRevokedAt = &at
	}
	if k.LegacyKeys {
		k.AnonKey = s.AnonKey
		if serviceRole {
			k.ServiceRoleKey = s.ServiceRoleKey
		}
	}
	for _, status := range []tenant.SigningKeyStatus{tenant.SigningCurrent, tenant.SigningStandby, tenant.SigningPrevious} {
		for _, sk := range s.SigningKeys {
			if sk.Status != status {
				continue
			}
			info := SigningKeyInfo{KID: sk.ID, Algorithm: "ES256", Status: string(sk.Status), Since: sk.Since.UTC()}
			if sk.Status == tenant.SigningPrevious {
				ra := sk.RetireAfter.UTC()
				info.RetireAfter = &ra
			}
			k.SigningKeys = append(k.SigningKeys, info)
		}
	}
	return k
}

func keysRun(opts *KeysOptions, t *tenant.Tenant) error {
	k := keysOf(t, opts.Secret, opts.ServiceRole)
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, k)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "URL:\t%s\n", k.URL)
	if k.PublishableKey != "" {
		fmt.Fprintf(w, "publishable key:\t%s\n", k.PublishableKey)
	} else {
		fmt.Fprintf(w, "publishable key:\t(none yet: the next start adds it)\n")
	}
	if opts.Secret {
		switch {
		case k.SecretKey != "":
			fmt.Fprintf(w, "secret key:\t%s\n", k.SecretKey)
		case k.SecretKeyRevokedAt != nil:
			fmt.Fprintf(w, "secret key:\t(revoked %s; `sfp server keys rotate` makes a new one)\n", k.SecretKeyRevokedAt.Format(time.RFC3339))
		default:
			fmt.Fprintf(w, "secret key:\t(none yet: the next start adds it)\n")
		}
	}
	if k.LegacyKeys {
		fmt.Fprintf(w, "anon key (legacy):\t%s\n", k.AnonKey)
		if opts.ServiceRole {
			fmt.Fprintf(w, "service_role key (legacy):\t%s\n", k.ServiceRoleKey)
		}
	} else if opts.ServiceRole {
		fmt.Fprintf(opts.IO.ErrOut, "Legacy keys are off for this tenant (auth.legacy_keys: false): there is no service_role key to print; use --secret.\n")
	}
	fmt.Fprintf(w, "JWKS:\t%s\n", k.JWKSURL)
	writeSigningKeys(w, k.SigningKeys)
	if err := w.Flush(); err != nil {
		return err
	}
	if opts.Secret || (opts.ServiceRole && k.LegacyKeys) {
		fmt.Fprintln(opts.IO.ErrOut, "The secret and service_role keys bypass row-level security: keep them on servers and workers.")
	}
	return nil
}

func writeSigningKeys(w io.Writer, keys []SigningKeyInfo) {
	for _, sk := range keys {
		line := fmt.Sprintf("%s %s, %s since %s", sk.KID, sk.Algorithm, sk.Status, sk.Since.Format(time.RFC3339))
		if sk.RetireAfter != nil {
			line += ", may be retired after " + sk.RetireAfter.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "signing key:\t%s\n", line)
	}
}
