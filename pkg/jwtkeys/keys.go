// Package jwtkeys holds a tenant's asymmetric JWT signing keys: it makes
// them, writes and reads them in the formats Supabase's self-hosted setup
// hands its servers — GoTrue's JWT_KEYS (a JSON array of private JWKs, the
// one that signs marked with "sign" in key_ops) and the public JWKS that
// PostgREST, Realtime and clients verify with — and answers, for a token's
// alg and kid, which key verifies it (Set), the one rule the embedded auth,
// REST and realtime servers share.
//
// Keys are ECDSA P-256 (ES256), the algorithm Supabase recommends and the
// one supabase-js verifies locally; JWK encoding and decoding (with its
// checks that a point is on the curve) is go-jose's.
package jwtkeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// ES256 is the algorithm of the keys this package makes.
const ES256 = "ES256"

// Key is one asymmetric signing key.
type Key struct {
	// ID is the key's kid, a random UUID as Supabase's generator makes.
	ID string
	// Private is nil for a key known only by its public part.
	Private *ecdsa.PrivateKey
	Public  *ecdsa.PublicKey
	// Sign marks the one key that signs new tokens ("sign" in key_ops);
	// the others only verify.
	Sign bool
}

// Generate makes a new P-256 key with a random kid. It does not sign until
// Sign is set.
func Generate() (Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate signing key: %w", err)
	}
	return Key{ID: uuid.NewString(), Private: priv, Public: &priv.PublicKey}, nil
}

// keyOps is key_ops of a key: a signing key may sign and verify, the others
// only verify (public keys always only verify).
func (k Key) keyOps(private bool) []string {
	if private && k.Sign {
		return []string{"sign", "verify"}
	}
	return []string{"verify"}
}

// jwk renders k as a JWK object: go-jose writes the key members, this adds
// key_ops and ext as Supabase's generator writes them (auth-js imports the
// published keys with WebCrypto, which reads both).
func (k Key) jwk(private bool) (json.RawMessage, error) {
	if k.Public == nil || k.ID == "" {
		return nil, errors.New("encode signing key: a key needs an id and a public key")
	}
	var material any = k.Public
	if private {
		if k.Private == nil {
			return nil, fmt.Errorf("encode signing key %s: the private key is missing", k.ID)
		}
		material = k.Private
	}
	raw, err := jose.JSONWebKey{Key: material, KeyID: k.ID, Algorithm: ES256, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode signing key %s: %w", k.ID, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encode signing key %s: %w", k.ID, err)
	}
	m["key_ops"] = k.keyOps(private)
	m["ext"] = true
	return json.Marshal(m) // members in a stable (sorted) order
}

// octJWK is the legacy HS256 secret as Supabase lists it beside the
// asymmetric keys: no kid, no key_ops, so verifiers use it for kid-less
// HS256 tokens (the legacy anon and service_role keys) and GoTrue never
// signs with it.
func octJWK(secret []byte) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret), "alg": "HS256"})
	return b
}

// MarshalPrivate renders keys as GoTrue's JWT_KEYS: a JSON array of
// private JWKs, then the legacy secret as an oct key when secret is not
// nil (GoTrue accepts HS256 tokens only when a key of that algorithm is
// listed).
func MarshalPrivate(keys []Key, secret []byte) ([]byte, error) {
	return marshal(keys, secret, true)
}

// MarshalPublic renders the JWKS verifiers read ({"keys":[…]}): the public
// part of every key, then the legacy secret as an oct key when secret is not
// nil (PostgREST's jwt-secret and Realtime's API_JWT_JWKS). With a nil secret
// it is the set the auth server publishes, which never lists symmetric keys.
func MarshalPublic(keys []Key, secret []byte) ([]byte, error) {
	arr, err := marshal(keys, secret, false)
	if err != nil {
		return nil, err
	}
	return slices.Concat([]byte(`{"keys":`), arr, []byte(`}`)), nil
}

func marshal(keys []Key, secret []byte, private bool) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, k := range keys {
		j, err := k.jwk(private)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(j)
	}
	if secret != nil {
		if len(keys) > 0 {
			b.WriteByte(',')
		}
		b.Write(octJWK(secret))
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// jwkMembers are the members go-jose does not read.
type jwkMembers struct {
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	K      string   `json:"k"`
}

// ParsePrivate reads JWT_KEYS (a JSON array of JWKs) or a JWKS object. EC
// P-256 keys are returned in order; an oct key is the legacy secret and is
// returned apart (nil when there is none). Other key types, a key without a
// kid or two keys with one kid are errors, as is more than one key with
// "sign" in key_ops (GoTrue refuses to start on it).
func ParsePrivate(data []byte) (keys []Key, secret []byte, err error) {
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	if len(data) > 0 && data[0] == '{' {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, nil, fmt.Errorf("read signing keys: %w", err)
		}
		raws = set.Keys
	} else if err := json.Unmarshal(data, &raws); err != nil {
		return nil, nil, fmt.Errorf("read signing keys: want a JSON array of JWKs: %w", err)
	}
	seen := map[string]bool{}
	signers := 0
	for i, raw := range raws {
		var m jwkMembers
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, nil, fmt.Errorf("read signing keys: key %d: %w", i+1, err)
		}
		if m.Kty == "oct" {
			if secret != nil {
				return nil, nil, fmt.Errorf("read signing keys: key %d: a second symmetric key", i+1)
			}
			if secret, err = base64.RawURLEncoding.DecodeString(m.K); err != nil || len(secret) == 0 {
				return nil, nil, fmt.Errorf("read signing keys: key %d: the symmetric key's k is not base64url", i+1)
			}
			continue
		}
		var jk jose.JSONWebKey
		if err := jk.UnmarshalJSON(raw); err != nil {
			return nil, nil, fmt.Errorf("read signing keys: key %d: %w", i+1, err)
		}
		k := Key{ID: jk.KeyID, Sign: slices.Contains(m.KeyOps, "sign")}
		switch v := jk.Key.(type) {
		case *ecdsa.PrivateKey:
			k.Private, k.Public = v, &v.PublicKey
		case *ecdsa.PublicKey:
			k.Public = v
		default:
			return nil, nil, fmt.Errorf("read signing keys: key %d (%s): only EC P-256 (ES256) keys are supported, got %s", i+1, jk.KeyID, m.Kty)
		}
		if k.Public.Curve != elliptic.P256() || (jk.Algorithm != "" && jk.Algorithm != ES256) {
			return nil, nil, fmt.Errorf("read signing keys: key %d (%s): only EC P-256 (ES256) keys are supported", i+1, jk.KeyID)
		}
		if k.ID == "" {
			return nil, nil, fmt.Errorf("read signing keys: key %d has no kid", i+1)
		}
		if seen[k.ID] {
			return nil, nil, fmt.Errorf("read signing keys: kid %s is used twice", k.ID)
		}
		seen[k.ID] = true
		if k.Sign {
			if k.Private == nil {
				return nil, nil, fmt.Errorf("read signing keys: key %s may sign but has no private part", k.ID)
			}
			signers++
		}
		keys = append(keys, k)
	}
	if signers > 1 {
		return nil, nil, errors.New("read signing keys: more than one key has \"sign\" in key_ops; exactly one key signs")
	}
	return keys, secret, nil
}
