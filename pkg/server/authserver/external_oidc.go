package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcProviderTTL is how long a discovery document is reused (GoTrue's
// GOTRUE_EXTERNAL_OIDC_PROVIDER_CACHE_TTL default).
const oidcProviderTTL = time.Hour

// oidcCache keeps discovered OpenID providers by issuer.
type oidcCache struct {
	mu      sync.Mutex
	entries map[string]oidcCacheEntry
}

type oidcCacheEntry struct {
	provider *oidc.Provider
	fetched  time.Time
}

// oidcProvider discovers issuer (or reuses a recent discovery). go-oidc
// checks that the document names the same issuer and fetches the keys it
// points to when a token needs them.
func (s *Server) oidcProvider(st *externalState, issuer string) (*oidc.Provider, error) {
	now := s.now()
	s.oidc.mu.Lock()
	e, ok := s.oidc.entries[issuer]
	s.oidc.mu.Unlock()
	if ok && now.Sub(e.fetched) < oidcProviderTTL {
		return e.provider, nil
	}
	// Fetched without the lock: a slow provider does not hold up the
	// others. Two concurrent discoveries of one issuer both succeed.
	ctx, cancel := context.WithTimeout(context.Background(), defaultProviderTimeout)
	defer cancel()
	// The context's client stays with the provider for fetching its keys.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, st.HTTPClient), issuer)
	if err != nil {
		return nil, fmt.Errorf("discover OpenID provider %s: %w", issuer, err)
	}
	s.oidc.mu.Lock()
	defer s.oidc.mu.Unlock()
	if s.oidc.entries == nil {
		s.oidc.entries = map[string]oidcCacheEntry{}
	}
	s.oidc.entries[issuer] = oidcCacheEntry{provider: p, fetched: now}
	return p, nil
}

var azureIssuerPattern = regexp.MustCompile(`^https://login[.]microsoftonline[.]com/([^/]+)/v2[.]0/?$`)

// azureExpectedIssuer is the issuer an Azure tenant URL's tokens must
// carry; "" for the multi-tenant endpoints (common, organizations), whose
// tokens carry the user's own tenant.
func azureExpectedIssuer(url string) string {
	if url == "" {
		return ""
	}
	issuer := url + "/v2.0"
	if issuer == "https://login.microsoftonline.com/common/v2.0" || issuer == "https://login.microsoftonline.com/organizations/v2.0" {
		return ""
	}
	return issuer
}

// unverifiedIssuer reads the iss of a JWT without checking anything: only
// to choose which provider's keys verify it.
func unverifiedIssuer(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("decode JWT payload: %w", err)
	}
	var p struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", fmt.Errorf("decode JWT payload: %w", err)
	}
	return p.Issuer, nil
}

// azureIssuerAllowed is the issuer rule for Azure tokens: the configured
// tenant's issuer, or any Microsoft tenant's on the multi-tenant endpoint.
// GoTrue accepts any issuer when its URL is not Microsoft's; sfp does not.
func azureIssuerAllowed(issuer, expected string) bool {
	if expected != "" {
		return issuer == expected
	}
	return azureIssuerPattern.MatchString(issuer)
}

type azureProvider struct {
	cfg            *oauth2.Config
	expectedIssuer string
	s              *Server
	st             *externalState
}

func (a *azureProvider) config() *oauth2.Config { return a.cfg }

// userData verifies the id_token of the exchange: Azure's userinfo is not
// used (GoTrue does not trust it either).
func (a *azureProvider) userData(ctx context.Context, tok *oauth2.Token) (*providerUser, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("azure: no OIDC ID token present in response")
	}
	issuer, err := unverifiedIssuer(raw)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	if !azureIssuerAllowed(issuer, a.expectedIssuer) {
		return nil, fmt.Errorf("azure: ID token issuer %q is not accepted (expected %q)", issuer, a.expectedIssuer)
	}
	op, err := a.s.oidcProvider(a.st, issuer)
	if err != nil {
		return nil, err
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: a.cfg.ClientID, Now: a.s.cfg.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, err
		}
	}
	return parseAzureClaims(idt)
}

// parseGoogleClaims maps a Google id_token as GoTrue does (hd, the hosted
// domain, is the only custom claim).
func parseGoogleClaims(idt *oidc.IDToken) (*providerUser, error) {
	var c struct {
		Subject       string `json:"sub"`
		Issuer        string `json:"iss"`
		Name          string `json:"name"`
		Picture       string `json:"picture"`
		Email         string `json:"email"`
		VerifiedEmail bool   `json:"verified_email"`
		EmailVerified bool   `json:"email_verified"`
		HostedDomain  string `json:"hd"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, err
	}
	data := &providerUser{Claims: &providerClaims{
		Issuer: c.Issuer, Subject: c.Subject, Name: c.Name, Picture: c.Picture,
		AvatarURL: c.Picture, FullName: c.Name, ProviderID: c.Subject,
	}}
	if c.HostedDomain != "" {
		data.Claims.CustomClaims = map[string]any{"hd": c.HostedDomain}
	}
	if c.Email != "" {
		data.Emails = []providerEmail{{Email: c.Email, Verified: c.VerifiedEmail || c.EmailVerified, Primary: true}}
	}
	return data, nil
}

// azureStandardClaims are left out of an Azure identity's custom_claims.
var azureStandardClaims = []string{"aud", "iss", "iat", "nbf", "exp", "c_hash", "at_hash", "aio", "nonce",
	"rh", "uti", "jti", "ver", "sub", "name", "preferred_username"}

// parseAzureClaims maps an Azure id_token as GoTrue does: the email counts
// as verified when xms_edov says the domain owner verified it, or when
// xms_edov is absent.
func parseAzureClaims(idt *oidc.IDToken) (*providerUser, error) {
	var c struct {
		Email             string `json:"email"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		EDOV              any    `json:"xms_edov"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, err
	}
	custom := map[string]any{}
	if err := idt.Claims(&custom); err != nil {
		return nil, err
	}
	for _, k := range azureStandardClaims {
		delete(custom, k)
	}
	data := &providerUser{Claims: &providerClaims{
		Issuer: idt.Issuer, Subject: idt.Subject, ProviderID: idt.Subject,
		PreferredUsername: c.PreferredUsername, FullName: c.Name, CustomClaims: custom,
	}}
	if c.Email != "" {
		verified := true
		switch v := c.EDOV.(type) {
		case nil:
		case bool:
			verified = v
		case string:
			verified = v == "1" || v == "true"
		default:
			verified = false
		}
		data.Emails = []providerEmail{{Email: c.Email, Verified: verified, Primary: true}}
	}
	return data, nil
}

// parseGenericClaims maps any other id_token (Keycloak): every standard
// claim the token has is kept.
func parseGenericClaims(idt *oidc.IDToken) (*providerUser, error) {
	data := &providerUser{Claims: &providerClaims{}}
	if err := idt.Claims(data.Claims); err != nil {
		return nil, err
	}
	if data.Claims.Email != "" {
		data.Emails = []providerEmail{{Email: data.Claims.Email, Verified: data.Claims.EmailVerified, Primary: true}}
	}
	return data, nil
}
