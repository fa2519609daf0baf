package authserver

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/jackc/pgx/v5"
)

// withSSOProvider names the SSO provider on the sso/saml entries of amr,
// as GoTrue does for a user whose one identity is an SSO one.
func withSSOProvider(amr []AMREntry, u *User) []AMREntry {
	if len(u.Identities) != 1 || !strings.HasPrefix(u.Identities[0].Provider, "sso:") {
		return amr
	}
	out := make([]AMREntry, len(amr))
	for i, e := range amr {
		if e.Method == samlAuthMethod {
			e.Provider = strings.TrimPrefix(u.Identities[0].Provider, "sso:")
		}
		out[i] = e
	}
	return out
}

// handleSAMLACS is POST /sso/saml/acs, where the IdP posts its response.
// Whatever goes wrong, the browser is sent to the site URL with the error
// in its query (error, error_code, error_description), as GoTrue does; only
// the rate limit answers directly.
func (s *Server) handleSAMLACS(w http.ResponseWriter, r *http.Request) error {
	if !s.assertionLimiter.allow(clientIP(r, s.cfg.TrustedProxies), s.now()) {
		return tooManyRequests()
	}
	err := s.samlACS(w, r)
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		e = internalError(err, "Unexpected failure, please check server logs for more information")
	}
	s.log.WarnContext(r.Context(), "saml sign-in refused", "status", e.Status, "code", e.Code,
		"message", e.Message, "error", e.cause)
	u, perr := url.Parse(s.cfg.SiteURL)
	if perr != nil || s.cfg.SiteURL == "" {
		return internalError(perr, "site url is improperly formattted")
	}
	q := u.Query()
	q.Set("error", samlRedirectErrorName(e))
	q.Set("error_code", e.Code)
	q.Set("error_description", e.Message)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}

// samlRedirectErrorName is the OAuth "error" GoTrue puts beside an error code in
// a redirect.
func samlRedirectErrorName(e *Error) string {
	switch {
	case e.Code == CodeSignupDisabled || e.Code == CodeUserBanned:
		return "access_denied"
	case e.Status == http.StatusBadRequest:
		return "invalid_request"
	case e.Status == http.StatusUnauthorized:
		return "unauthorized_client"
	case e.Status == http.StatusForbidden:
		return "access_denied"
	case e.Status == http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	}
	return "server_error"
}

// acsRequest is what the ACS learned about a response before validating it.
type acsRequest struct {
	provider   *SSOProvider
	idpStarted bool
	redirectTo string
	requestIDs []string
	flowID     string
}

func (s *Server) samlACS(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge, "Request body too large (max %d bytes)", tooBig.Limit)
		}
		return badRequest(CodeValidationFailed, "Could not parse the SAML response form")
	}
	ctx := r.Context()
	now := s.now()
	req, err := s.acsProvider(ctx, r, now)
	if err != nil {
		return err
	}
	idp, err := s.idpMetadata(ctx, req.provider, now)
	if err != nil {
		return err
	}
	sp := s.serviceProvider(idp, req.idpStarted, now)
	parsed, err := sp.ParseResponse(r, req.requestIDs)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		// GoTrue appends the whole response XML to this message; it is
		// left out here (it is the browser's URL).
		return badRequest(CodeValidationFailed, "SAML Assertion is not valid").withCause(err)
	}
	a := samlAssertion{parsed}
	subject := a.userID()
	if subject == "" {
		return badRequest(CodeSAMLAssertionNoUserID, "SAML Assertion did not contain a persistent Subject Identifier attribute or Subject NameID uniquely identifying this user")
	}
	mapped := a.mapAttributes(req.provider.SAML.AttributeMapping)
	email, _ := mapped["email"].(string)
	if email == "" {
		email = a.email()
	}
	if email == "" {
		return badRequest(CodeSAMLAssertionNoEmail, "SAML Assertion does not contain an email address")
	}
	in := ssoSignIn{
		providerType: "sso:" + req.provider.ID,
		subject:      subject,
		email:        email,
		data:         samlIdentityData(mapped, req.provider.SAML.EntityID, subject, email),
		aud:          requestAud(r, nil),
	}
	return s.completeSAMLSignIn(w, r, req, in, a.sessionNotAfter(), now)
}

