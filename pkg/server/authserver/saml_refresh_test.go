package authserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/logtest"
	"github.com/sfp-dev/sfp/internal/samltest"
)

// A provider added from a metadata URL takes the IdP's new metadata (a new
// signing certificate) once the stored one is stale, as GoTrue does: until
// then the new key's responses are refused; afterwards they are accepted
// and the new metadata is stored.
func TestSAMLMetadataRefresh(t *testing.T) {
	idp := samltest.StartIdP(t)
	idp.AddUser(t, samltest.User{Name: "ada", Password: adaPassword, Email: adaEmail})
	var current atomic.Value
	current.Store(idp.MetadataXML(t))
	mds := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(current.Load().(string)))
	}))
	t.Cleanup(mds.Close)
	e := newSAMLEnv(t, func(c *Config) { c.SAML.HTTPClient = mds.Client() })
	id := e.req("POST", "/admin/sso/providers", map[string]any{"type": "saml", "metadata_url": mds.URL + "/md", "domains": []string{"acme.test"}},
		"Authorization", "Bearer "+e.serviceKey).mustStatus(t, 201, "create").json(t)["id"].(string)
	idp.TrustSP(t, "sp", e.req("GET", "/sso/saml/metadata", nil).body)
	s := &samlSetup{env: e, idp: idp, providerID: id, browser: samltest.NewBrowser(testSiteURL), logs: &logtest.Buffer{}}

	idp.ReplaceSigningKey(t)
	current.Store(idp.MetadataXML(t))
	wantACSError(t, s.post(s.idpResponse(map[string]any{"domain": "acme.test"})), "invalid_request", CodeValidationFailed)

	// Past the metadata's validUntil (two days for samlidp's): fetched again.
	e.clock.Advance(49 * time.Hour)
	idp.SetClock(e.clock.Now())
	final := s.post(s.idpResponse(map[string]any{"domain": "acme.test"}))
	if samlFragment(t, final).Get("access_token") == "" {
		t.Fatalf("sign-in after the refresh ended at %s", final)
	}
	stored := e.scalar(`select metadata_xml from auth.saml_providers where sso_provider_id = $1`, id).(string)
	if stored != current.Load().(string) || !strings.Contains(stored, "EntityDescriptor") {
		t.Error("the refreshed metadata was not stored")
	}
}
