package rest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// authResult is what a request runs as.
type authResult struct {
	role   string
	claims []byte // JSON object of all claims with "role" set, for request.jwt.claims
	exp    int64  // 0 = no exp claim
	authed bool   // a JWT with a role other than the anon role
	keys   *jwtkeys.Set
}

// jwtSkew is PostgREST's allowed clock skew for exp, nbf and iat.
const jwtSkew = 30

func jwtError(code, msg string, details *string) *apiError {
	e := &apiError{Status: http.StatusUnauthorized, Code: code, Message: msg, Details: details}
	e.Header = http.Header{"WWW-Authenticate": {`Bearer error="invalid_token", error_description=` + strconv.Quote(msg)}}
	return e
}

func decodeErr(msg string, details ...string) *apiError {
	var d *string
	if len(details) > 0 {
		d = strp(details[0])
	}
	return jwtError(codeJWTDecode, msg, d)
}

func claimsErr(msg string) *apiError { return jwtError(codeJWTClaims, msg, nil) }

// jwtCache remembers verified tokens so that a client reusing its token
// (every request of a session) skips the signature check and the claims
// parsing. The expiry is re-checked on every hit, and an entry verified
// with another key set than the current one is verified again (a retired
// key's tokens must stop working; PostgREST resets its cache when its
// jwt-secret changes).
type jwtCache struct {
	mu sync.Mutex
	m  map[string]*authResult
}

const jwtCacheMax = 4096

func (c *jwtCache) get(tok string) *authResult {
	c.mu.Lock()
	r := c.m[tok]
	c.mu.Unlock()
	return r
}

func (c *jwtCache) put(tok string, r *authResult) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= jwtCacheMax {
		c.m = make(map[string]*authResult, 64)
	}
	c.m[tok] = r
	c.mu.Unlock()
}

// authenticate verifies the request's bearer token as PostgREST v13 does and
// returns the role and claims to run the request with.
func (s *Server) authenticate(r *http.Request, now time.Time) (*authResult, *apiError) {
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "bearer") || (len(h) > 6 && h[6] != ' ') {
		// No bearer token: anonymous.
		return s.anon, nil
	}
	tok := strings.TrimSpace(h[6:])
	if tok == "" {
		return nil, decodeErr("Empty JWT is sent in Authorization header")
	}
	keys := s.cfg.Keys.Load()
	if ar := s.jwts.get(tok); ar != nil && ar.keys == keys {
		if ar.exp != 0 && now.Unix() > ar.exp+jwtSkew {
			return nil, claimsErr("JWT expired")
		}
		return ar, nil
	}
	ar, err := s.verifyJWT(keys, tok, now)
	if err != nil {
		return nil, err
	}
	ar.keys = keys
	s.jwts.put(tok, ar)
	return ar, nil
}

func (s *Server) verifyJWT(keys *jwtkeys.Set, tok string, now time.Time) (*authResult, *apiError) {
	payload, aerr := verifySignature(keys, tok)
	if aerr != nil {
		return nil, aerr
	}
	return s.checkClaims(payload, now)
}

// noSuitableKey is PostgREST's answer when no key of its JWKS fits the
// token (jose-jwt's KeyError): an unknown kid, an ES256 token without one,
// an HMAC token when the set has no secret (legacy tokens off).
func noSuitableKey() *apiError {
	return decodeErr("No suitable key or wrong key type", "No suitable key was found to decode the JWT")
}

// badSignature is its answer when the key was found and the signature
// does not verify.
func badSignature() *apiError {
	return decodeErr("No suitable key or wrong key type", "None of the keys was able to decode the JWT")
}

