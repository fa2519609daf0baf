package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oauthProvider is one provider's side of the authorization code flow:
// where to send the browser, and who the user is once a code has been
// exchanged. The exchange itself is x/oauth2's; ID tokens are verified by
// go-oidc.
type oauthProvider interface {
	config() *oauth2.Config
	userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error)
}

// Public endpoints of the providers, as GoTrue uses them when no URL is set.
const (
	githubDefaultHost    = "https://github.com"
	githubDefaultAPIHost = "https://api.github.com"
	gitlabDefaultHost    = "https://gitlab.com"
	azureDefaultHost     = "https://login.microsoftonline.com/common"
	googleIssuer         = "https://accounts.google.com"
)

// newOAuthProvider builds the provider name with GoTrue's default scopes
// plus the comma-separated extra scopes of the request.
func (s *Server) newOAuthProvider(st *externalState, name string, p ExternalProvider, scopes string) (oauthProvider, error) {
	base := &oauth2.Config{ClientID: p.ClientID[0], ClientSecret: p.Secret, RedirectURL: p.RedirectURI}
	var defaults []string
	var prov oauthProvider
	switch name {
	case "github":
		defaults = []string{"user:email"}
		host, api := githubDefaultHost, githubDefaultAPIHost
		if p.URL != "" {
			host, api = p.URL, p.URL+"/api/v3" // GitHub Enterprise Server
		}
		base.Endpoint = oauth2.Endpoint{AuthURL: host + "/login/oauth/authorize", TokenURL: host + "/login/oauth/access_token"}
		prov = &githubProvider{apiProvider{cfg: base, api: api, client: st.HTTPClient}}
	case "gitlab":
		defaults = []string{"read_user"}
		host := firstNonEmpty(p.URL, gitlabDefaultHost)
		base.Endpoint = oauth2.Endpoint{AuthURL: host + "/oauth/authorize", TokenURL: host + "/oauth/token"}
		prov = &gitlabProvider{apiProvider{cfg: base, api: host, client: st.HTTPClient}}
	case "keycloak":
		defaults = []string{"profile", "email"}
		base.Endpoint = oauth2.Endpoint{AuthURL: p.URL + "/protocol/openid-connect/auth", TokenURL: p.URL + "/protocol/openid-connect/token"}
		prov = &keycloakProvider{apiProvider{cfg: base, api: p.URL, client: st.HTTPClient}}
	case "azure":
		defaults = []string{"openid"}
		host := firstNonEmpty(p.URL, azureDefaultHost)
		base.Endpoint = oauth2.Endpoint{AuthURL: host + "/oauth2/v2.0/authorize", TokenURL: host + "/oauth2/v2.0/token"}
		prov = &azureProvider{cfg: base, expectedIssuer: azureExpectedIssuer(p.URL), s: s, st: st}
	case "google":
		defaults = []string{"email", "profile"}
		op, err := s.oidcProvider(st, firstNonEmpty(p.Issuer, googleIssuer))
		if err != nil {
			return nil, err
		}
		base.Endpoint = op.Endpoint()
		prov = &oidcCodeProvider{cfg: base, op: op, parse: parseGoogleClaims, now: s.cfg.Now}
	default:
		return nil, fmt.Errorf("Provider %s could not be found", name)
	}
	base.Scopes = defaults
	if scopes != "" {
		base.Scopes = append(base.Scopes, strings.Split(scopes, ",")...)
	}
	return prov, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// getJSON GETs url with the provider's access token and decodes the JSON
// answer into dst; any status but 2xx is an error.
func getJSON(ctx context.Context, client *http.Client, tok *oauth2.Token, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req)
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %.200s", url, res.Status, body)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// apiProvider is an OAuth provider that reads the user from its own API
// with the access token of the code exchange.
type apiProvider struct {
	cfg *oauth2.Config
	// api is the base URL of the provider's API, and the issuer of its
	// users' claims.
	api    string
	client *http.Client
}

func (a *apiProvider) config() *oauth2.Config { return a.cfg }

// get reads the JSON of GET path of the API into dst.
func (a *apiProvider) get(ctx context.Context, tok *oauth2.Token, path string, dst any) error {
	return getJSON(ctx, a.client, tok, a.api+path, dst)
}

type githubProvider struct{ apiProvider }

// userData reads GET /user and GET /user/emails, as GoTrue's github
// provider does.
func (g *githubProvider) userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error) {
	var u struct {
		ID        int    `json:"id"`
		Login     string `json:"login"`
		Name      string `json:"name"`
		AvatarURL string `json:"avatar_url"`
	}
	if err := g.get(ctx, tok, "/user", &u); err != nil {
		return nil, err
	}
	id := strconv.Itoa(u.ID)
	data := &providerUser{Claims: &providerClaims{
		Issuer: g.api, Subject: id, Name: u.Name, PreferredUsername: u.Login,
		AvatarURL: u.AvatarURL, FullName: u.Name, ProviderID: id, UserName: u.Login,
	}}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := g.get(ctx, tok, "/user/emails", &emails); err != nil {
		return nil, err
	}
	for _, e := range emails {
		if e.Email != "" {
			data.Emails = append(data.Emails, providerEmail{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
		}
	}
	return data, nil
}

type gitlabProvider struct{ apiProvider }

// userData reads /api/v4/user and /api/v4/user/emails. GitLab says whether
// only the primary address is confirmed (confirmed_at), so the others
// count as unverified, as in GoTrue.
func (g *gitlabProvider) userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error) {
	var u struct {
		ID          int    `json:"id"`
		Email       string `json:"email"`
		Name        string `json:"name"`
		AvatarURL   string `json:"avatar_url"`
		ConfirmedAt string `json:"confirmed_at"`
	}
	if err := g.get(ctx, tok, "/api/v4/user", &u); err != nil {
		return nil, err
	}
	var emails []struct {
		Email string `json:"email"`
	}
	if err := g.get(ctx, tok, "/api/v4/user/emails", &emails); err != nil {
		return nil, err
	}
	data := &providerUser{}
	for _, e := range emails {
		if e.Email != "" {
			data.Emails = append(data.Emails, providerEmail{Email: e.Email})
		}
	}
	if u.Email != "" {
		data.Emails = append(data.Emails, providerEmail{Email: u.Email, Verified: u.ConfirmedAt != "", Primary: true})
	}
	id := strconv.Itoa(u.ID)
	data.Claims = &providerClaims{
		Issuer: g.api, Subject: id, Name: u.Name, Picture: u.AvatarURL,
		AvatarURL: u.AvatarURL, FullName: u.Name, ProviderID: id,
	}
	return data, nil
}

type keycloakProvider struct{ apiProvider }

// userData reads the realm's userinfo endpoint; claims other than name,
// sub, email and email_verified go to custom_claims.
func (k *keycloakProvider) userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error) {
	var raw map[string]any
	if err := k.get(ctx, tok, "/protocol/openid-connect/userinfo", &raw); err != nil {
		return nil, err
	}
	str := func(k string) string { v, _ := raw[k].(string); return v }
	verified, _ := raw["email_verified"].(bool)
	custom := map[string]any{}
	for key, v := range raw {
		switch key {
		case "name", "sub", "email", "email_verified":
		default:
			custom[key] = v
		}
	}
	data := &providerUser{Claims: &providerClaims{
		Issuer: k.api, Subject: str("sub"), Name: str("name"), Email: str("email"), EmailVerified: verified,
		CustomClaims: custom, FullName: str("name"), ProviderID: str("sub"),
	}}
	if e := str("email"); e != "" {
		data.Emails = []providerEmail{{Email: e, Verified: verified, Primary: true}}
	}
	return data, nil
}

// oidcCodeProvider takes the user from the id_token of the code exchange,
// verified by go-oidc against the provider's keys and the client id
// (Google).
type oidcCodeProvider struct {
	cfg   *oauth2.Config
	op    *oidc.Provider
	parse func(*oidc.IDToken) (*providerUser, error)
	now   func() time.Time
}

func (o *oidcCodeProvider) config() *oauth2.Config { return o.cfg }

func (o *oidcCodeProvider) userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("no id_token in the token response")
	}
	idt, err := o.op.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}).Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, err
		}
	}
	return o.parse(idt)
}
