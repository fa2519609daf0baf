package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"
)

// completeCallback exchanges the provider's code, signs the user in (or
// links the identity) and returns where the browser goes next.
func (s *Server) completeCallback(w http.ResponseWriter, r *http.Request, st *externalState, f *flowState, target string) (string, error) {
	ctx := r.Context()
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			form = r.Form
		}
	}
	if e := form.Get("error"); e != "" {
		return "", &oauthError{Err: e, Description: form.Get("error_description")}
	}
	code := form.Get("code")
	if code == "" {
		return "", badRequest(CodeBadOAuthCallback, "OAuth callback with missing authorization code missing")
	}
	p, ok := st.enabledProvider(f.ProviderType)
	if !ok {
		return "", badRequest(CodeOAuthProviderNotSupported, "Unsupported provider: provider is not enabled")
	}
	prov, err := s.newOAuthProvider(st, f.ProviderType, p, "")
	if err != nil {
		return "", badRequest(CodeOAuthProviderNotSupported, "Unsupported provider: %v", err).withCause(err)
	}
	tok, err := prov.config().Exchange(context.WithValue(ctx, oauth2.HTTPClient, st.HTTPClient), code)
	if err != nil {
		return "", internalError(err, "Unable to exchange external code: %s", code[:min(4, len(code))])
	}
	data, err := prov.userData(ctx, tok)
	if err != nil {
		return "", internalError(err, "Error getting user profile from external provider")
	}
	if len(data.Emails) == 0 {
		return "", internalError(nil, "Error getting user email from external provider")
	}
	data.primaryEmail()

	now := s.now()
	var resp *tokenResponse
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		u, err := s.externalUser(ctx, tx, b, r, f.LinkingTargetID, data, f.ProviderType, now)
		if err != nil {
			return err
		}
		if !f.isPKCE() {
			resp, err = s.issueSession(ctx, tx, b, r, u, "oauth", now)
			if err != nil {
				return &oauthError{Err: "server_error", Description: err.Error(), cause: err}
			}
			if _, err := tx.Exec(ctx, sqlDeleteFlowState, f.ID); err != nil {
				return &oauthError{Err: "server_error", Description: "Error deleting flow state", cause: err}
			}
			return nil
		}
		locked, err := scanFlowState(tx.QueryRow(ctx, sqlLockFlowState, f.ID))
		if errors.Is(err, errNotFound) {
			return &oauthError{Err: "server_error", Description: "Flow State not found"}
		}
		if err != nil {
			return internalError(err, "Error loading flow state")
		}
		if locked.UserID != "" {
			return badRequest(CodeFlowStateAlreadyUsed, "State has already been used")
		}
		b.Queue(sqlFlowStateAuthorized, f.ID, u.ID, tok.AccessToken, tok.RefreshToken, now)
		if err := sendBatch(ctx, tx, b); err != nil {
			return &oauthError{Err: "server_error", Description: "Error saving flow state", cause: err}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	dest, err := url.Parse(target)
	if err != nil {
		return "", internalError(err, "redirect url is improperly formatted")
	}
	if f.isPKCE() {
		q := dest.Query()
		q.Set("code", f.AuthCode)
		dest.RawQuery = q.Encode()
		return dest.String(), nil
	}
	frag := url.Values{}
	frag.Set("provider_token", tok.AccessToken)
	if tok.RefreshToken != "" {
		frag.Set("provider_refresh_token", tok.RefreshToken)
	}
	return implicitRedirect(target, resp, frag), nil
}
