package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
)

// tokenResponseWithProvider is a session with the provider's tokens, as
// the PKCE exchange answers it.
type tokenResponseWithProvider struct {
	*tokenResponse
	ProviderToken        string `json:"provider_token,omitempty"`
	ProviderRefreshToken string `json:"provider_refresh_token,omitempty"`
}

// pkceGrant is POST /token?grant_type=pkce {auth_code, code_verifier}: the
// second half of a PKCE flow, OAuth (/authorize) or SSO (/sso) alike, as
// GoTrue's one PKCE grant. The flow state is used once.
func (s *Server) pkceGrant(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		AuthCode     string `json:"auth_code"`
		CodeVerifier string `json:"code_verifier"`
	}
	if err := readJSON(r, &p); err != nil {
		return err
	}
	if p.AuthCode == "" || p.CodeVerifier == "" {
		return badRequest(CodeValidationFailed, "invalid request: both auth code and code verifier should be non-empty")
	}
	ctx := r.Context()
	st := s.external.Load()
	f, err := scanFlowState(s.pool.QueryRow(ctx, sqlFlowStateByAuthCode, p.AuthCode))
	if errors.Is(err, errNotFound) || (err == nil && f.UserID == "") {
		return notFound(CodeFlowStateNotFound, "invalid flow state, no valid flow state found")
	}
	if err != nil {
		return internalError(err, "Database error finding flow state")
	}
	now := s.now()
	if f.expired(now, st.FlowStateExpiry) {
		return unprocessable(CodeFlowStateExpired, "invalid flow state, flow state has expired")
	}
	u, err := s.userByID(ctx, s.pool, f.UserID)
	if err != nil {
		return internalError(err, "Database error finding user")
	}
	if err := verifyPKCE(f.CodeChallenge, f.CodeChallengeMethod, p.CodeVerifier); err != nil {
		return badRequest(CodeBadCodeVerifier, "%s", err.Error())
	}
	if u.isBanned(now) {
		return badRequest(CodeUserBanned, "User is banned")
	}
	var resp *tokenResponse
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Deleting first claims the flow: a concurrent exchange of the same
		// code finds nothing to delete.
		tag, err := tx.Exec(ctx, sqlDeleteFlowState, f.ID)
		if err != nil {
			return internalError(err, "Database error deleting flow state")
		}
		if tag.RowsAffected() == 0 {
			return notFound(CodeFlowStateNotFound, "invalid flow state, no valid flow state found")
		}
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider_type": f.ProviderType}), now); err != nil {
			return err
		}
		resp, err = s.issueSession(ctx, tx, b, r, u, f.AuthenticationMethod, now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenResponseWithProvider{resp, f.ProviderAccessToken, f.ProviderRefreshToken})
	return nil
}

// verifyPKCE checks a code verifier against the stored challenge (RFC
// 7636), in constant time.
func verifyPKCE(challenge, method, verifier string) error {
	switch strings.ToLower(method) {
	case "s256":
		sum := sha256.Sum256([]byte(verifier))
		verifier = base64.RawURLEncoding.EncodeToString(sum[:])
	case "plain":
	default:
		return errors.New("code challenge method not supported")
	}
	if subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) != 1 {
		return errors.New("code challenge does not match previously saved code verifier")
	}
	return nil
}

// idTokenParams are the id_token grant's parameters.
type idTokenParams struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	Nonce        string `json:"nonce"`
	Provider     string `json:"provider"`
	ClientID     string `json:"client_id"`
	Issuer       string `json:"issuer"`
	LinkIdentity bool   `json:"link_identity"`
}

func invalidRequest(description string, cause error) *oauthError {
	return &oauthError{Err: "invalid request", Description: description, cause: cause}
}

