package authserver

import (
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"
)

// samlPKCEGrant is POST /token?grant_type=pkce: it exchanges the auth code
// of a finished PKCE sign-in (the flow state the ACS gave a user) and its
// code verifier for a session, once, within five minutes of the sign-in's
// start, as GoTrue's PKCE grant does. It reads auth.flow_state whatever
// made the row, so other PKCE flows can share it.
func (s *Server) samlPKCEGrant(w http.ResponseWriter, r *http.Request) error {
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
	now := s.now()
	notFoundErr := notFound(CodeFlowStateNotFound, "invalid flow state, no valid flow state found")
	var resp *tokenResponse
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		f, err := scanSAMLFlowState(tx.QueryRow(ctx, sqlSAMLFlowStateByAuthCode+` for update`, p.AuthCode))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFoundErr
		}
		if err != nil {
			return internalError(err, "Database error finding flow state")
		}
		if f.UserID == "" {
			return notFoundErr
		}
		if now.After(f.CreatedAt.Add(samlFlowStateExpiry)) {
			return unprocessable(CodeFlowStateExpired, "invalid flow state, flow state has expired")
		}
		u, err := s.userByID(ctx, tx, f.UserID)
		if err != nil {
			return internalError(err, "Database error finding user")
		}
		if err := f.verify(p.CodeVerifier); err != nil {
			return badRequest(CodeBadCodeVerifier, "%s", err.Error())
		}
		if u.isBanned(now) {
			return badRequest(CodeUserBanned, "User is banned")
		}
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditFor(u, actionLogin, map[string]any{"provider_type": f.ProviderType}), now); err != nil {
			return err
		}
		b.Queue(sqlDeleteSAMLFlowState, f.ID)
		resp, err = s.issueSession(ctx, tx, b, r, u, f.AuthMethod, now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
