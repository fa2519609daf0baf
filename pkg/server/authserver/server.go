// Package auth is the embedded runtime's GoTrue-compatible auth server:
// email and password sign-up and sign-in, refresh-token rotation with
// GoTrue's reuse rules, the user endpoints, logout and the admin user API,
// and SAML 2.0 single sign-on (sso.go, saml_*.go, admin_sso*.go).
//
// It stores everything where GoTrue (Supabase Auth v2.19x) stores it — the
// auth schema's users, identities, sessions, refresh_tokens, mfa_amr_claims
// and audit_log_entries, written the way GoTrue writes them — so a tenant can
// move to the real GoTrue without migrating data, and it answers with
// GoTrue's JSON, status codes and error codes so the official clients
// (auth-js, gotrue-go) cannot tell the difference. The gateway strips
// /auth/v1 before requests reach ServeHTTP.
//
// MFA is TOTP factors (enroll, challenge, verify, unenroll; aal2 sessions);
// SAML 2.0 single sign-on is /sso and /sso/saml/* (sso*.go, saml*.go);
// OAuth providers (github, gitlab, azure, google, keycloak) sign users in
// through GoTrue's flows (external*.go, identities*.go, oauth_token.go).
//
// Not provided: phone sign-in and anything that sends mail or SMS; those
// routes answer as GoTrue does when the feature is disabled (see
// docs/auth.md).
package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/server/postgres"
)

// Version is what GET /health reports: the GoTrue release whose behaviour
// this server follows, marked as sfp's.
const Version = "v2.196.0-sfp"

// Server is the auth HTTP server. It is safe for concurrent use.
type Server struct {
	cfg           Config
	pool          *pgxpool.Pool
	log           *slog.Logger
	tokenLimiter  *ipLimiter
	signupLimiter *ipLimiter
	// challengeLimiter and verifyLimiter limit MFA challenges and
	// verifications per client IP, each on its own, as GoTrue does.
	challengeLimiter *ipLimiter
	verifyLimiter    *ipLimiter
	// ssoLimiter and assertionLimiter limit POST /sso and the SAML ACS;
	// samlReplay remembers accepted assertions.
	ssoLimiter       *ipLimiter
	assertionLimiter *ipLimiter
	samlReplay       *samlReplayCache
	// unavailableLog keeps an outage of the database (every request
	// answered 503) to a line a second in the log.
	unavailableLog postgres.LogLimiter
	// external is the provider configuration (SetExternal swaps it).
	external atomic.Pointer[externalState]
	oidc     oidcCache
	// routes are the handlers of the exact paths, by method (routeTable).
	routes map[string]map[string]handler
	// grants are the handlers of POST /token by grant_type (grantTable).
	grants map[string]handler
}

// New validates cfg, checks that the pool reaches the auth tables and
// returns a server. It does not take ownership of the pool.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		pool:          cfg.Pool,
		log:           cfg.Logger.With("component", "auth"),
		tokenLimiter:  newIPLimiter(cfg.RateLimitTokenPerIP),
		signupLimiter: newIPLimiter(cfg.RateLimitSignupPerIP),

		challengeLimiter: newIPLimiter(cfg.MFA.RateLimitPerIP),
		verifyLimiter:    newIPLimiter(cfg.MFA.RateLimitPerIP),
	}
	if err := s.SetExternal(cfg.External); err != nil {
		return nil, err
	}
	s.ssoLimiter = newIPLimiter(cfg.SAML.RateLimitSSOPerIP)
	s.assertionLimiter = newIPLimiter(cfg.SAML.RateLimitAssertionPerIP)
	s.samlReplay = newSAMLReplayCache(s.now)
	s.routes, s.grants = s.routeTable(), s.grantTable()
	// The columns the server writes must exist and be writable; a pool on
	// the wrong role or database fails here rather than on the first signup.
	const probe = `select 1 from auth.users, auth.identities, auth.sessions, auth.refresh_tokens,
		auth.mfa_amr_claims, auth.mfa_factors, auth.mfa_challenges, auth.audit_log_entries,
		auth.flow_state limit 0`
	if _, err := s.pool.Exec(ctx, probe); err != nil {
		return nil, fmt.Errorf("check auth schema (the pool must reach the auth tables as supabase_auth_admin): %w", err)
	}
	if cfg.SAML.Enabled {
		const ssoProbe = `select 1 from auth.sso_providers, auth.sso_domains, auth.saml_providers,
			auth.saml_relay_states, auth.flow_state limit 0`
		if _, err := s.pool.Exec(ctx, ssoProbe); err != nil {
			return nil, fmt.Errorf("check auth schema for SAML (auth.sso_providers and friends must exist): %w", err)
		}
	}
	return s, nil
}

