package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The SSO commands use the tenant's admin API (/auth/v1/admin/sso/
// providers) with its secret key, as any GoTrue admin client does: the
// same commands then work for an embedded tenant and for a docker tenant's
// real GoTrue, and the auth server keeps the rules (metadata checks,
// duplicate domains). The tenant must be running.

// ssoProvider is an SSO provider as the admin API answers it.
type ssoProvider struct {
	ID         string   `json:"id"`
	ResourceID *string  `json:"resource_id,omitempty"`
	Disabled   *bool    `json:"disabled"`
	SAML       ssoSAML  `json:"saml"`
	Domains    []ssoDom `json:"domains"`
	CreatedAt  string   `json:"created_at"`
	UpdatedAt  string   `json:"updated_at"`
}

type ssoSAML struct {
	EntityID         string          `json:"entity_id"`
	MetadataURL      string          `json:"metadata_url,omitempty"`
	AttributeMapping json.RawMessage `json:"attribute_mapping,omitempty"`
	NameIDFormat     string          `json:"name_id_format,omitempty"`
}

type ssoDom struct {
	Domain string `json:"domain"`
}

// ssoAPI calls a tenant's SSO admin API.
type ssoAPI struct {
	t    *tenant.Tenant
	http *http.Client
}

// ssoInputs are the inputs every SSO command has: the tenant, --json and
// the client that reaches the tenant's admin API.
type ssoInputs struct {
	tenantJSONInputs
	// HTTPClient reaches the tenant (nil: a default client).
	HTTPClient *http.Client
}

// open loads the tenant the flags name and its SSO admin API.
func (in *ssoInputs) open(f *cmdutil.Factory) (*tenant.Tenant, *ssoAPI, error) {
	t, err := loadTenant(f, &in.Flags)
	if err != nil {
		return nil, nil, err
	}
	api, err := newSSOAPI(t, in.HTTPClient)
	if err != nil {
		return nil, nil, err
	}
	return t, api, nil
}

func newSSOAPI(t *tenant.Tenant, client *http.Client) (*ssoAPI, error) {
	if !t.Config.Auth.SAML.Enabled {
		return nil, fmt.Errorf("SAML is off for tenant %q: set auth.saml.enabled: true in %s and restart it (`sfp server start -t %s`)",
			t.Name(), t.ConfigFile(), t.Name())
	}
	if t.WorkerKey() == "" {
		return nil, fmt.Errorf("tenant %q has no secret key (revoked) for its admin API: make one with `sfp server keys rotate -t %s`", t.Name(), t.Name())
	}
	if client == nil {
		// The server bounds its own metadata fetch; this only guards
		// against a tenant that stopped answering.
		client = &http.Client{Timeout: time.Minute}
	}
	return &ssoAPI{t: t, http: client}, nil
}

// apiError is an error answer of the auth server.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%s, HTTP %d)", e.Msg, e.Code, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status)
}

// do sends a request to path under /auth/v1/admin/sso/providers and
// decodes a successful answer into out.
func (a *ssoAPI) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	url := a.t.URL() + "/auth/v1/admin/sso/providers" + path
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	key := a.t.WorkerKey()
	req.Header.Set("apikey", key)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("tenant %q does not answer at %s (is it running? `sfp server start -t %s`): %w", a.t.Name(), a.t.URL(), a.t.Name(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code      any    `json:"code"`
			ErrorCode string `json:"error_code"`
			Msg       string `json:"msg"`
			Message   string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		ae := &apiError{Status: resp.StatusCode, Code: e.ErrorCode, Msg: e.Msg}
		if ae.Msg == "" {
			ae.Msg = e.Message
		}
		if ae.Msg == "" {
			ae.Msg = http.StatusText(resp.StatusCode)
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, url, err)
	}
	return nil
}

// isNotFound reports an answer saying the provider does not exist.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
