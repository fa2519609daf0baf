package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ProviderOptions are the inputs of `sfp server auth provider set|list|disable`.
type ProviderOptions struct {
	tenantJSONInputs

	// Name is the provider (github, azure, gitlab, google, keycloak).
	Name        string
	ClientID    string
	URL         string
	RedirectURI string
	// SecretFile is where the client secret is read from; "-" is stdin.
	// The secret is never a command-line argument.
	SecretFile string
}

// ProviderInfo is one provider as `list --json` shows it; the secret only
// as whether it is set.
type ProviderInfo struct {
	Name        string `json:"name"`
	Enabled     bool   `json:"enabled"`
	ClientID    string `json:"client_id"`
	URL         string `json:"url"`
	RedirectURI string `json:"redirect_uri"`
	SecretSet   bool   `json:"secret_set"`
}

// NewCmdAuth builds `sfp server auth`.
func NewCmdAuth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth <command>",
		Short: "Configure a tenant's sign-in: OAuth providers",
	}
	provider := &cobra.Command{
		Use:   "provider <command>",
		Short: "Enable, list and disable OAuth providers (GitHub, Azure, GitLab, Google, Keycloak)",
		Long: `Configure the tenant's OAuth providers: auth.external in tenant.yaml, with the
client secret in .env as GOTRUE_EXTERNAL_<PROVIDER>_SECRET (mode 0600), the
names and meaning GoTrue gives them — so the embedded auth and the docker
runtime's GoTrue read the same settings. A running embedded tenant takes the
change at once; a docker tenant when ` + "`sfp server start`" + ` recreates its containers.
See docs/auth.md.`,
	}
	provider.AddCommand(NewCmdProviderSet(f, nil), NewCmdProviderList(f, nil), NewCmdProviderDisable(f, nil))
	cmd.AddCommand(provider)
	return cmd
}

func providerArg(opts *ProviderOptions) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cmdutil.ExactArgs(1, "which provider? "+strings.Join(tenant.ExternalProviders, ", "))(cmd, args); err != nil {
			return err
		}
		opts.Name = strings.ToLower(args[0])
		if !slices.Contains(tenant.ExternalProviders, opts.Name) {
			return cmdutil.FlagErrorf("provider %q is not supported: %s", args[0], strings.Join(tenant.ExternalProviders, ", "))
		}
		return nil
	}
}

// NewCmdProviderSet builds `sfp server auth provider set`.
func NewCmdProviderSet(f *cmdutil.Factory, runF func(context.Context, *ProviderOptions) error) *cobra.Command {
	opts := &ProviderOptions{}
	cmd := &cobra.Command{
		Use:   "set NAME -t TENANT --client-id ID [--secret-file FILE|-] [--url URL] [--redirect-uri URL]",
		Short: "Enable an OAuth provider, or change its settings",
		Long: `Enable the provider with the OAuth app's client id and secret. The secret is
read from --secret-file (- for stdin, first line) and kept in .env; without
it, the secret already there is kept. --url is the GitHub Enterprise or GitLab
host, the Keycloak realm URL (required) or the Azure tenant URL. Register the
redirect URI the command prints with the provider.`,
		Example: `  sfp server auth provider set github -t acme --client-id Iv1.0123456789abcdef --secret-file github.secret
  vault read -field=secret kv/sfp/keycloak | sfp server auth provider set keycloak -t acme \
      --client-id sfp --url https://sso.acme.test/realms/acme --secret-file -`,
		Args: providerArg(opts),
		RunE: cmdutil.RunE(opts, func() error {
			if opts.ClientID == "" {
				return cmdutil.FlagErrorf("pass --client-id (the OAuth app's client id)")
			}
			return nil
		}, runF, onTenant(f, providerSetRun)),
	}
	opts.register(f, cmd)
	cmd.Flags().StringVar(&opts.ClientID, "client-id", "", "The OAuth app's client id")
	cmd.Flags().StringVar(&opts.SecretFile, "secret-file", "", "File holding the client secret (- for stdin)")
	cmd.Flags().StringVar(&opts.URL, "url", "", "Provider URL: GitHub Enterprise/GitLab host, Keycloak realm, Azure tenant")
	cmd.Flags().StringVar(&opts.RedirectURI, "redirect-uri", "", "Callback registered with the provider (default <tenant URL>/auth/v1/callback)")
	return cmd
}

