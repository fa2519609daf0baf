package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AMREntry is one authentication method of a session, as in the "amr" claim.
type AMREntry struct {
	Method    string `json:"method"`
	Timestamp int64  `json:"timestamp"`
	// Provider is the SSO provider's id on an sso/saml entry.
	Provider string `json:"provider,omitempty"`
}

// accessTokenPayload is what the server signs, in GoTrue's claim order.
type accessTokenPayload struct {
	Issuer    string `json:"iss,omitempty"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	sessionClaims
}

// Claims are the verified claims of a presented access token.
type Claims struct {
	jwt.RegisteredClaims
	sessionClaims
}

// sessionClaims are GoTrue's own claims, after the registered ones: who
// the token speaks for and in which session. One type serves the token
// the server signs and the token a client presents, so that what is
// issued is what is read back.
type sessionClaims struct {
	Email        string         `json:"email"`
	Phone        string         `json:"phone"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	Role         string         `json:"role"`
	AAL          string         `json:"aal,omitempty"`
	AMR          []AMREntry     `json:"amr,omitempty"`
	SessionID    string         `json:"session_id,omitempty"`
	IsAnonymous  bool           `json:"is_anonymous"`
}

// sign encodes and signs the payload with the tenant's signing key (ES256,
// its kid in the header), or the legacy secret (HS256, no kid) when it has
// none, as GoTrue signs with GOTRUE_JWT_KEYS or a bare JWT secret. The
// payload is encoded here rather than with jwt.NewWithClaims so that "aud"
// is a plain string (GoTrue turns off golang-jwt's array form globally;
// this package must not touch that global, which other packages share).
func (s *Server) sign(p *accessTokenPayload) (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode access token claims: %w", err)
	}
	return s.cfg.Keys.Load().Sign(raw)
}

// issueTokens signs an access token for user in session, valid for the
// configured lifetime from now, and pairs it with the session's refresh
// token: the answer of every grant. Its aal follows from the session's
// methods (aal2 once a factor was verified in it), as GoTrue computes it.
func (s *Server) issueTokens(u *User, sessionID, refresh string, amr []AMREntry, now time.Time) (*tokenResponse, error) {
	expiresAt := now.Add(s.cfg.JWTExpiry).Unix()
	access, err := s.sign(&accessTokenPayload{
		Issuer:    s.cfg.Issuer,
		Subject:   u.ID,
		Audience:  u.Aud,
		ExpiresAt: expiresAt,
		IssuedAt:  now.Unix(),
		sessionClaims: sessionClaims{
			Email:        u.Email,
			Phone:        u.Phone,
			AppMetadata:  nonNilMap(u.AppMetadata),
			UserMetadata: nonNilMap(u.UserMetadata),
			Role:         u.Role,
			AAL:          aalOf(amr),
			AMR:          withSSOProvider(amr, u),
			SessionID:    sessionID,
			IsAnonymous:  u.IsAnonymous,
		},
	})
	if err != nil {
		return nil, internalError(err, "error generating jwt token")
	}
	return &tokenResponse{
		AccessToken:  access,
		TokenType:    "bearer",
		ExpiresIn:    int(expiresAt - now.Unix()),
		ExpiresAt:    expiresAt,
		RefreshToken: refresh,
		User:         u,
		sessionID:    sessionID,
	}, nil
}

var bearerPattern = regexp.MustCompile(`(?i)^bearer (\S+$)`)

// bearerToken extracts the token from "Authorization: Bearer …".
func bearerToken(r *http.Request) (string, error) {
	m := bearerPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	if len(m) != 2 {
		return "", newError(http.StatusUnauthorized, CodeNoAuthorization, "This endpoint requires a valid Bearer token")
	}
	return m[1], nil
}

// parseToken verifies a token and the clock (no leeway, as GoTrue) and
// returns its claims. The algorithms allowed are those of the tenant's keys
// (ES256, and HS256 only while legacy tokens are accepted: GoTrue's
// GOTRUE_JWT_VALID_METHODS default); the key is found by GoTrue's rule
// (jwtkeys.Set.Lookup), so a token of a standby or previous key verifies.
func (s *Server) parseToken(token string) (*Claims, error) {
	claims := &Claims{}
	set := s.cfg.Keys.Load()
	p := jwt.NewParser(jwt.WithValidMethods(set.Algorithms()), jwt.WithTimeFunc(s.now))
	_, err := p.ParseWithClaims(token, claims, set.Keyfunc)
	if err != nil {
		return nil, forbidden(CodeBadJWT, "invalid JWT: unable to parse or verify signature, %v", err).withCause(err)
	}
	return claims, nil
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
