package samltest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Provider says how Register sets up an IdP at an auth server.
type Provider struct {
	// AuthURL is the auth API: a tenant's URL + "/auth/v1".
	AuthURL string
	// SPMetadataURL is the auth server's SAML metadata (a tenant's URL +
	// "/sso/saml/metadata").
	SPMetadataURL string
	// ServiceKey is sent as apikey and Bearer token (a legacy service_role
	// key or a secret key through the gateway).
	ServiceKey string
	Domains    []string
	// AttributeMapping is GoTrue's attribute_mapping, e.g.
	// {"keys": {"name": {"name": "cn"}}}; nil for none.
	AttributeMapping map[string]any
}

// Register adds idp as an SSO provider through the auth server's admin API
// (POST /admin/sso/providers with the IdP's metadata XML) and registers the
// auth server's SP metadata at the IdP, so sign-ins can go both ways. It
// returns the provider's id; the provider is removed when the test ends.
func Register(t testing.TB, idp *IdP, p Provider) string {
	t.Helper()
	body := map[string]any{"type": "saml", "metadata_xml": idp.MetadataXML(t), "domains": p.Domains}
	if p.AttributeMapping != nil {
		body["attribute_mapping"] = p.AttributeMapping
	}
	var created struct {
		ID string `json:"id"`
	}
	status, raw := call(t, http.MethodPost, p.AuthURL+"/admin/sso/providers", p.ServiceKey, body)
	if status != http.StatusCreated {
		t.Fatalf("register the IdP: %d %s", status, raw)
	}
	if err := json.Unmarshal(raw, &created); err != nil || created.ID == "" {
		t.Fatalf("register the IdP: %v: %s", err, raw)
	}
	// Tests share tenants (and run again with -count): the domains must
	// be free for the next registration.
	// Best effort: a tenant already stopped took its providers with it, and
	// a test may have moved the server's clock past the key's tokens.
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, p.AuthURL+"/admin/sso/providers/"+created.ID, nil)
		req.Header.Set("apikey", p.ServiceKey)
		req.Header.Set("Authorization", "Bearer "+p.ServiceKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			raw, _ := io.ReadAll(resp.Body)
			t.Logf("remove the IdP %s: %d %s", created.ID, resp.StatusCode, raw)
		}
	})
	status, md := call(t, http.MethodGet, p.SPMetadataURL, "", nil)
	if status != http.StatusOK {
		t.Fatalf("SP metadata: %d %s", status, md)
	}
	idp.TrustSP(t, "sp", md)
	return created.ID
}

// RegisterOnTenant is Register for a tenant at apiURL (its gateway).
func RegisterOnTenant(t testing.TB, idp *IdP, apiURL, serviceKey string, domains ...string) string {
	t.Helper()
	return Register(t, idp, Provider{AuthURL: apiURL + "/auth/v1", SPMetadataURL: apiURL + "/sso/saml/metadata",
		ServiceKey: serviceKey, Domains: domains})
}

func call(t testing.TB, method, url, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(mustJSON(t, body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("apikey", key)
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}