// acsProvider finds the provider a response is for: through our relay
// state (an SP-initiated sign-in, consumed here), or through the response's
// issuer when the relay state is empty or a URL (IdP-initiated).
func (s *Server) acsProvider(ctx context.Context, r *http.Request, now time.Time) (*acsRequest, error) {
	relay := r.FormValue("RelayState")
	req := &acsRequest{}
	var entityID string
	switch {
	case isUUID(relay):
		rs, err := takeSAMLRelayState(ctx, s.pool, strings.ToLower(relay))
		if errors.Is(err, errNotFound) {
			return nil, notFound(CodeSAMLRelayStateNotFound, "SAML RelayState does not exist, try logging in again?")
		}
		if err != nil {
			return nil, internalError(err, "Database error finding SAML RelayState")
		}
		if now.Sub(rs.CreatedAt) >= s.cfg.SAML.RelayStateValidity {
			return nil, unprocessable(CodeSAMLRelayStateExpired, "SAML RelayState has expired. Try logging in again?")
		}
		p, err := ssoProvider(ctx, s.pool, sqlSSOProviderByID, rs.ProviderID)
		if err != nil {
			return nil, internalError(err, "Unable to find SSO Provider from SAML RelayState")
		}
		if !p.enabled() {
			return nil, notFound(CodeSSOProviderDisabled, "SSO Provider assigned for this domain is currently disabled")
		}
		entityID, req.redirectTo, req.flowID = p.SAML.EntityID, rs.RedirectTo, rs.FlowStateID
		req.requestIDs = []string{rs.RequestID}
	case relay == "" || samlIsRequestURI(relay):
		if r.FormValue("SAMLart") != "" {
			return nil, badRequest(CodeValidationFailed, "SAML Artifact response can only be used with SP initiated flow")
		}
		issuer, err := peekIssuer(r.FormValue("SAMLResponse"))
		if err != nil {
			return nil, err
		}
		entityID, req.redirectTo, req.idpStarted = issuer, relay, true
	default:
		return nil, badRequest(CodeValidationFailed, "SAML RelayState is not a valid UUID or URL")
	}
	p, err := ssoProvider(ctx, s.pool, sqlSSOProviderByEntityID, entityID)
	if errors.Is(err, errNotFound) {
		return nil, notFound(CodeSAMLIdPNotFound, "A SAML connection has not been established with this Identity Provider")
	}
	if err != nil {
		return nil, internalError(err, "Database error finding SAML provider")
	}
	if !p.enabled() {
		return nil, notFound(CodeSSOProviderDisabled, "SSO Provider assigned for this domain is currently disabled")
	}
	req.provider = p
	return req, nil
}

func samlIsRequestURI(s string) bool {
	_, err := url.ParseRequestURI(s)
	return err == nil
}

// peekIssuer reads the issuer of an unverified response, only to find
// whose keys verify it.
func peekIssuer(b64 string) (string, error) {
	if b64 == "" {
		return "", badRequest(CodeValidationFailed, "SAMLResponse is missing")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", badRequest(CodeValidationFailed, "SAMLResponse is not a valid Base64 string")
	}
	var resp saml.Response
	if err := xml.Unmarshal(raw, &resp); err != nil {
		return "", badRequest(CodeValidationFailed, "SAMLResponse is not a valid XML SAML assertion").withCause(err)
	}
	if resp.Issuer == nil {
		return "", nil // no provider has an empty entity ID: saml_idp_not_found
	}
	return resp.Issuer.Value, nil
}