// verifySignature checks the token's shape, algorithm and signature
// against keys, and returns its decoded payload. The key is chosen by the
// rule the embedded servers share (jwtkeys.Set.Lookup): the kid's key,
// else the legacy secret for an HMAC token.
func verifySignature(keys *jwtkeys.Set, tok string) ([]byte, *apiError) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, decodeErr("Expected 3 parts in JWT; got " + strconv.Itoa(len(parts)))
	}
	hdrRaw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return nil, decodeErr("JWT couldn't be decoded")
	}
	var hdr struct {
		Alg string  `json:"alg"`
		Typ string  `json:"typ"`
		KID *string `json:"kid"`
	}
	if json.Unmarshal(hdrRaw, &hdr) != nil {
		return nil, decodeErr("JWT couldn't be decoded")
	}
	var hf func() hash.Hash
	switch hdr.Alg {
	case "none":
		return nil, decodeErr("Wrong or unsupported encoding algorithm", "JWT is unsecured but expected 'alg' was not 'none'")
	case "HS256":
		hf = sha256.New
	case "HS384":
		hf = sha512.New384
	case "HS512":
		hf = sha512.New
	case jwtkeys.ES256:
	default:
		return nil, noSuitableKey()
	}
	kid := ""
	if hdr.KID != nil {
		kid = *hdr.KID
	}
	key, err := keys.Lookup(hdr.Alg, kid, hdr.KID != nil)
	if err != nil {
		return nil, noSuitableKey()
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return nil, decodeErr("JWT couldn't be decoded")
	}
	switch k := key.(type) {
	case []byte:
		if hf == nil {
			return nil, noSuitableKey()
		}
		mac := hmac.New(hf, k)
		mac.Write([]byte(parts[0]))
		mac.Write([]byte{'.'})
		mac.Write([]byte(parts[1]))
		if !hmac.Equal(mac.Sum(nil), sig) {
			return nil, badSignature()
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != jwtkeys.ES256 {
			return nil, noSuitableKey()
		}
		if jwt.SigningMethodES256.Verify(parts[0]+"."+parts[1], sig, k) != nil {
			return nil, badSignature()
		}
	default:
		return nil, noSuitableKey()
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, decodeErr("JWT couldn't be decoded")
	}
	return payload, nil
}

// checkClaims checks the time and audience claims as PostgREST does and
// returns the role and claims the request runs with.
func (s *Server) checkClaims(payload []byte, now time.Time) (*authResult, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, claimsErr("Parsing claims failed")
	}
	unix := now.Unix()
	num := func(k, msg string) (int64, bool, *apiError) {
		v, ok := claims[k]
		if !ok {
			return 0, false, nil
		}
		n, isNum := v.(json.Number)
		if !isNum {
			return 0, false, claimsErr(msg)
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false, claimsErr(msg)
		}
		if f > math.MaxInt64/2 {
			f = math.MaxInt64 / 2
		}
		return int64(f), true, nil
	}
	ar := &authResult{}
	if exp, ok, e := num("exp", "The JWT 'exp' claim must be a number"); e != nil {
		return nil, e
	} else if ok {
		if unix > exp+jwtSkew {
			return nil, claimsErr("JWT expired")
		}
		ar.exp = exp
	}
	if nbf, ok, e := num("nbf", "The JWT 'nbf' claim must be a number"); e != nil {
		return nil, e
	} else if ok && unix < nbf-jwtSkew {
		return nil, claimsErr("JWT not yet valid")
	}
	if iat, ok, e := num("iat", "The JWT 'iat' claim must be a number"); e != nil {
		return nil, e
	} else if ok && unix < iat-jwtSkew {
		return nil, claimsErr("JWT issued at future")
	}
	if aud, ok := claims["aud"]; ok {
		switch a := aud.(type) {
		case nil, string:
		case []any:
			for _, x := range a {
				if _, isStr := x.(string); !isStr {
					return nil, claimsErr("The JWT 'aud' claim must be a string or an array of strings")
				}
			}
		default:
			return nil, claimsErr("The JWT 'aud' claim must be a string or an array of strings")
		}
	}
	switch r := claims["role"].(type) {
	case string:
		ar.role = r
		ar.claims = payload
	case nil:
		ar.role = s.cfg.AnonRole
		claims["role"] = ar.role
		ar.claims, _ = json.Marshal(claims)
	default:
		raw, _ := json.Marshal(r)
		ar.role = string(raw)
		ar.claims = payload
	}
	ar.authed = ar.role != s.cfg.AnonRole
	return ar, nil
}