// Close releases the server's resources. The pool stays open: it belongs to
// the caller. Requests still running finish normally.
func (s *Server) Close() error { return nil }

// now is the server clock, in UTC at PostgreSQL's microsecond precision so
// that values in responses equal the stored ones.
func (s *Server) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

type handler func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP routes a request whose path has had /auth/v1 stripped.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.writeError(w, r, internalError(fmt.Errorf("panic: %v", v), "Internal Server Error"))
		}
	}()
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	h, allowed := s.route(path)
	if h == nil && allowed == nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if h == nil {
		if hh, ok := allowed[r.Method]; ok {
			h = hh
		} else {
			methods := make([]string, 0, len(allowed))
			for m := range allowed {
				methods = append(methods, m)
			}
			slices.Sort(methods)
			w.Header().Set("Allow", strings.Join(methods, ", "))
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
	}
	if err := h(w, r); err != nil {
		s.errorEvent(err)
		s.writeError(w, r, err)
	}
}

// route returns either a handler for any method or the handlers by method.
func (s *Server) route(path string) (handler, map[string]handler) {
	if byMethod, ok := s.routes[path]; ok {
		return nil, byMethod
	}
	if path == "/user" {
		// GoTrue authenticates before routing by method (DELETE /user
		// with the anon key is 403 bad_jwt, not 405).
		return s.handleUser, nil
	}
	switch {
	case path == "/sso" || strings.HasPrefix(path, "/sso/"):
		// GoTrue checks that SAML is enabled before routing within /sso.
		return s.routeSSO(path)
	case strings.HasPrefix(path, "/user/identities/"):
		return s.routeIdentities, nil
	case path == "/factors" || strings.HasPrefix(path, "/factors/"):
		return s.handleFactors, nil
	case path == "/admin" || strings.HasPrefix(path, "/admin/"):
		// GoTrue checks admin credentials before routing within /admin.
		return s.handleAdmin, nil
	}
	return nil, nil
}

// routeTable is GoTrue's router for the paths it matches exactly: the
// handlers of each path by method (any other method is a 405 naming them).
func (s *Server) routeTable() map[string]map[string]handler {
	get, post := http.MethodGet, http.MethodPost
	routes := map[string]map[string]handler{
		"/health":                {get: s.handleHealth},
		"/.well-known/jwks.json": {get: s.handleJWKS},
		"/settings":              {get: s.handleSettings},
		"/authorize":             {get: s.handleAuthorize},
		"/callback":              {get: s.handleCallback, post: s.handleCallback},
		"/signup":                {post: s.handleSignup},
		"/token":                 {post: s.handleToken},
		"/verify":                {get: s.handleVerify, post: s.handleVerify},
		"/logout":                {post: s.handleLogout},
		"/reauthenticate":        {get: s.mailDisabled},
	}
	for _, p := range []string{"/recover", "/magiclink", "/otp", "/resend", "/invite"} {
		routes[p] = map[string]handler{post: s.mailDisabled}
	}
	return routes
}

// requestID is the gateway's request id, or a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 200 {
		return id
	}
	return newUUID()
}

// readJSON decodes the request body into v with GoTrue's errors: 413 for a
// body over the limit, 400 bad_json for anything that is not the expected
// JSON (an empty body included).
func readJSON(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest(CodeBadJSON, "Could not parse request body as JSON: %v", err)
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge,
				"Request body too large (max %d bytes)", tooBig.Limit)
		}
		return nil, internalError(err, "Could not read body into byte slice")
	}
	return body, nil
}

