package auth

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/idptest"
	"github.com/sfp-dev/sfp/internal/samltest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// follow is a browser for the test: it follows the redirects of url until
// a request fails or none is left (the last hop is sfp's own loopback).
func follow(t *testing.T) func(string) error {
	return func(start string) error {
		go func() {
			c := &http.Client{Timeout: time.Minute}
			resp, err := c.Get(start)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			resp.Body.Close()
		}()
		return nil
	}
}

// browserLogin is `sfp login` in the browser (follow) against server with
// key: a fresh configuration directory dir and test streams.
func browserLogin(t *testing.T, server, key string) (opts *LoginOptions, dir string, out, errOut *bytes.Buffer) {
	dir = t.TempDir()
	ios, _, out, errOut := cmdutil.Test()
	return &LoginOptions{
		IO:     ios,
		Config: func() (*cmdutil.Config, error) { return cmdutil.ReadConfig(dir) },
		NewClient: func(server, key string, extra ...client.Option) (*client.Client, error) {
			return client.New(server, key, extra...)
		},
		Getenv: func(string) string { return "" }, Server: server, APIKey: key, OpenBrowser: follow(t),
	}, dir, out, errOut
}

// TestLoginWithProvider runs `sfp login --provider github` against a whole
// embedded tenant whose GitHub is the in-process stand-in, then `--sso`
// for a domain no IdP has, and for one whose SAML IdP (crewjam's samlidp,
// in this process) the tenant knows.
func TestLoginWithProvider(t *testing.T) {
	gh := idptest.NewGitHub(t, "cli-app", "cli-secret", idptest.GitHubUser{ID: 7, Login: "grace", Name: "Grace Hopper",
		Emails: []idptest.GitHubEmail{{Email: "grace@example.com", Primary: true, Verified: true}}})
	ctx := context.Background()
	s, err := stacktest.Start(ctx, stacktest.Options{
		Configure: func(c *tenant.Config) {
			c.Auth.External = map[string]tenant.ExternalProvider{"github": {Enabled: true, ClientID: "cli-app", URL: gh.URL}}
		},
		Secrets: func(sec *tenant.Secrets) { sec.Extra[tenant.ProviderSecretVar("github")] = "cli-secret" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opts, dir, out, errOut := browserLogin(t, s.URL, s.PublishableKey)
	opts.Provider, opts.JSON = "github", true
	if err := browserLoginRun(ctx, opts); err != nil {
		t.Fatalf("login --provider github: %v\n%s", err, errOut)
	}
	if !strings.Contains(out.String(), `"email": "grace@example.com"`) || !strings.Contains(errOut.String(), "/auth/v1/authorize?") {
		t.Fatalf("stdout %s, stderr %s", out, errOut)
	}
	redirect := gh.Authorized()[0].Get("redirect_uri")
	if redirect != s.URL+"/auth/v1/callback" {
		t.Fatalf("GitHub was given redirect_uri %q", redirect)
	}
	cfg, err := cmdutil.ReadConfig(dir)
	if err != nil || cfg.Email != "grace@example.com" || cfg.Server != s.URL {
		t.Fatalf("config %+v %v", cfg, err)
	}
	sess, err := cfg.SessionStore().Load(ctx)
	if err != nil || sess == nil || sess.RefreshToken == "" {
		t.Fatalf("saved session %+v %v", sess, err)
	}

	// The running tenant takes a disabled provider with its keys (what
	// `sfp server auth provider disable` makes it do).
	s.Tenant.Config.Auth.External = map[string]tenant.ExternalProvider{"github": {Enabled: false, ClientID: "cli-app", URL: gh.URL}}
	if err := s.Tenant.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Instance().ReloadKeys(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	body := s.Do(t, "GET", "/auth/v1/authorize?provider=github", "", nil, 400, nil)
	if !strings.Contains(string(body), "provider is not enabled") {
		t.Fatalf("authorize after disabling: %s", body)
	}
	opts.Provider = "github"
	if err := browserLoginRun(ctx, opts); err == nil || !strings.Contains(err.Error(), "provider is not enabled") {
		t.Fatalf("login with a disabled provider: %v", err)
	}

	// --sso: no SSO provider has the domain (GoTrue's saml_provider_disabled
	// when SAML is off, sso_provider_not_found when it is on).
	opts.Provider, opts.SSO = "", "acme.com"
	err = browserLoginRun(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "saml_provider_disabled") && !strings.Contains(err.Error(), "sso_provider_not_found") {
		t.Fatalf("login --sso without SSO: %v", err)
	}

	// --sso with the domain's SAML IdP registered: the browser goes
	// through the IdP's login form and the ACS, back to the loopback port.
	idp := samltest.StartIdP(t)
	idp.AddUser(t, samltest.User{Name: "sam", Password: "pw-sam-1", Email: "sam@acme.com", GivenName: "Sam", Surname: "Ops"})
	samltest.RegisterOnTenant(t, idp, s.URL, s.ServiceKey, "acme.com")
	out.Reset()
	opts.OpenBrowser = func(start string) error {
		go func() {
			if _, err := samltest.NewBrowser("").SignInPage(context.Background(), start, "sam", "pw-sam-1"); err != nil {
				t.Errorf("browser: %v", err)
			}
		}()
		return nil
	}
	if err := browserLoginRun(ctx, opts); err != nil {
		t.Fatalf("login --sso acme.com: %v\n%s", err, errOut)
	}
	if !strings.Contains(out.String(), `"email": "sam@acme.com"`) {
		t.Fatalf("login --sso: stdout %s", out)
	}
	cfg, err = cmdutil.ReadConfig(dir)
	if err != nil || cfg.Email != "sam@acme.com" {
		t.Fatalf("config after --sso: %+v %v", cfg, err)
	}
}
