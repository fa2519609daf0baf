package tenant

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// The prefixes of Supabase's opaque API keys. A publishable key replaces
// the anon key (safe in a browser); a secret key replaces the service_role
// key (servers and workers only). Neither is a JWT: the gateway knows them
// and hands the servers a JWT of the role instead.
const (
	PublishableKeyPrefix = "sb_publishable_"
	SecretKeyPrefix      = "sb_secret_"
)

// opaqueKeyRef is what Supabase's self-hosting generator hashes into a
// key's checksum in place of a project ref.
const opaqueKeyRef = "supabase-self-hosted"

// NewOpaqueKey returns a new API key with prefix, in the format Supabase's
// self-hosting generator (and its platform) uses: the prefix, 22 random
// base64url characters, "_", and 8 characters of checksum (base64url of
// SHA-256 over "supabase-self-hosted|" + prefix + random).
func NewOpaqueKey(prefix string) string {
	var b [17]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	random := base64.RawURLEncoding.EncodeToString(b[:])[:22]
	return prefix + random + "_" + opaqueKeyChecksum(prefix+random)
}

func opaqueKeyChecksum(body string) string {
	sum := sha256.Sum256([]byte(opaqueKeyRef + "|" + body))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:8]
}

// CheckOpaqueKey tells whether key is a well-formed key with prefix, as
// NewOpaqueKey makes them: the format and the self-hosted checksum. The
// gateway does not need it (it matches keys as opaque strings, as Kong
// does), and clients must not use it on keys of other deployments: a
// hosted Supabase project's checksum covers its own project ref.
func CheckOpaqueKey(key, prefix string) error {
	body, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return fmt.Errorf("not a %s… key", prefix)
	}
	// Both parts may contain "_" themselves: the lengths delimit them.
	if len(body) != 22+1+8 || body[22] != '_' {
		return errors.New("malformed key: want " + prefix + "<22 characters>_<8 characters>")
	}
	random, sum := body[:22], body[23:]
	if !isBase64URL(random) || !isBase64URL(sum) {
		return errors.New("malformed key: want " + prefix + "<22 characters>_<8 characters>")
	}
	if opaqueKeyChecksum(prefix+random) != sum {
		return errors.New("malformed key: its checksum does not match (a typing or copying error?)")
	}
	return nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
