package authserver

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/samltest"
)

// The SSO provider admin API, as GoTrue's: create from XML or an https
// metadata URL, list, get (by id or resource id), update, delete, with
// GoTrue's refusals.
func TestAdminSSOProviders(t *testing.T) {
	// The metadata server: the IdP's metadata, a 404, and one that never
	// answers until the test ends.
	idp := samltest.StartIdP(t)
	xml := idp.MetadataXML(t)
	hang := make(chan struct{})
	mds := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/idp.xml":
			w.Header().Set("Content-Type", "application/xml")
			_, _ = w.Write([]byte(xml))
		case "/garbage":
			_, _ = w.Write([]byte("<html>not metadata"))
		case "/hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(mds.Close)
	t.Cleanup(func() { close(hang) })
	e := newSAMLEnv(t, func(c *Config) {
		c.SAML.HTTPClient = mds.Client()
		c.SAML.MetadataFetchTimeout = 2 * time.Second
	})
	admin := func(method, path string, body any) response {
		t.Helper()
		return e.req(method, "/admin/sso/providers"+path, body, "Authorization", "Bearer "+e.serviceKey)
	}

	created := admin("POST", "", map[string]any{"type": "saml", "metadata_url": mds.URL + "/idp.xml",
		"domains": []string{"acme.test", "acme.example"}, "resource_id": "acme",
		"attribute_mapping": map[string]any{"keys": map[string]any{"name": map[string]any{"name": "cn"}}}}).
		mustStatus(t, 201, "create from metadata_url").json(t)
	id := created["id"].(string)
	saml := created["saml"].(map[string]any)
	if saml["entity_id"] != idp.EntityID() || saml["metadata_url"] != mds.URL+"/idp.xml" || saml["metadata_xml"] != xml {
		t.Errorf("created saml %v", saml)
	}
	if created["disabled"] != nil || created["resource_id"] != "acme" || len(created["domains"].([]any)) != 2 {
		t.Errorf("created %v", created)
	}
	if n := e.scalar(`select count(*) from auth.sso_domains where sso_provider_id = $1`, id).(int64); n != 2 {
		t.Errorf("%d domains stored", n)
	}

	refusals := []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"no type", map[string]any{"metadata_xml": xml}, 400, CodeValidationFailed, "Only 'saml' supported"},
		{"no metadata", map[string]any{"type": "saml"}, 400, CodeValidationFailed, "Either metadata_xml or metadata_url must be set"},
		{"both metadata", map[string]any{"type": "saml", "metadata_xml": xml, "metadata_url": mds.URL}, 400, CodeValidationFailed, "Only one of metadata_xml or metadata_url"},
		{"http metadata url", map[string]any{"type": "saml", "metadata_url": "http://idp.example/md"}, 400, CodeValidationFailed, "metadata_url is not a HTTPS URL"},
		{"bad metadata url", map[string]any{"type": "saml", "metadata_url": "::"}, 400, CodeValidationFailed, "metadata_url is not a valid URL"},
		{"garbage xml", map[string]any{"type": "saml", "metadata_xml": "<<<not xml"}, 400, CodeValidationFailed, "SAML Metadata XML is not valid"},
		{"sp metadata", map[string]any{"type": "saml", "metadata_xml": string(e.req("GET", "/sso/saml/metadata", nil).body)}, 400, CodeValidationFailed, "does not contain any IDPSSODescriptor"},
		{"metadata url 404", map[string]any{"type": "saml", "metadata_url": mds.URL + "/missing"}, 400, CodeSAMLMetadataFetchFailed, "HTTP 404 error fetching SAML Metadata"},
		{"metadata url garbage", map[string]any{"type": "saml", "metadata_url": mds.URL + "/garbage"}, 400, CodeValidationFailed, "SAML Metadata XML is not valid"},
		{"metadata url hangs", map[string]any{"type": "saml", "metadata_url": mds.URL + "/hang"}, 400, CodeSAMLMetadataFetchFailed, "Timed out after 2s fetching SAML Metadata"},
		{"same entity", map[string]any{"type": "saml", "metadata_xml": xml}, 422, CodeSAMLIdPAlreadyExists, "already exists"},
		{"bad name id format", map[string]any{"type": "saml", "metadata_xml": xml, "name_id_format": "x"}, 400, CodeValidationFailed, "name_id_format must be unspecified or one of"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) { wantError(t, admin("POST", "", c.body), c.status, c.code, c.msg) })
	}
	other := samltest.StartIdP(t)
	wantError(t, admin("POST", "", map[string]any{"type": "saml", "metadata_xml": other.MetadataXML(t), "domains": []string{"ACME.test"}}),
		400, CodeSSODomainAlreadyExists, "SSO Domain 'ACME.test' is already assigned to an SSO identity provider ("+id+")")
	if n := e.scalar(`select count(*) from auth.sso_providers`).(int64); n != 1 {
		t.Fatalf("refused creations left %d providers", n)
	}
	adminReadUpdateDelete(t, e, admin, id, other)
}