// idTokenGrant is POST /token?grant_type=id_token: sign in with an ID token
// the app got from Google, Azure or Keycloak itself. go-oidc verifies the
// signature (the provider's JWKS), issuer and expiry; the audience must be
// one of the provider's client ids and the nonce must match the token's
// (which holds its SHA-256), as in GoTrue.
func (s *Server) idTokenGrant(w http.ResponseWriter, r *http.Request) error {
	var p idTokenParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	if p.IDToken == "" {
		return invalidRequest("id_token required", nil)
	}
	if p.Provider == "" && (p.ClientID == "" || p.Issuer == "") {
		return invalidRequest("provider or client_id and issuer required", nil)
	}
	ctx := r.Context()
	var target *authContext
	if p.LinkIdentity {
		if r.Header.Get("Authorization") == "" {
			return invalidRequest("Linking requires a valid user access token in Authorization", nil)
		}
		ac, err := s.authenticate(r)
		if err != nil {
			return err
		}
		target = ac
	}
	st := s.external.Load()
	name, op, cfg, err := s.idTokenProvider(st, &p)
	if err != nil {
		return err
	}
	idt, err := op.Verifier(&oidc.Config{SkipClientIDCheck: true, Now: s.cfg.Now}).Verify(ctx, p.IDToken)
	if err == nil && p.AccessToken != "" && idt.AccessTokenHash != "" {
		err = idt.VerifyAccessToken(p.AccessToken)
	}
	if err != nil {
		return invalidRequest("Bad ID token", err)
	}
	data, err := parseIDTokenClaims(name, idt)
	if err != nil {
		return invalidRequest("Bad ID token", err)
	}
	data.primaryEmail()
	if idt.Subject == "" {
		return invalidRequest("Missing sub claim in id_token", nil)
	}
	if !slices.ContainsFunc(cfg.ClientID, func(id string) bool { return id != "" && slices.Contains(idt.Audience, id) }) {
		return invalidRequest(fmt.Sprintf("Unacceptable audience in id_token: %v", idt.Audience), nil)
	}
	if !cfg.SkipNonceCheck {
		if (idt.Nonce != "") != (p.Nonce != "") {
			return invalidRequest("Passed nonce and nonce in id_token should either both exist or not.", nil)
		}
		if p.Nonce != "" && fmt.Sprintf("%x", sha256.Sum256([]byte(p.Nonce))) != idt.Nonce {
			return &oauthError{Err: "invalid nonce", Description: "Nonces mismatch"}
		}
	}
	now := s.now()
	var resp *tokenResponse
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		linkTo := ""
		if target != nil {
			linkTo = target.user.ID
		}
		u, err := s.externalUser(ctx, tx, b, r, linkTo, data, name, now)
		if err != nil {
			return err
		}
		resp, err = s.issueSession(ctx, tx, b, r, u, "oauth", now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// idTokenProvider chooses the provider an ID token is checked against:
// by name, or by its issuer. Only enabled Google, Azure and Keycloak
// providers qualify (GoTrue's arbitrary issuer allow list is not
// supported).
func (s *Server) idTokenProvider(st *externalState, p *idTokenParams) (string, *oidc.Provider, ExternalProvider, error) {
	var name, issuer string
	kc := st.Providers["keycloak"]
	azure := st.Providers["azure"]
	google := st.Providers["google"]
	googleIss := firstNonEmpty(google.Issuer, googleIssuer)
	switch {
	case p.Provider == "google" || p.Issuer == googleIss:
		name, issuer = "google", googleIss
	case p.Provider == "azure" || (p.Issuer != "" && azureIssuerAllowed(p.Issuer, azureExpectedIssuer(azure.URL))):
		detected, err := unverifiedIssuer(p.IDToken)
		if err != nil {
			return "", nil, ExternalProvider{}, badRequest(CodeValidationFailed, "Unable to detect issuer in ID token for Azure provider").withCause(err)
		}
		if !azureIssuerAllowed(detected, azureExpectedIssuer(azure.URL)) {
			return "", nil, ExternalProvider{}, badRequest(CodeValidationFailed, "Detected ID token issuer is not an Azure ID token issuer")
		}
		if p.Issuer != "" && p.Issuer != detected {
			return "", nil, ExternalProvider{}, badRequest(CodeValidationFailed, "Provided issuer does not match ID token issuer")
		}
		name, issuer = "azure", detected
	case p.Provider == "keycloak" || (kc.Enabled && kc.URL != "" && p.Issuer == kc.URL):
		name, issuer = "keycloak", kc.URL
	default:
		return "", nil, ExternalProvider{}, badRequest(CodeValidationFailed, "Custom OIDC provider %q not allowed", p.Provider)
	}
	cfg, ok := st.enabledProvider(name)
	if !ok {
		return "", nil, ExternalProvider{}, badRequest(CodeProviderDisabled, "Provider (issuer %q) is not enabled", issuer)
	}
	op, err := s.oidcProvider(st, issuer)
	if err != nil {
		return "", nil, ExternalProvider{}, internalError(err, "Unexpected failure, please check server logs for more information")
	}
	return name, op, cfg, nil
}

// parseIDTokenClaims maps a verified ID token to the provider's user.
func parseIDTokenClaims(name string, idt *oidc.IDToken) (*providerUser, error) {
	switch name {
	case "google":
		return parseGoogleClaims(idt)
	case "azure":
		return parseAzureClaims(idt)
	default:
		return parseGenericClaims(idt)
	}
}