// requestAud is the audience a request works in: the X-JWT-AUD header, else
// the aud of a non-admin token, else the default.
func requestAud(r *http.Request, c *Claims) string {
	if aud := r.Header.Get("X-JWT-AUD"); aud != "" {
		return aud
	}
	if c != nil && !slices.Contains(adminRoles, c.Role) && len(c.Audience) > 0 && c.Audience[0] != "" {
		return c.Audience[0]
	}
	return Audience
}

// authContext is the caller of an authenticated request.
type authContext struct {
	claims *Claims
	user   *User
	// sessionID is the token's session, checked to exist; "" for tokens
	// without one.
	sessionID string
}

// bearerClaims verifies the request's Bearer token and returns its claims.
func (s *Server) bearerClaims(r *http.Request) (*Claims, error) {
	token, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	return s.parseToken(token)
}

// authenticate checks the Bearer token and loads its user and session, as
// GoTrue's requireAuthentication does.
func (s *Server) authenticate(r *http.Request) (*authContext, error) {
	claims, err := s.bearerClaims(r)
	if err != nil {
		return nil, err
	}
	ac, err := s.loadUserAndSession(r.Context(), claims)
	if err != nil {
		return nil, err
	}
	if ac.user.isBanned(s.now()) {
		return nil, forbidden(CodeUserBanned, "User is banned")
	}
	return ac, nil
}

func (s *Server) loadUserAndSession(ctx context.Context, claims *Claims) (*authContext, error) {
	if claims.Subject == "" {
		return nil, forbidden(CodeBadJWT, "invalid claim: missing sub claim")
	}
	if !isUUID(claims.Subject) {
		return nil, badRequest(CodeBadJWT, "invalid claim: sub claim must be a UUID")
	}
	u, err := s.userByID(ctx, s.pool, claims.Subject)
	if errors.Is(err, errNotFound) {
		return nil, forbidden(CodeUserNotFound, "User from sub claim in JWT does not exist")
	}
	if err != nil {
		return nil, internalError(err, "Database error finding user")
	}
	ac := &authContext{claims: claims, user: u}
	if claims.SessionID != "" && claims.SessionID != nilInstance {
		if !isUUID(claims.SessionID) {
			return nil, forbidden(CodeBadJWT, "invalid claim: session_id claim must be a UUID")
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, sqlSessionExists, claims.SessionID).Scan(&exists); err != nil {
			return nil, internalError(err, "Database error finding session")
		}
		if !exists {
			return nil, forbidden(CodeSessionNotFound, "Session from session_id claim in JWT does not exist")
		}
		ac.sessionID = claims.SessionID
	}
	return ac, nil
}

// requireAdmin checks that the Bearer token has an admin role
// (service_role or supabase_admin) and returns its claims.
func (s *Server) requireAdmin(r *http.Request) (*Claims, error) {
	claims, err := s.bearerClaims(r)
	if err != nil {
		return nil, err
	}
	// A token of a real session must still have its session (a JWT stays
	// valid past logout otherwise); service keys have none.
	if claims.SessionID != "" && claims.SessionID != nilInstance {
		if _, err := s.loadUserAndSession(r.Context(), claims); err != nil {
			return nil, err
		}
	}
	if !slices.Contains(adminRoles, claims.Role) {
		return nil, forbidden(CodeNotAdmin, "User not allowed")
	}
	return claims, nil
}

// commitThen makes inTx commit the transaction and then return err: GoTrue
// keeps the revocations it made before refusing a reused refresh token.
type commitThen struct{ err error }

func (c commitThen) Error() string { return c.err.Error() }

// inTx runs fn in a transaction on the pool.
func (s *Server) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return internalError(err, "Database error starting transaction")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	err = fn(tx)
	var ct commitThen
	if err != nil && !errors.As(err, &ct) {
		return err
	}
	if cerr := tx.Commit(ctx); cerr != nil {
		return internalError(cerr, "Database error committing transaction")
	}
	if err != nil {
		return ct.err
	}
	return nil
}

// tooManyRequests is the answer to a request over its per-IP rate limit.
func tooManyRequests() *Error {
	return newError(http.StatusTooManyRequests, CodeOverRequestRateLimit, "Request rate limit reached")
}
