package authserver

// The OAuth sign-in flow, as GoTrue v2.196 runs it: /authorize records a
// flow state and sends the browser to the provider with the flow state's
// id as the state parameter; the provider sends it back to /callback with
// a code, which is exchanged for the provider's tokens and user; the user
// is found, linked or created, and the browser goes back to the app with
// either a session in the URL fragment (implicit flow) or a one-time code
// (PKCE flow, exchanged at /token?grant_type=pkce).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// reservedOAuthParams are the authorization request parameters the server
// sets itself; a client cannot pass them through /authorize.
var reservedOAuthParams = []string{"client_id", "client_secret", "redirect_uri", "response_type", "state",
	"code_challenge", "code_challenge_method", "code_verifier"}

// PKCE code challenge rules (RFC 7636 §4.2), as GoTrue checks them for the
// OAuth (/authorize) and SSO (/sso) flows alike.
const (
	minCodeChallengeLength = 43
	maxCodeChallengeLength = 128
)

var codeChallengePattern = regexp.MustCompile(`^[a-zA-Z._~0-9-]+$`)

// validatePKCEParams checks the code challenge of a PKCE flow (RFC 7636).
func validatePKCEParams(method, challenge string) error {
	switch {
	case (challenge == "") != (method == ""):
		return badRequest(CodeValidationFailed, "PKCE flow requires code_challenge_method and code_challenge")
	case challenge == "":
		return nil
	case len(challenge) < minCodeChallengeLength || len(challenge) > maxCodeChallengeLength:
		return badRequest(CodeValidationFailed, "code challenge has to be between %d and %d characters", minCodeChallengeLength, maxCodeChallengeLength)
	case !codeChallengePattern.MatchString(challenge):
		return badRequest(CodeValidationFailed, "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes")
	}
	return nil
}

// providerFor returns the enabled provider name (any case), with GoTrue's
// 400 for a provider that is unknown, not enabled or not reachable.
func (s *Server) providerFor(st *externalState, name, scopes string) (oauthProvider, string, error) {
	name = strings.ToLower(name)
	unsupported := func(reason string) *Error {
		return badRequest(CodeValidationFailed, "Unsupported provider: %s", reason)
	}
	switch {
	case strings.HasPrefix(name, "custom:"):
		return nil, "", unsupported(fmt.Sprintf("custom provider %s not found", strings.TrimPrefix(name, "custom:")))
	case !slices.Contains(oauthProviders, name):
		return nil, "", unsupported(fmt.Sprintf("Provider %s could not be found", name))
	}
	p, ok := st.enabledProvider(name)
	if !ok {
		return nil, "", unsupported("provider is not enabled")
	}
	prov, err := s.newOAuthProvider(st, name, p, scopes)
	if err != nil {
		return nil, "", unsupported(err.Error()).withCause(err)
	}
	return prov, name, nil
}

// handleAuthorize is GET /authorize?provider=…: 302 to the provider.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	target, err := s.authorizeURL(r, "")
	if err != nil {
		return err
	}
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// authorizeURL starts a flow and returns the provider's authorization URL.
// linkingTarget is the signed-in user of a manual linking flow, else "".
func (s *Server) authorizeURL(r *http.Request, linkingTarget string) (string, error) {
	st := s.external.Load()
	query := r.URL.Query()
	prov, name, err := s.providerFor(st, query.Get("provider"), query.Get("scopes"))
	if err != nil {
		return "", err
	}
	if query.Get("invite_token") != "" {
		// The embedded runtime sends no invitations, so no user holds one.
		return "", notFound(CodeUserNotFound, "User identified by token not found")
	}
	referrer := s.referrer(st, r)
	challenge, method := query.Get("code_challenge"), query.Get("code_challenge_method")
	if err := validatePKCEParams(method, challenge); err != nil {
		return "", err
	}
	var opts []oauth2.AuthCodeOption
	for key := range query {
		lower := strings.ToLower(key)
		if key == "scopes" || key == "provider" || slices.Contains(reservedOAuthParams, lower) {
			continue
		}
		opts = append(opts, oauth2.SetAuthURLParam(key, query.Get(key)))
	}
	now := s.now()
	f := &flowState{
		ID: newUUID(), ProviderType: name, AuthenticationMethod: "oauth", Referrer: referrer,
		LinkingTargetID: linkingTarget, CreatedAt: now,
	}
	if challenge != "" {
		switch strings.ToLower(method) {
		case "s256", "plain":
			f.CodeChallengeMethod = strings.ToLower(method)
		default:
			return "", badRequest(CodeValidationFailed, "Invalid code_challenge_method")
		}
		f.CodeChallenge, f.AuthCode = challenge, newUUID()
	}
	if err := insertFlowState(r.Context(), s.pool, f); err != nil {
		return "", internalError(err, "Error creating flow state")
	}
	if _, err := s.pool.Exec(r.Context(), sqlCleanupFlowStates, now); err != nil {
		s.log.WarnContext(r.Context(), "clean up abandoned flow states", "error", err)
	}
	return prov.config().AuthCodeURL(f.ID, opts...), nil
}

