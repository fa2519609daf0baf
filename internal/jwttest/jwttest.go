// Package jwttest mints the HS256 tokens tests present to the servers: API
// keys and users' access tokens, shaped as the tenant setup (pkg/tenant)
// and the auth server shape them. One helper for every package's tests, so
// a change of the token model is made once.
package jwttest

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Sign signs claims with secret (HS256). It panics on error: tests pass
// claims that always encode.
func Sign(secret []byte, claims map[string]any) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(secret)
	if err != nil {
		panic("jwttest: " + err.Error())
	}
	return s
}

// Key is an API key of role (anon, service_role) valid for ttl, as sfp
// issues them.
func Key(secret []byte, role string, ttl time.Duration) string {
	now := time.Now()
	return Sign(secret, map[string]any{"role": role, "iss": "supabase", "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
}

// User is an access token of the user uid valid for ttl, with the claims
// the auth server puts in one (role authenticated, aud, email, session_id,
// aal).
func User(secret []byte, uid string, ttl time.Duration) string {
	now := time.Now()
	return Sign(secret, map[string]any{
		"sub": uid, "role": "authenticated", "aud": "authenticated", "aal": "aal1",
		"email": uid + "@example.test", "session_id": NewID(),
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	})
}

// NewID is a random UUID (version 4), for the ids tests make up.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
