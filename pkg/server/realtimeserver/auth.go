package realtimeserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// tokenError is why a token was refused: Code is the official server's
// error code (the prefix of join error reasons), Msg its message.
type tokenError struct {
	Code string
	Msg  string
}

func (e *tokenError) Error() string { return e.Code + ": " + e.Msg }

var (
	errTokenMalformed = &tokenError{"MalformedJWT", "The token provided is not a valid JWT"}
	errTokenSignature = &tokenError{"JwtSignatureError", "Failed to validate JWT signature"}
	errTokenClaims    = &tokenError{"InvalidJWTToken", "Fields `role` and `exp` are required in JWT"}
)

func errTokenExpired(ago int64) *tokenError {
	return &tokenError{"InvalidJWTToken", fmt.Sprintf("Token has expired %d seconds ago", ago)}
}

// authState is a verified token and what Realtime derives from it: the role
// and claims visibility checks run under, and when the token expires.
type authState struct {
	token  string
	role   string
	claims []byte // the JWT payload, as request.jwt.claims
	exp    time.Time
	// group identifies subscribers whose visibility checks are identical:
	// same role, same claims.
	group string
}

// verifyToken checks a token against the tenant's keys and requires the
// `role` and `exp` claims, as the official server does. The key is found by
// the rule the embedded servers share (jwtkeys.Set.Lookup): the kid's key
// for an ES256 token — which must name one, as Realtime needs a kid to
// pick a JWK — else the legacy secret for an HMAC token, while the tenant
// accepts legacy tokens. A token no key fits is refused with Realtime's
// JwtSignerError.
func verifyToken(keys *jwtkeys.Set, token string, now time.Time) (*authState, error) {
	token = strings.Join(strings.Fields(token), "")
	parser := jwt.NewParser(jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// Realtime makes a signer for the HMAC algorithms and, from its
		// JWKS, ES256 (sfp's keys are EC P-256 only); for anything else,
		// "none" included, there is no signer.
		switch alg, _ := t.Header["alg"].(string); alg {
		case "HS256", "HS384", "HS512", jwtkeys.ES256:
			return keys.Keyfunc(t)
		default:
			kid, hasKID := t.Header["kid"].(string)
			return nil, &jwtkeys.UnknownKeyError{Alg: alg, KID: kid, HasKID: hasKID}
		}
	})
	var unknown *jwtkeys.UnknownKeyError
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, errTokenMalformed
	case errors.As(err, &unknown) && unknown.HasKID:
		return nil, &tokenError{"JwtSignerError", fmt.Sprintf("Failed to generate JWT signer for key ID (kid) %q, check your JWT secret or JWKS configuration", unknown.KID)}
	case errors.As(err, &unknown):
		return nil, &tokenError{"JwtSignerError", "Failed to generate JWT signer, check your JWT secret or JWKS configuration"}
	default:
		return nil, errTokenSignature
	}
	role, _ := claims["role"].(string)
	expRaw, hasExp := claims["exp"]
	exp, isNum := expRaw.(float64)
	if _, hasRole := claims["role"]; !hasRole || !hasExp {
		return nil, errTokenClaims
	}
	if !isNum {
		return nil, &tokenError{"InvalidJWTToken", "Token expiration time is invalid"}
	}
	expSec := int64(math.Round(exp))
	if expSec <= now.Unix() {
		return nil, errTokenExpired(now.Unix() - expSec)
	}
	if role == "" {
		return nil, errTokenClaims
	}
	// The payload exactly as signed: policies read it through
	// request.jwt.claims.
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || !json.Valid(payload) {
		return nil, errTokenMalformed
	}
	return &authState{
		token:  token,
		role:   role,
		claims: payload,
		exp:    time.Unix(expSec, 0),
		group:  role + "\x00" + string(payload),
	}, nil
}
