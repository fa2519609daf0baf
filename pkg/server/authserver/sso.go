package authserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/jackc/pgx/v5"
)

// SAML 2.0 single sign-on, as GoTrue's /sso routes: POST /sso starts a
// sign-in at the IdP of a domain or provider, the IdP posts its signed
// response to /sso/saml/acs, GET /sso/saml/metadata describes this Service
// Provider. Every route answers 404 saml_provider_disabled while SAML is off.

// routeSSO returns the handlers of an /sso path by method.
func (s *Server) routeSSO(path string) (handler, map[string]handler) {
	if !s.cfg.SAML.Enabled {
		return s.samlDisabled, nil
	}
	switch path {
	case "/sso":
		return nil, map[string]handler{http.MethodPost: s.handleSSO}
	case "/sso/saml/metadata":
		return nil, map[string]handler{http.MethodGet: s.handleSAMLMetadata}
	case "/sso/saml/acs":
		return nil, map[string]handler{http.MethodPost: s.handleSAMLACS}
	}
	return nil, nil
}

type ssoParams struct {
	ProviderID          string `json:"provider_id"`
	Domain              string `json:"domain"`
	RedirectTo          string `json:"redirect_to"`
	SkipHTTPRedirect    *bool  `json:"skip_http_redirect"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// handleSSO is POST /sso: it records a relay state (and the flow state of
// the sign-in) and sends the browser to the IdP with a signed
// AuthnRequest — a 303, or {"url"} with skip_http_redirect.
func (s *Server) handleSSO(w http.ResponseWriter, r *http.Request) error {
	if !s.ssoLimiter.allow(clientIP(r, s.cfg.TrustedProxies), s.now()) {
		return tooManyRequests()
	}
	var p ssoParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	if p.ProviderID != "" && !isUUID(p.ProviderID) {
		return badRequest(CodeBadJSON, "Could not parse request body as JSON: provider_id is not a UUID")
	}
	ctx := r.Context()
	var (
		provider *SSOProvider
		err      error
	)
	switch {
	case p.ProviderID != "" && p.ProviderID != nilInstance && p.Domain != "":
		return badRequest(CodeValidationFailed, "Only one of provider_id or domain supported")
	case p.ProviderID != "" && p.ProviderID != nilInstance:
		provider, err = ssoProvider(ctx, s.pool, sqlSSOProviderByID, strings.ToLower(p.ProviderID))
		if errors.Is(err, errNotFound) {
			return notFound(CodeSSOProviderNotFound, "No such SSO provider")
		}
	case p.Domain != "":
		provider, err = ssoProvider(ctx, s.pool, sqlSSOProviderByDomain, p.Domain)
		if errors.Is(err, errNotFound) {
			return notFound(CodeSSOProviderNotFound, "No SSO provider assigned for this domain")
		}
	default:
		return badRequest(CodeValidationFailed, "A provider_id or domain needs to be provided")
	}
	if err != nil {
		return internalError(err, "Unable to find SSO provider")
	}
	if !provider.enabled() {
		return notFound(CodeSSOProviderDisabled, "SSO Provider is currently disabled")
	}
	if err := validatePKCEParams(p.CodeChallengeMethod, p.CodeChallenge); err != nil {
		return err
	}
	flow, err := newSAMLFlowState(p.CodeChallengeMethod, p.CodeChallenge)
	if err != nil {
		return err
	}
	idp, err := samlsp.ParseMetadata([]byte(provider.SAML.MetadataXML))
	if err != nil {
		return internalError(err, "Error parsing SAML Metadata for SAML provider")
	}
	now := s.now()
	sp := s.serviceProvider(idp, false, now)
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return internalError(err, "Error creating SAML Authentication Request")
	}
	// Some IdPs refuse the persistent format and need their own.
	if provider.SAML.NameIDFormat != nil && req.NameIDPolicy != nil {
		req.NameIDPolicy.Format = provider.SAML.NameIDFormat
	}
	relayID := newUUID()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertSAMLFlowState(ctx, tx, flow, p.RedirectTo, now); err != nil {
			return internalError(err, "Error creating flow state")
		}
		if _, err := tx.Exec(ctx, sqlInsertRelayState, relayID, provider.ID, req.ID, p.RedirectTo, now, flow.ID); err != nil {
			return internalError(err, "Error creating SAML relay state from sign up")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.cleanUpSAMLStates(ctx, now)
	target, err := req.Redirect(relayID, sp)
	if err != nil {
		return internalError(err, "Error creating SAML authentication request redirect URL")
	}
	if p.SkipHTTPRedirect != nil && *p.SkipHTTPRedirect {
		writeJSON(w, http.StatusOK, map[string]string{"url": target.String()})
		return nil
	}
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
	return nil
}
