package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdSSO builds `sfp server sso`.
func NewCmdSSO(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sso <command>",
		Short: "Manage a tenant's SAML single sign-on identity providers",
		Long: `Add, list and remove the SAML 2.0 identity providers (Microsoft Entra ID, Okta,
Google Workspace, Keycloak, ...) whose users sign in to a tenant with
` + "`sfp login --sso DOMAIN`" + ` or supabase-js's signInWithSSO.

SAML must be on for the tenant (auth.saml.enabled: true in tenant.yaml) and the
tenant running: the commands use its auth admin API with the tenant's secret
key, so they work for either runtime. docs/auth.md walks through setting up an
identity provider.`,
	}
	cmd.AddCommand(NewCmdSSOAdd(f, nil), NewCmdSSOList(f, nil), NewCmdSSORemove(f, nil))
	return cmd
}

// SSOAddOptions are the inputs of `sfp server sso add`.
type SSOAddOptions struct {
	ssoInputs

	MetadataURL          string
	MetadataFile         string
	Domains              []string
	AttributeMappingFile string
	ResourceID           string
}

// NewCmdSSOAdd builds `sfp server sso add`.
func NewCmdSSOAdd(f *cmdutil.Factory, runF func(context.Context, *SSOAddOptions) error) *cobra.Command {
	opts := &SSOAddOptions{}
	cmd := &cobra.Command{
		Use:   "add -t NAME (--metadata-url URL | --metadata-file FILE) --domain DOMAIN...",
		Short: "Add a SAML identity provider",
		Long: `Add a SAML identity provider from its metadata — an https URL the tenant fetches
(and fetches again when the metadata says it is stale), or a file — for the
email domains whose users sign in through it.

--attribute-mapping FILE is GoTrue's attribute_mapping as JSON, e.g.
  {"keys": {"name": {"name": "displayName"}, "groups": {"name": "groups", "array": true}}}
putting assertion attributes into the users' metadata.

Afterwards, set up the tenant as a service provider at the IdP with the URLs
this command prints (or its metadata URL).`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.check, runF, withFactory(f, ssoAddRun)),
	}
	cmd.Flags().StringVar(&opts.MetadataURL, "metadata-url", "", "The IdP's metadata `URL` (https)")
	cmd.Flags().StringVar(&opts.MetadataFile, "metadata-file", "", "The IdP's metadata XML `FILE` (- for stdin)")
	cmd.Flags().StringArrayVar(&opts.Domains, "domain", nil, "Email `DOMAIN` whose users sign in through the IdP (repeat for more)")
	cmd.Flags().StringVar(&opts.AttributeMappingFile, "attribute-mapping", "", "JSON `FILE` mapping assertion attributes to user metadata (- for stdin)")
	cmd.Flags().StringVar(&opts.ResourceID, "resource-id", "", "Your own `ID` for the provider (GoTrue's resource_id)")
	opts.registerJSON(f, cmd, "", ssoProvider{})
	return cmd
}

func (o *SSOAddOptions) check() error {
	switch {
	case (o.MetadataURL == "") == (o.MetadataFile == ""):
		return cmdutil.FlagErrorf("give the IdP's metadata with either --metadata-url or --metadata-file")
	case len(o.Domains) == 0:
		return cmdutil.FlagErrorf("which email domains sign in through this IdP? pass --domain DOMAIN")
	case o.MetadataFile == "-" && o.AttributeMappingFile == "-":
		return cmdutil.FlagErrorf("only one of --metadata-file and --attribute-mapping can read stdin")
	}
	for _, d := range o.Domains {
		if strings.TrimSpace(d) == "" || strings.ContainsAny(d, "@/ ") {
			return cmdutil.FlagErrorf("--domain %q is not an email domain (like example.com)", d)
		}
	}
	return nil
}

// ssoAddRun adds the provider and prints it with the URLs the IdP needs.
func ssoAddRun(ctx context.Context, f *cmdutil.Factory, o *SSOAddOptions) error {
	t, api, err := o.open(f)
	if err != nil {
		return err
	}
	body := map[string]any{"type": "saml", "domains": o.Domains}
	if o.MetadataURL != "" {
		body["metadata_url"] = o.MetadataURL
	} else {
		xml, err := cmdutil.ReadInput(o.IO, o.MetadataFile, "the metadata file", 16<<20)
		if err != nil {
			return err
		}
		body["metadata_xml"] = string(xml)
	}
	if o.AttributeMappingFile != "" {
		mapping, err := cmdutil.ReadJSONInput(o.IO, o.AttributeMappingFile, "the attribute mapping")
		if err != nil {
			return err
		}
		body["attribute_mapping"] = mapping
	}
	if o.ResourceID != "" {
		body["resource_id"] = o.ResourceID
	}
	var p ssoProvider
	if err := api.do(ctx, http.MethodPost, "", body, &p); err != nil {
		return fmt.Errorf("add SSO provider: %w", err)
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(o.IO.Out, p); err != nil {
			return err
		}
	} else if err := printSSOProvider(o.IO, p); err != nil {
		return err
	}
	u := t.URL()
	fmt.Fprintf(o.IO.ErrOut, "Added SSO provider %s for %s.\nSet up the tenant at the IdP as a SAML service provider:\n"+
		"  Entity ID:          %s/sso/saml/metadata\n  ACS (reply) URL:    %s/sso/saml/acs\n  Metadata:           %s/sso/saml/metadata\n",
		p.ID, strings.Join(o.Domains, ", "), u, u, u)
	return nil
}

func printSSOProvider(ios *cmdutil.IOStreams, p ssoProvider) error {
	return cmdutil.PrintFields(ios.Out, "ID", p.ID, "Entity ID", p.SAML.EntityID, "Domains", domainList(p),
		"Metadata URL", p.SAML.MetadataURL, "State", ssoState(p))
}

func domainList(p ssoProvider) string {
	var ds []string
	for _, d := range p.Domains {
		ds = append(ds, d.Domain)
	}
	return strings.Join(ds, ", ")
}

func ssoState(p ssoProvider) string {
	if p.Disabled != nil && *p.Disabled {
		return "disabled"
	}
	return "enabled"
}
