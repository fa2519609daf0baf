package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// AuthorizeURL is where a browser starts signing in with an OAuth provider
// (GET /auth/v1/authorize) in GoTrue's PKCE flow: the provider sends it back
// to redirectTo with ?code=, which ExchangeCodeForSession turns into a
// session. challenge is the S256 code challenge of the caller's verifier.
func (s *AuthService) AuthorizeURL(provider, redirectTo, challenge, scopes string) string {
	q := url.Values{"provider": {provider}, "redirect_to": {redirectTo},
		"code_challenge": {challenge}, "code_challenge_method": {"s256"}}
	if scopes != "" {
		q.Set("scopes", scopes)
	}
	return s.c.authURL + "/authorize?" + q.Encode()
}

// ExchangeCodeForSession ends a PKCE flow (POST
// /auth/v1/token?grant_type=pkce with auth_code and code_verifier), makes
// the session the client's and saves it. gotrue-go's own exchange sends
// the code under a name GoTrue does not read, so this one is sfp's.
func (s *AuthService) ExchangeCodeForSession(ctx context.Context, authCode, verifier string) (*Session, error) {
	return s.startSession(ctx, "exchange code", authKey, func(cl *call) error {
		return cl.send(ctx, http.MethodPost, "/token?grant_type=pkce", map[string]string{"auth_code": authCode, "code_verifier": verifier})
	})
}

// SSOURL asks where a browser signs in with the SSO provider of domain
// (POST /auth/v1/sso with skip_http_redirect), in the PKCE flow: the
// identity provider's answer comes back to redirectTo with ?code=.
func (s *AuthService) SSOURL(ctx context.Context, domain, redirectTo, challenge string) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	err := s.c.do(ctx, "start SSO", false, func(cl *call) error {
		cl.auth = authKey
		body := map[string]any{"domain": domain, "redirect_to": redirectTo, "code_challenge": challenge,
			"code_challenge_method": "s256", "skip_http_redirect": true}
		if err := cl.check(cl.send(ctx, http.MethodPost, "/sso", body)); err != nil {
			return err
		}
		return cl.decode(&out)
	})
	if err != nil {
		return "", err
	}
	if out.URL == "" {
		return "", fmt.Errorf("start SSO: the server answered no url")
	}
	return out.URL, nil
}

// ProviderEnabled tells whether the server signs in with an OAuth
// provider (GET /auth/v1/settings, whose "external" lists them).
func (s *AuthService) ProviderEnabled(ctx context.Context, provider string) (bool, error) {
	var settings struct {
		External map[string]bool `json:"external"`
	}
	err := s.c.do(ctx, "read auth settings", true, func(cl *call) error {
		cl.auth = authKey
		if err := cl.check(cl.send(ctx, http.MethodGet, "/settings", nil)); err != nil {
			return err
		}
		return cl.decode(&settings)
	})
	return settings.External[provider], err
}

// send makes a request to the auth path through the call's transport, with
// body as JSON unless nil. It returns what failed before an answer came
// (the library error for cl.check); the answer is the call's.
func (cl *call) send(ctx context.Context, method, path string, body any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	// An empty reader is no body (http.NoBody), as for a GET.
	req, err := http.NewRequestWithContext(ctx, method, cl.c.authURL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: cl}).Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	return err
}
