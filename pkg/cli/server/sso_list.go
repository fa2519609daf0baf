package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// SSOListOptions are the inputs of `sfp server sso list`.
type SSOListOptions struct {
	ssoInputs
}

// NewCmdSSOList builds `sfp server sso list`.
func NewCmdSSOList(f *cmdutil.Factory, runF func(context.Context, *SSOListOptions) error) *cobra.Command {
	opts := &SSOListOptions{}
	cmd := &cobra.Command{
		Use:   "list -t NAME",
		Short: "List the SAML identity providers",
		Args:  cmdutil.NoArgs,
		RunE:  cmdutil.RunE(opts, nil, runF, withFactory(f, ssoListRun)),
	}
	opts.registerJSON(f, cmd, "", []ssoProvider{})
	return cmd
}

func ssoListRun(ctx context.Context, f *cmdutil.Factory, o *SSOListOptions) error {
	t, api, err := o.open(f)
	if err != nil {
		return err
	}
	var list struct {
		Items []ssoProvider `json:"items"`
	}
	if err := api.do(ctx, http.MethodGet, "", nil, &list); err != nil {
		return fmt.Errorf("list SSO providers: %w", err)
	}
	if list.Items == nil {
		list.Items = []ssoProvider{}
	}
	return cmdutil.PrintItems(o.IO, o.JSON, list.Items,
		fmt.Sprintf("Tenant %q has no SSO providers; add one with `sfp server sso add -t %s`.", t.Name(), t.Name()),
		[]string{"ID", "ENTITY ID", "DOMAINS", "STATE"}, func(p ssoProvider) []string {
			return []string{p.ID, p.SAML.EntityID, domainList(p), ssoState(p)}
		})
}

// SSORemoveOptions are the inputs of `sfp server sso remove`.
type SSORemoveOptions struct {
	ssoInputs

	ID  string
	Yes bool
}

// NewCmdSSORemove builds `sfp server sso remove`.
func NewCmdSSORemove(f *cmdutil.Factory, runF func(context.Context, *SSORemoveOptions) error) *cobra.Command {
	opts := &SSORemoveOptions{}
	cmd := &cobra.Command{
		Use:   "remove -t NAME ID",
		Short: "Remove a SAML identity provider",
		Long: `Remove an identity provider (by the id ` + "`sfp server sso list`" + ` shows, or
resource_<your id>) and its domains. Its users keep their accounts and data but
can no longer sign in through it; sessions they have keep working until they
end.`,
		Args: cmdutil.ExactArgs(1, "which provider? pass its ID (see `sfp server sso list`)"),
		RunE: cmdutil.RunArgsE(opts, cmdutil.Args(&opts.ID), runF, withFactory(f, ssoRemoveRun)),
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Do not ask for confirmation")
	opts.registerJSON(f, cmd, "Output the removed provider as JSON", ssoProvider{})
	return cmd
}

func ssoRemoveRun(ctx context.Context, f *cmdutil.Factory, o *SSORemoveOptions) error {
	t, api, err := o.open(f)
	if err != nil {
		return err
	}
	var p ssoProvider
	if err := api.do(ctx, http.MethodGet, "/"+o.ID, nil, &p); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("tenant %q has no SSO provider %s (see `sfp server sso list -t %s`)", t.Name(), o.ID, t.Name())
		}
		return fmt.Errorf("remove SSO provider: %w", err)
	}
	if err := cmdutil.Confirm(o.IO, o.Yes, fmt.Sprintf("Remove SSO provider %s (%s; domains %s)?", p.ID, p.SAML.EntityID, domainList(p))); err != nil {
		return err
	}
	if err := api.do(ctx, http.MethodDelete, "/"+p.ID, nil, &p); err != nil {
		return fmt.Errorf("remove SSO provider: %w", err)
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(o.IO.Out, p); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.IO.ErrOut, "Removed SSO provider %s; its users can no longer sign in through it.\n", p.ID)
	return nil
}
