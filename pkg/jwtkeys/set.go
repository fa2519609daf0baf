package jwtkeys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
)

// Set is the keys a tenant's servers sign and verify tokens with at one
// moment: the asymmetric keys (the one that signs, and those that only
// verify: a standby key already published, a previous key whose tokens have
// not expired yet) and the legacy HS256 secret while the tenant accepts
// legacy tokens. A Set never changes; a Ring hands out the current one.
type Set struct {
	keys   []Key
	signer *Key
	byID   map[string]*Key
	secret []byte
	jwks   []byte
}

// NewSet checks keys (unique kids, at most one signing key, which has its
// private part) and returns their Set. secret is the legacy HS256 secret,
// or nil to refuse HMAC tokens.
func NewSet(keys []Key, secret []byte) (*Set, error) {
	s := &Set{keys: append([]Key(nil), keys...), byID: map[string]*Key{}}
	if secret != nil {
		s.secret = append([]byte(nil), secret...)
	}
	for i := range s.keys {
		k := &s.keys[i]
		if k.ID == "" || k.Public == nil {
			return nil, errors.New("signing keys: a key needs a kid and a public key")
		}
		if s.byID[k.ID] != nil {
			return nil, fmt.Errorf("signing keys: kid %s is used twice", k.ID)
		}
		s.byID[k.ID] = k
		if k.Sign {
			if s.signer != nil {
				return nil, fmt.Errorf("signing keys: %s and %s both sign; exactly one key signs", s.signer.ID, k.ID)
			}
			if k.Private == nil {
				return nil, fmt.Errorf("signing keys: %s signs but has no private part", k.ID)
			}
			s.signer = k
		}
	}
	var err error
	if s.jwks, err = MarshalPublic(s.keys, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// LegacySet is a Set of the HS256 secret alone: tokens are signed and
// verified with it, as before asymmetric keys.
func LegacySet(secret []byte) *Set {
	s, _ := NewSet(nil, secret)
	return s
}

// Signer is the key that signs new tokens, if there is one (without one,
// tokens are signed with the legacy secret).
func (s *Set) Signer() (Key, bool) {
	if s.signer == nil {
		return Key{}, false
	}
	return *s.signer, true
}

// Secret is the legacy HS256 secret, or nil when HMAC tokens are refused.
func (s *Set) Secret() []byte { return s.secret }

// CanSign tells whether tokens can be signed: with the signing key, or
// the legacy secret.
func (s *Set) CanSign() bool { return s.signer != nil || s.secret != nil }

// JWKS is the public key set the auth server publishes: every asymmetric
// key, the one that signs first as given, never the legacy secret.
func (s *Set) JWKS() []byte { return s.jwks }

// Algorithms are the token algorithms the set verifies: ES256 when it has
// keys, HS256 while it has the legacy secret (GoTrue's
// GOTRUE_JWT_VALID_METHODS default: the algorithms of its keys).
func (s *Set) Algorithms() []string {
	var out []string
	if len(s.keys) > 0 {
		out = append(out, ES256)
	}
	if s.secret != nil {
		out = append(out, jwt.SigningMethodHS256.Alg())
	}
	return out
}

// UnknownKeyError is a token no key of the set verifies: its kid names no
// key and it is not an HMAC token the legacy secret could verify.
type UnknownKeyError struct {
	Alg    string
	KID    string
	HasKID bool
}

func (e *UnknownKeyError) Error() string {
	kid := "<nil>"
	if e.HasKID {
		kid = e.KID
	}
	return fmt.Sprintf("unrecognized JWT kid %s for algorithm %s", kid, e.Alg)
}

// Lookup returns the key that verifies a token whose header has alg and
// (when hasKID) kid, by GoTrue's rule, which the embedded servers all
// follow: a kid naming a key of the set selects that key's public part,
// whatever state the key is in (signing, standby or previous); otherwise an
// HMAC token is verified with the legacy secret, if the set has it; anything
// else is an *UnknownKeyError. The caller still checks that the key fits
// the algorithm (an HS256 token naming an EC key fails its verification).
func (s *Set) Lookup(alg, kid string, hasKID bool) (any, error) {
	if hasKID {
		if k := s.byID[kid]; k != nil {
			return k.Public, nil
		}
	}
	if strings.HasPrefix(alg, "HS") && s.secret != nil {
		return s.secret, nil
	}
	return nil, &UnknownKeyError{Alg: alg, KID: kid, HasKID: hasKID}
}

// Keyfunc is Lookup for golang-jwt's parser.
func (s *Set) Keyfunc(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kid, hasKID := t.Header["kid"].(string)
	return s.Lookup(alg, kid, hasKID)
}

// hs256Header is the header of tokens signed with the legacy secret.
var hs256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Sign signs a JSON claims payload: ES256 with the signing key's kid in the
// header when the set has one, else HS256 with the legacy secret and no kid
// (as GoTrue signs with a bare JWT_SECRET). The payload is signed as given,
// so callers keep their claim order and a plain-string "aud".
func (s *Set) Sign(payload []byte) (string, error) {
	body := base64.RawURLEncoding.EncodeToString(payload)
	if s.signer != nil {
		hdr, _ := json.Marshal(struct {
			Alg string `json:"alg"`
			KID string `json:"kid"`
			Typ string `json:"typ"`
		}{ES256, s.signer.ID, "JWT"})
		unsigned := base64.RawURLEncoding.EncodeToString(hdr) + "." + body
		sig, err := jwt.SigningMethodES256.Sign(unsigned, s.signer.Private)
		if err != nil {
			return "", fmt.Errorf("sign token: %w", err)
		}
		return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig), nil
	}
	if s.secret == nil {
		return "", errors.New("sign token: no signing key and no legacy secret")
	}
	unsigned := hs256Header + "." + body
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Ring holds the current Set. Servers load it for every token, so a
// runtime that replaces it (a signing key added, promoted or retired, legacy
// tokens switched off) changes what they accept at once.
type Ring struct{ p atomic.Pointer[Set] }

// NewRing returns a Ring holding s.
func NewRing(s *Set) *Ring {
	r := &Ring{}
	r.p.Store(s)
	return r
}

// Load returns the current Set.
func (r *Ring) Load() *Set { return r.p.Load() }

// Store makes s the current Set.
func (r *Ring) Store(s *Set) { r.p.Store(s) }
