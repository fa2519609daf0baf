package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/samltest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// `sfp server sso add|list|remove` against the running test tenant: the
// provider added from a metadata file works for a sign-in through a real
// IdP, with its attribute mapping; list shows it; remove asks first.
func TestServerSSO(t *testing.T) {
	s := stacktest.Shared()
	u := newSfp(t)
	base := tenantBase()
	idp := samltest.StartIdP(t)
	idp.AddUser(t, samltest.User{Name: "lin", Password: "pw-lin-1", Email: "lin@cli-sso.test", GivenName: "Lin", Surname: "Chen"})
	md := writeTemp(t, "idp.xml", idp.MetadataXML(t))
	mapping := writeTemp(t, "mapping.json", `{"keys": {"full_name": {"name": "cn"}}}`)
	sso := func(args ...string) []string {
		return append([]string{"server", "sso"}, append(args, "-t", s.Tenant.Name(), "--base-dir", base)...)
	}

	added := u.run("", sso("add", "--metadata-file", md, "--domain", "cli-sso.test", "--attribute-mapping", mapping, "--json")...).ok(t)
	var p struct {
		ID   string `json:"id"`
		SAML struct {
			EntityID string `json:"entity_id"`
		} `json:"saml"`
		Domains []struct {
			Domain string `json:"domain"`
		} `json:"domains"`
	}
	added.json(t, &p)
	if p.ID == "" || p.SAML.EntityID != idp.EntityID() || len(p.Domains) != 1 || p.Domains[0].Domain != "cli-sso.test" {
		t.Fatalf("added %+v", p)
	}
	for _, want := range []string{"ACS (reply) URL:    " + s.URL + "/sso/saml/acs", "Entity ID:          " + s.URL + "/sso/saml/metadata"} {
		if !strings.Contains(added.errOut, want) {
			t.Errorf("add does not tell the IdP setup %q:\n%s", want, added.errOut)
		}
	}
	u.run("", sso("add", "--metadata-file", md, "--domain", "other-cli.test")...).
		fails(t, 1, "saml_idp_already_exists")

	// The provider works: sign in through it.
	idp.TrustSP(t, "sp", s.Do(t, "GET", "/sso/saml/metadata", "", nil, 200, nil))
	var start struct {
		URL string `json:"url"`
	}
	s.Do(t, "POST", "/auth/v1/sso", "", map[string]any{"domain": "cli-sso.test", "skip_http_redirect": true}, 200, &start)
	final, err := samltest.NewBrowser(s.Tenant.Config.Auth.SiteURL).SignIn(context.Background(), start.URL, "lin", "pw-lin-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(final.Fragment, "access_token=") {
		t.Fatalf("sign-in through the added provider ended at %s", final)
	}

	var list []struct {
		ID string `json:"id"`
	}
	u.run("", sso("list", "--json")...).ok(t).json(t, &list)
	found := false
	for _, l := range list {
		found = found || l.ID == p.ID
	}
	if !found {
		t.Fatalf("list --json lacks %s: %+v", p.ID, list)
	}
	if out := u.run("", sso("list")...).ok(t).out; !strings.Contains(out, p.ID) || !strings.Contains(out, "cli-sso.test") || !strings.Contains(out, "ENTITY ID") {
		t.Errorf("list:\n%s", out)
	}

	u.run("", sso("remove", p.ID)...).fails(t, 2, "pass --yes")
	u.run("", sso("remove", p.ID, "--yes")...).ok(t)
	u.run("", sso("remove", p.ID, "--yes")...).fails(t, 1, "has no SSO provider "+p.ID)
	var after []struct {
		ID string `json:"id"`
	}
	u.run("", sso("list", "--json")...).ok(t).json(t, &after)
	for _, l := range after {
		if l.ID == p.ID {
			t.Fatalf("removed provider still listed")
		}
	}
}

// The SSO commands say what is wrong with a tenant they cannot use.
func TestServerSSOTenantState(t *testing.T) {
	t.Parallel()
	u, base := newOperator(t)
	u.run("", "server", "init", "-t", "quiet").ok(t)
	u.run("", "server", "sso", "list", "-t", "quiet").fails(t, 1, "SAML is off for tenant \"quiet\"", "auth.saml.enabled: true")
	tn, err := tenant.Load(base, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	tn.Config.Auth.SAML.Enabled = true
	if err := tn.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	u.run("", "server", "sso", "list", "-t", "quiet").fails(t, 1, "does not answer", "sfp server start -t quiet")
}