// oauthError is an OAuth2 error (RFC 6749 §5.2) answered as GoTrue answers
// them: 400 {"error","error_description"}, or in a redirect's query.
type oauthError struct {
	Err         string `json:"error"`
	Description string `json:"error_description,omitempty"`
	cause       error
}

func (e *oauthError) Error() string { return e.Err + ": " + e.Description }
func (e *oauthError) Unwrap() error { return e.cause }

// oauthErrorNames name HTTP statuses in OAuth2 terms.
var oauthErrorNames = map[int]string{
	http.StatusBadRequest: "invalid_request", http.StatusUnauthorized: "unauthorized_client",
	http.StatusForbidden: "access_denied", http.StatusInternalServerError: "server_error",
	http.StatusServiceUnavailable: "temporarily_unavailable",
}

// errorQuery adds err to q as GoTrue's redirects carry errors.
func (s *Server) errorQuery(r *http.Request, err error, q url.Values) {
	var oe *oauthError
	var e *Error
	switch {
	case errors.As(err, &oe):
		q.Set("error", oe.Err)
		q.Set("error_description", oe.Description)
		s.log.InfoContext(r.Context(), "oauth flow refused", "error", oe.Err, "description", oe.Description, "cause", oe.cause)
		return
	case errors.As(err, &e):
	default:
		e = internalError(err, "Unexpected failure, please check server logs for more information")
	}
	name, ok := oauthErrorNames[e.Status]
	switch {
	case e.Code == CodeSignupDisabled || e.Code == CodeUserBanned || e.Code == CodeProviderEmailNeedsVerification:
		name = "access_denied"
	case !ok:
		name = "server_error"
	}
	if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "oauth flow failed", "code", e.Code, "message", e.Message, "error", e.cause)
	} else {
		s.log.InfoContext(r.Context(), "oauth flow refused", "code", e.Code, "message", e.Message, "error", e.cause)
	}
	q.Set("error", name)
	q.Set("error_description", e.Message)
	q.Set("error_code", e.Code)
}

// handleCallback is GET|POST /callback, where the provider sends the
// browser back. Every outcome is a redirect: errors before the flow state
// is known go to the site URL (303, in the query), later ones to the
// flow's redirect target (302, in the query and the fragment).
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) error {
	st := s.external.Load()
	f, err := s.loadCallbackState(r, st)
	if err != nil {
		u, perr := url.Parse(s.cfg.SiteURL)
		if perr != nil || s.cfg.SiteURL == "" {
			return internalError(perr, "site url is improperly formatted")
		}
		q := u.Query()
		s.errorQuery(r, err, q)
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return nil
	}
	target := firstNonEmpty(f.Referrer, s.cfg.SiteURL)
	dest, err := s.completeCallback(w, r, st, f, target)
	if err != nil {
		u, perr := url.Parse(target)
		if perr != nil {
			return internalError(perr, "redirect url is improperly formatted")
		}
		q := u.Query()
		s.errorQuery(r, err, q)
		u.RawQuery = q.Encode()
		frag := url.Values{}
		for _, k := range []string{"error", "error_description", "error_code"} {
			if v := q.Get(k); v != "" {
				frag.Set(k, v)
			}
		}
		frag.Set("sb", "")
		u.Fragment = ""
		http.Redirect(w, r, u.String()+"#"+frag.Encode(), http.StatusFound)
		return nil
	}
	http.Redirect(w, r, dest, http.StatusFound)
	return nil
}

// loadCallbackState finds the flow state the callback's state names.
func (s *Server) loadCallbackState(r *http.Request, st *externalState) (*flowState, error) {
	state := r.URL.Query().Get("state")
	if r.Method == http.MethodPost {
		state = r.FormValue("state")
	}
	if state == "" {
		return nil, badRequest(CodeBadOAuthCallback, "OAuth state parameter missing")
	}
	if !isUUID(state) {
		return nil, badRequest(CodeBadOAuthState, "OAuth state parameter is invalid")
	}
	f, err := scanFlowState(s.pool.QueryRow(r.Context(), sqlFlowStateByID, state))
	if errors.Is(err, errNotFound) {
		return nil, badRequest(CodeBadOAuthState, "OAuth state not found or expired")
	}
	if err != nil {
		return nil, internalError(err, "Error loading flow state")
	}
	if f.expired(s.now(), st.FlowStateExpiry) {
		return nil, badRequest(CodeBadOAuthState, "OAuth state has expired")
	}
	if f.isPKCE() && f.UserID != "" {
		return nil, badRequest(CodeFlowStateAlreadyUsed, "State has already been used")
	}
	if f.LinkingTargetID != "" {
		if _, err := s.userByID(r.Context(), s.pool, f.LinkingTargetID); errors.Is(err, errNotFound) {
			return nil, unprocessable(CodeUserNotFound, "Linking target user not found")
		} else if err != nil {
			return nil, internalError(err, "Database error loading user")
		}
	}
	return f, nil
}
