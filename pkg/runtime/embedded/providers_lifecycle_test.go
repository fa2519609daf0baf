package embedded_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/internal/stacktest"
)

// externalSettings reads which providers the running tenant's auth
// server has enabled (GET /auth/v1/settings).
func externalSettings(t *testing.T, base, key string) map[string]bool {
	t.Helper()
	_, raw := stacktest.SendTo(t, http.MethodGet, base+"/auth/v1/settings", key, "", nil)
	var s struct {
		External map[string]bool `json:"external"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s.External
}

// TestProvidersReloadOnRunningTenant: `sfp server auth provider set` and
// `disable` reach a detached tenant without a restart (the keys reload,
// SIGUSR1).
func TestProvidersReloadOnRunningTenant(t *testing.T) {
	base := sfptest.BaseDir(t)
	k := startDetached(t, base, "prov")
	if externalSettings(t, k.URL, k.PublishableKey)["github"] {
		t.Fatal("github enabled on a new tenant")
	}
	secret := filepath.Join(base, "gh.secret")
	if err := os.WriteFile(secret, []byte("gh-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sfptest.MustRun(t, base, nil, "server", "auth", "provider", "set", "github", "-t", "prov",
		"--client-id", "Iv1.reload", "--secret-file", secret, "--url", "https://ghe.acme.test")
	if !strings.Contains(r.Stderr, "The running tenant uses the new provider settings") {
		t.Fatalf("set: %s", r.Stderr)
	}
	if !externalSettings(t, k.URL, k.PublishableKey)["github"] {
		t.Fatal("the running tenant did not enable github")
	}
	c := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(k.URL + "/auth/v1/authorize?provider=github")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc == nil || loc.Host != "ghe.acme.test" || loc.Query().Get("client_id") != "Iv1.reload" ||
		loc.Query().Get("redirect_uri") != k.URL+"/auth/v1/callback" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	sfptest.MustRun(t, base, nil, "server", "auth", "provider", "disable", "github", "-t", "prov")
	if externalSettings(t, k.URL, k.PublishableKey)["github"] {
		t.Fatal("the running tenant still has github after disable")
	}
}