// readSecret reads the client secret from a file or stdin: its first line.
func readSecret(opts *ProviderOptions) (string, error) {
	var r io.Reader = opts.IO.In
	if opts.SecretFile != "-" {
		f, err := os.Open(opts.SecretFile)
		if err != nil {
			return "", fmt.Errorf("read the client secret: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the client secret: %w", err)
	}
	secret := strings.TrimSpace(line)
	if secret == "" {
		return "", cmdutil.FlagErrorf("--secret-file %s holds no secret", opts.SecretFile)
	}
	return secret, nil
}

func providerSetRun(ctx context.Context, f *cmdutil.Factory, opts *ProviderOptions, t *tenant.Tenant) error {
	secret := ""
	if opts.SecretFile != "" {
		var err error
		if secret, err = readSecret(opts); err != nil {
			return err
		}
	} else if t.Secrets.Extra[tenant.ProviderSecretVar(opts.Name)] == "" {
		return cmdutil.FlagErrorf("%s has no secret for %s yet: pass --secret-file FILE (or - to read it from stdin)", t.EnvFile(), opts.Name)
	}
	cfg := t.Config
	external := map[string]tenant.ExternalProvider{}
	for k, v := range cfg.Auth.External {
		external[k] = v
	}
	p := external[opts.Name]
	p.Enabled, p.ClientID = true, opts.ClientID
	if opts.URL != "" {
		p.URL = opts.URL
	}
	if opts.RedirectURI != "" {
		p.RedirectURI = opts.RedirectURI
	}
	external[opts.Name] = p
	cfg.Auth.External = external
	if err := cfg.Validate(); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	// The secret first: a tenant.yaml that enables a provider whose secret
	// is missing would not start.
	if secret != "" {
		if err := t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
			s.Extra[tenant.ProviderSecretVar(opts.Name)] = secret
			return true, nil
		}); err != nil {
			return err
		}
	}
	t.Config = cfg
	if err := t.SaveConfig(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Enabled %s on tenant %q. Register this redirect URI with the provider: %s\n",
		opts.Name, t.Name(), t.ProviderRedirectURI(opts.Name))
	return applyProviders(ctx, f, opts.IO, t)
}

// NewCmdProviderList builds `sfp server auth provider list`.
func NewCmdProviderList(f *cmdutil.Factory, runF func(context.Context, *ProviderOptions) error) *cobra.Command {
	opts := &ProviderOptions{}
	cmd := &cobra.Command{
		Use:   "list -t TENANT",
		Short: "List the tenant's OAuth providers",
		Long:  `List every supported provider with its settings; secrets show only as set or missing.`,
		Args:  cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, onTenant(f, func(_ context.Context, _ *cmdutil.Factory, o *ProviderOptions, t *tenant.Tenant) error {
			return providerListRun(o, t)
		})),
	}
	opts.registerJSON(f, cmd, "", ProviderInfo{})
	return cmd
}

func providerListRun(opts *ProviderOptions, t *tenant.Tenant) error {
	infos := make([]ProviderInfo, 0, len(tenant.ExternalProviders))
	for _, name := range tenant.ExternalProviders {
		p := t.Config.Auth.External[name]
		infos = append(infos, ProviderInfo{Name: name, Enabled: p.Enabled, ClientID: p.ClientID, URL: p.URL,
			RedirectURI: t.ProviderRedirectURI(name), SecretSet: t.Secrets.Extra[tenant.ProviderSecretVar(name)] != ""})
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, infos)
	}
	tw := cmdutil.NewTable(opts.IO.Out, "PROVIDER", "ENABLED", "CLIENT ID", "URL", "SECRET")
	for _, i := range infos {
		secret := "missing"
		if i.SecretSet {
			secret = "set"
		}
		tw.Row(i.Name, fmt.Sprint(i.Enabled), i.ClientID, i.URL, secret)
	}
	return tw.Flush()
}

// NewCmdProviderDisable builds `sfp server auth provider disable`.
func NewCmdProviderDisable(f *cmdutil.Factory, runF func(context.Context, *ProviderOptions) error) *cobra.Command {
	opts := &ProviderOptions{}
	cmd := &cobra.Command{
		Use:   "disable NAME -t TENANT",
		Short: "Disable an OAuth provider",
		Long: `Stop signing in with the provider (its settings and secret are kept; ` + "`set`" + `
enables it again). Users keep their identities of it; sign-ins in progress fail.`,
		Args: providerArg(opts),
		RunE: cmdutil.RunE(opts, nil, runF, onTenant(f, func(ctx context.Context, f *cmdutil.Factory, o *ProviderOptions, t *tenant.Tenant) error {
			p, ok := t.Config.Auth.External[o.Name]
			if !ok || !p.Enabled {
				fmt.Fprintf(o.IO.ErrOut, "%s is not enabled on tenant %q.\n", o.Name, t.Name())
				return nil
			}
			p.Enabled = false
			t.Config.Auth.External[o.Name] = p
			if err := t.SaveConfig(); err != nil {
				return err
			}
			fmt.Fprintf(o.IO.ErrOut, "Disabled %s on tenant %q.\n", o.Name, t.Name())
			return applyProviders(ctx, f, o.IO, t)
		})),
	}
	opts.register(f, cmd)
	return cmd
}

// applyProviders brings changed provider settings to the tenant: a running
// embedded tenant reloads them with its keys (they are part of the keys
// version); a docker or stopped tenant takes them at its next start.
func applyProviders(ctx context.Context, f *cmdutil.Factory, io *cmdutil.IOStreams, t *tenant.Tenant) error {
	return applyChange(ctx, f, io, t, "provider settings", "the auth container")
}