// idpMetadata parses the provider's metadata, first fetching it again from
// its metadata_url when it is stale (a failed fetch keeps the stored one,
// as GoTrue does).
func (s *Server) idpMetadata(ctx context.Context, p *SSOProvider, now time.Time) (*saml.EntityDescriptor, error) {
	md, err := samlsp.ParseMetadata([]byte(p.SAML.MetadataXML))
	if err != nil {
		return nil, internalError(err, "Error parsing SAML Metadata for SAML provider")
	}
	if p.SAML.MetadataURL == nil || *p.SAML.MetadataURL == "" || !metadataStale(md, p.samlUpdatedAt, now) {
		return md, nil
	}
	raw, err := s.fetchSAMLMetadata(ctx, *p.SAML.MetadataURL)
	if err == nil {
		var fresh *saml.EntityDescriptor
		if fresh, err = parseSAMLMetadata(raw); err == nil && fresh.EntityID == md.EntityID {
			if _, err := s.pool.Exec(ctx, sqlUpdateSAMLMetadata, p.samlID, string(raw), now); err != nil {
				return nil, internalError(err, "Database error updating SAML metadata")
			}
			return fresh, nil
		}
	}
	s.log.WarnContext(ctx, "SAML metadata could not be refreshed; using the stored one",
		"sso_provider_id", p.ID, "metadata_url", *p.SAML.MetadataURL, "error", err)
	return md, nil
}

// metadataStale is GoTrue's rule: past validUntil, past the cache duration
// since the last update, or a day old when the metadata says neither.
func metadataStale(md *saml.EntityDescriptor, updated, now time.Time) bool {
	if !md.ValidUntil.IsZero() && now.After(md.ValidUntil) {
		return true
	}
	if md.CacheDuration != 0 && now.After(updated.Add(md.CacheDuration)) {
		return true
	}
	return md.ValidUntil.IsZero() && md.CacheDuration == 0 && now.After(updated.Add(24*time.Hour))
}

// completeSAMLSignIn signs the user in: with PKCE the flow state gets the
// user and the browser the auth code, otherwise a session whose tokens go
// to the browser in the URL fragment.
func (s *Server) completeSAMLSignIn(w http.ResponseWriter, r *http.Request, req *acsRequest, in ssoSignIn, notAfter, now time.Time) error {
	ctx := r.Context()
	var (
		resp *tokenResponse
		flow *samlFlowState
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		u, _, err := s.findOrCreateSSOUser(ctx, tx, b, in, now)
		if err != nil {
			return err
		}
		if req.flowID != "" {
			f, err := scanSAMLFlowState(tx.QueryRow(ctx, sqlLockSAMLFlowState, req.flowID))
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return internalError(err, "Database error finding flow state")
			}
			if f != nil && f.isPKCE() {
				if f.UserID != "" {
					return badRequest(CodeFlowStateAlreadyUsed, "State has already been used")
				}
				flow = f
				b.Queue(sqlClaimSAMLFlowState, f.ID, u.ID, now)
				return sendBatch(ctx, tx, b)
			}
		}
		// GoTrue also makes a session for a PKCE sign-in here, which nobody
		// ever receives; only the code exchange makes one in this server.
		resp, err = s.issueSession(ctx, tx, b, r, u, samlAuthMethod, now)
		if err != nil {
			return err
		}
		if !notAfter.IsZero() {
			if _, err := tx.Exec(ctx, sqlSessionNotAfterByToken, resp.RefreshToken, notAfter); err != nil {
				return internalError(err, "Database error saving session")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	target := s.redirectTarget(req.redirectTo)
	if flow != nil {
		u, err := url.Parse(target)
		if err != nil {
			return internalError(err, "Error building the redirect URL")
		}
		q := u.Query()
		q.Set("code", flow.AuthCode)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return nil
	}
	http.Redirect(w, r, implicitRedirect(target, resp, url.Values{}), http.StatusFound)
	return nil
}

// sqlSessionNotAfterByToken ends a session when the IdP said its session
// ends (SessionNotOnOrAfter).
const sqlSessionNotAfterByToken = `update auth.sessions set not_after = $2
	where id = (select session_id from auth.refresh_tokens where token = $1)`
