package tenant

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// KeyLifetime is how long generated legacy anon and service keys stay
// valid, as the Supabase self-hosting guide generates them (years).
const KeyLifetime = 10 * 365 * 24 * time.Hour

// APIKeyClaims are the claims of the legacy anon and service_role keys.
type APIKeyClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// SignAPIKey returns a legacy HS256 API key for role ("anon" or "service_role"):
// {"role":…,"iss":"supabase","iat":…,"exp":…}, as the official generator
// writes them. The key is itself a JWT, so the gateway can pass it on as
// the Authorization bearer token.
func SignAPIKey(secret []byte, role string, now time.Time, lifetime time.Duration) (string, error) {
	if len(secret) < 32 {
		return "", errors.New("sign API key: the JWT secret must be at least 32 bytes")
	}
	claims := APIKeyClaims{
		Role: role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "supabase",
			IssuedAt:  jwt.NewNumericDate(now.Truncate(time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime).Truncate(time.Second)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign API key: %w", err)
	}
	return s, nil
}

// ParseAPIKey verifies an API key with secret and returns its role.
func ParseAPIKey(secret []byte, key string) (string, error) {
	var claims APIKeyClaims
	_, err := jwt.ParseWithClaims(key, &claims, func(t *jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return "", fmt.Errorf("parse API key: %w", err)
	}
	return claims.Role, nil
}

// randomToken returns n random bytes, URL-safe base64 encoded (no padding).
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomPassword returns a password of letters and digits only, safe in URLs,
// .env files and connection strings without quoting.
func randomPassword(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// decodeSegment decodes the header segment of a JWT into v.
func decodeSegment(tok string, v any) error {
	seg, _, ok := strings.Cut(tok, ".")
	if !ok {
		return errors.New("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
