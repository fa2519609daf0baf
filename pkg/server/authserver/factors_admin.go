package authserver

import (
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// adminFactors serves /admin/users/{id}/factors[/{factor_id}]: list a
// user's factors, rename one (PUT) or delete one (DELETE), as GoTrue's
// admin API does. rest is what follows "factors" in the path.
func (s *Server) adminFactors(w http.ResponseWriter, r *http.Request, claims *Claims, u *User, rest []string) error {
	if len(rest) == 0 {
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, "GET")
		}
		factors := u.Factors
		if factors == nil {
			factors = []Factor{}
		}
		writeJSON(w, http.StatusOK, factors)
		return nil
	}
	f, err := s.loadOwnFactor(r.Context(), u.ID, rest[0])
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now()
	switch r.Method {
	case http.MethodDelete:
		// GoTrue records the deletion as the user's action.
		audit := auditFor(u, actionDeleteFactor, map[string]any{"user_id": u.ID, "factor_id": f.ID})
		if err := s.removeFactor(ctx, f, audit, now); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, f)
		return nil
	case http.MethodPut:
		var p struct {
			FriendlyName string `json:"friendly_name"`
			Phone        string `json:"phone"`
		}
		if err := readJSON(r, &p); err != nil {
			return err
		}
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			if p.FriendlyName != "" {
				b.Queue(sqlRenameFactor, f.ID, p.FriendlyName, now)
				f.FriendlyName, f.UpdatedAt = p.FriendlyName, now
			}
			traits := map[string]any{"user_id": u.ID, "factor_id": f.ID, "factor_type": f.FactorType}
			if err := s.queueAudit(b, auditForAdmin(claims.Role, actionUpdateFactor, traits), now); err != nil {
				return err
			}
			if err := sendBatch(ctx, tx, b); err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.ConstraintName == "mfa_factors_user_friendly_name_unique" {
					return unprocessable(CodeMFAFactorNameConflict, "A factor with the friendly name %q for this user already exists", p.FriendlyName)
				}
				return internalError(err, "Database error updating factor")
			}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, f)
		return nil
	}
	return methodNotAllowed(w, "DELETE, PUT")
}