// adminReadUpdateDelete is the rest of TestAdminSSOProviders: list, get,
// update and delete of the provider id (for acme.test and acme.example,
// resource id acme), with other another IdP.
func adminReadUpdateDelete(t *testing.T, e *env, admin func(method, path string, body any) response, id string, other *samltest.IdP) {
	t.Helper()
	list := admin("GET", "", nil).mustStatus(t, 200, "list").json(t)["items"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["saml"].(map[string]any)["metadata_xml"] != nil {
		t.Errorf("list %v (one provider, without its metadata_xml)", list)
	}
	for query, want := range map[string]int{"?resource_id=acme": 1, "?resource_id_prefix=ac": 1, "?resource_id=ac": 0} {
		if got := admin("GET", query, nil).mustStatus(t, 200, "list "+query).json(t)["items"].([]any); len(got) != want {
			t.Errorf("list %s: %d providers, want %d", query, len(got), want)
		}
	}
	for _, path := range []string{"/" + id, "/" + strings.ToUpper(id), "/resource_acme"} {
		got := admin("GET", path, nil).mustStatus(t, 200, "get "+path).json(t)
		if got["id"] != id {
			t.Errorf("GET %s: %v", path, got)
		}
	}
	wantError(t, admin("GET", "/"+newUUID(), nil), 404, CodeSSOProviderNotFound, "SSO Identity Provider not found")
	wantError(t, admin("GET", "/not-a-uuid", nil), 404, CodeSSOProviderNotFound, "SSO Identity Provider not found")

	updated := admin("PUT", "/"+id, map[string]any{"domains": []string{"acme.test", "acme.org"}, "disabled": true,
		"attribute_mapping": map[string]any{"keys": map[string]any{"full_name": map[string]any{"name": "cn"}}}}).
		mustStatus(t, 200, "update").json(t)
	var domains []string
	for _, d := range updated["domains"].([]any) {
		domains = append(domains, d.(map[string]any)["domain"].(string))
	}
	sort.Strings(domains)
	if strings.Join(domains, ",") != "acme.org,acme.test" || updated["disabled"] != true {
		t.Errorf("updated %v", updated)
	}
	keys := updated["saml"].(map[string]any)["attribute_mapping"].(map[string]any)["keys"].(map[string]any)
	if _, ok := keys["full_name"]; !ok || len(keys) != 1 {
		t.Errorf("attribute mapping %v", keys)
	}
	wantError(t, admin("PUT", "/"+id, map[string]any{"metadata_xml": other.MetadataXML(t)}), 400, CodeSAMLEntityIDMismatch, "EntityID matches")

	otherID := admin("POST", "", map[string]any{"type": "saml", "metadata_xml": other.MetadataXML(t), "domains": []string{"other.test"}}).
		mustStatus(t, 201, "create other").json(t)["id"].(string)
	wantError(t, admin("PUT", "/"+otherID, map[string]any{"domains": []string{"acme.org"}}), 400, CodeSSODomainAlreadyExists, "already assigned to another provider")

	wantError(t, e.req("GET", "/admin/sso/providers", nil, "Authorization", "Bearer "+e.anonKey), 403, CodeNotAdmin, "User not allowed")

	deleted := admin("DELETE", "/"+id, nil).mustStatus(t, 200, "delete").json(t)
	if deleted["id"] != id {
		t.Errorf("delete answered %v", deleted)
	}
	wantError(t, admin("GET", "/"+id, nil), 404, CodeSSOProviderNotFound, "not found")
	if n := e.scalar(`select count(*) from auth.sso_domains d join auth.saml_providers p using (sso_provider_id) where p.sso_provider_id = $1`, id).(int64); n != 0 {
		t.Errorf("%d rows left of the deleted provider", n)
	}
}

// A SAML-less server keeps answering the SSO admin routes as a GoTrue
// without SAML does.
func TestAdminSSODisabled(t *testing.T) {
	e := newEnv(t)
	r := e.req("GET", "/admin/sso/providers", nil, "Authorization", "Bearer "+e.serviceKey).mustStatus(t, 200, "list")
	if string(r.body) != `{"items":[]}` {
		t.Errorf("list %s", r.body)
	}
	wantError(t, e.req("POST", "/sso", map[string]any{"domain": "acme.test"}), 404, CodeSAMLProviderDisabled, "SAML 2.0 is disabled")
	wantError(t, e.req("GET", "/sso/saml/metadata", nil), 404, CodeSAMLProviderDisabled, "SAML 2.0 is disabled")
}
