package authserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
}

// accessTokenPayload is what the server signs, in GoTrue's claim order.
type accessTokenPayload struct {
	Issuer       string         `json:"iss,omitempty"`
	Subject      string         `json:"sub"`
	Audience     string         `json:"aud"`
	ExpiresAt    int64          `json:"exp"`
	IssuedAt     int64          `json:"iat"`
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

// Claims are the verified claims of a presented access token.
type Claims struct {
	jwt.RegisteredClaims
	Email        string         `json:"email"`
	Phone        string         `json:"phone"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	Role         string         `json:"role"`
	AAL          string         `json:"aal,omitempty"`
	SessionID    string         `json:"session_id,omitempty"`
	IsAnonymous  bool           `json:"is_anonymous"`
}

// jwtHeader is the fixed header of every token: HS256 without a key id, as
// GoTrue signs with a bare JWT secret.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// sign encodes and signs the payload. The token is assembled here rather
// than with jwt.NewWithClaims so that "aud" is a plain string (GoTrue turns
// off golang-jwt's array form globally; this package must not touch that
// global, which other packages share).
func (s *Server) sign(p *accessTokenPayload) (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode access token claims: %w", err)
	}
	unsigned := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(raw)
	mac := hmac.New(sha256.New, s.cfg.JWTSecret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// issueAccessToken signs an access token for user in session, valid for the
// configured lifetime from now.
func (s *Server) issueAccessToken(u *User, sessionID string, amr []AMREntry, now time.Time) (token string, expiresAt int64, err error) {
	expiresAt = now.Add(s.cfg.JWTExpiry).Unix()
	token, err = s.sign(&accessTokenPayload{
		Issuer:       s.cfg.Issuer,
		Subject:      u.ID,
		Audience:     u.Aud,
		ExpiresAt:    expiresAt,
		IssuedAt:     now.Unix(),
		Email:        u.Email,
		Phone:        u.Phone,
		AppMetadata:  nonNilMap(u.AppMetadata),
		UserMetadata: nonNilMap(u.UserMetadata),
		Role:         u.Role,
		AAL:          "aal1",
		AMR:          amr,
		SessionID:    sessionID,
		IsAnonymous:  u.IsAnonymous,
	})
	return token, expiresAt, err
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

// parseToken verifies an HS256 token against the JWT secret and the clock
// (no leeway, as GoTrue) and returns its claims.
func (s *Server) parseToken(token string) (*Claims, error) {
	claims := &Claims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithTimeFunc(s.now))
	_, err := p.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil })
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
