package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// SigningKeyStatus is where a signing key is in its life, after Supabase's
// signing-key states: a standby key is published (so verifiers learn it
// before it signs) but signs nothing; the current key signs every new
// token; a previous key signs nothing but still verifies the tokens it
// signed until they have expired, then it is retired (removed).
type SigningKeyStatus string

// The statuses of a signing key.
const (
	SigningStandby  SigningKeyStatus = "standby"
	SigningCurrent  SigningKeyStatus = "current"
	SigningPrevious SigningKeyStatus = "previous"
)

// RetireMargin is added to the access-token lifetime before a previous key
// may be retired, as Supabase advises (expiry + 15 minutes): clocks differ,
// and a token refreshed just before the rotation lives a full lifetime.
const RetireMargin = 15 * time.Minute

// AsymmetricKeyLifetime is how long the gateway's pre-signed role tokens
// (ANON_KEY_ASYMMETRIC, SERVICE_ROLE_KEY_ASYMMETRIC) stay valid, as Supabase's
// generator makes them. They are signed again whenever the signing key
// changes.
const AsymmetricKeyLifetime = 5 * 365 * 24 * time.Hour

// SigningKey is one of the tenant's asymmetric signing keys.
type SigningKey struct {
	jwtkeys.Key
	Status SigningKeyStatus
	// Since is when the key took its status.
	Since time.Time
	// RetireAfter is, for a previous key, when every token it signed has
	// expired (its last signing + the token lifetime + RetireMargin).
	RetireAfter time.Time
}

// signingState is a key's entry in SFP_JWT_KEY_STATES: what JWT_KEYS
// cannot say (a standby and a previous key are both verify-only there).
type signingState struct {
	KID         string           `json:"kid"`
	Status      SigningKeyStatus `json:"status"`
	Since       time.Time        `json:"since"`
	RetireAfter *time.Time       `json:"retire_after,omitempty"`
}

// decodeSigningKeys reads JWT_KEYS and SFP_JWT_KEY_STATES. The key with
// "sign" in key_ops is the current one whatever the states say; a
// verify-only key without a state is a standby key.
func decodeSigningKeys(jwtKeys, states string) ([]SigningKey, error) {
	if jwtKeys == "" {
		return nil, nil
	}
	keys, _, err := jwtkeys.ParsePrivate([]byte(jwtKeys))
	if err != nil {
		return nil, fmt.Errorf("JWT_KEYS: %w", err)
	}
	var st []signingState
	if states != "" {
		if err := json.Unmarshal([]byte(states), &st); err != nil {
			return nil, fmt.Errorf("SFP_JWT_KEY_STATES: %w", err)
		}
	}
	byKID := map[string]signingState{}
	for _, s := range st {
		byKID[s.KID] = s
	}
	out := make([]SigningKey, 0, len(keys))
	signers := 0
	for _, k := range keys {
		if k.Private == nil {
			return nil, fmt.Errorf("JWT_KEYS: key %s has no private part (JWT_KEYS holds private keys; JWT_JWKS the public ones)", k.ID)
		}
		s := byKID[k.ID]
		sk := SigningKey{Key: k, Status: s.Status, Since: s.Since}
		switch {
		case k.Sign:
			sk.Status = SigningCurrent
			signers++
		case s.Status == SigningPrevious && s.RetireAfter != nil:
			sk.RetireAfter = *s.RetireAfter
		default:
			sk.Status = SigningStandby
		}
		out = append(out, sk)
	}
	if signers == 0 {
		return nil, errors.New(`JWT_KEYS: no key has "sign" in key_ops; exactly one key signs`)
	}
	return out, nil
}

// encodeSigningKeys renders JWT_KEYS (with the legacy secret while legacy
// tokens are accepted), JWT_JWKS and SFP_JWT_KEY_STATES.
func encodeSigningKeys(keys []SigningKey, legacySecret []byte) (private, public, states string, err error) {
	ordered := orderedKeys(keys)
	plain := make([]jwtkeys.Key, len(ordered))
	st := make([]signingState, len(ordered))
	for i, k := range ordered {
		plain[i] = k.Key
		plain[i].Sign = k.Status == SigningCurrent
		st[i] = signingState{KID: k.ID, Status: k.Status, Since: k.Since.UTC()}
		if k.Status == SigningPrevious {
			ra := k.RetireAfter.UTC()
			st[i].RetireAfter = &ra
		}
	}
	priv, err := jwtkeys.MarshalPrivate(plain, legacySecret)
	if err != nil {
		return "", "", "", err
	}
	pub, err := jwtkeys.MarshalPublic(plain, legacySecret)
	if err != nil {
		return "", "", "", err
	}
	stb, _ := json.Marshal(st)
	return string(priv), string(pub), string(stb), nil
}

// orderedKeys lists the current key first, then standby, then previous
// keys (oldest first): the order of JWT_KEYS and the published JWKS.
func orderedKeys(keys []SigningKey) []SigningKey {
	rank := map[SigningKeyStatus]int{SigningCurrent: 0, SigningStandby: 1, SigningPrevious: 2}
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b SigningKey) int { return rank[a.Status] - rank[b.Status] })
	return out
}

// SigningKeyByStatus returns the first key with status, if any.
func (s *Secrets) SigningKeyByStatus(status SigningKeyStatus) (SigningKey, bool) {
	for _, k := range s.SigningKeys {
		if k.Status == status {
			return k, true
		}
	}
	return SigningKey{}, false
}

// ErrSigningStage is returned by a signing-key rotation stage that cannot
// run now (no standby key to promote, a standby key already waiting, a
// previous key whose tokens may still be valid); its text says what to do.
var ErrSigningStage = errors.New("signing key rotation")

// AddStandbySigningKey creates a standby signing key: published in the
// JWKS, trusted by the servers, signing nothing yet. There is at most one.
func (s *Secrets) AddStandbySigningKey(now time.Time) (SigningKey, error) {
	if k, ok := s.SigningKeyByStatus(SigningStandby); ok {
		return SigningKey{}, fmt.Errorf("%w: standby key %s already exists (created %s); promote it with `sfp server keys rotate-signing promote`",
			ErrSigningStage, k.ID, k.Since.UTC().Format(time.RFC3339))
	}
	k, err := jwtkeys.Generate()
	if err != nil {
		return SigningKey{}, err
	}
	sk := SigningKey{Key: k, Status: SigningStandby, Since: now.UTC().Truncate(time.Second)}
	s.SigningKeys = append(s.SigningKeys, sk)
	return sk, nil
}

// PromoteSigningKey makes the standby key the current one: new tokens are
// signed with it from now on; the key that signed until now becomes a
// previous key, still trusted until tokens it signed have expired (now +
// tokenLifetime + RetireMargin). The gateway's role tokens are signed
// again with the new key.
func (s *Secrets) PromoteSigningKey(now time.Time, tokenLifetime time.Duration) (promoted, previous SigningKey, err error) {
	now = now.UTC().Truncate(time.Second)
	si, ci := -1, -1
	for i, k := range s.SigningKeys {
		switch k.Status {
		case SigningStandby:
			if si < 0 {
				si = i
			}
		case SigningCurrent:
			ci = i
		}
	}
	if si < 0 {
		return SigningKey{}, SigningKey{}, fmt.Errorf("%w: there is no standby key to promote; create one with `sfp server keys rotate-signing standby`", ErrSigningStage)
	}
	if ci >= 0 {
		old := &s.SigningKeys[ci]
		old.Status, old.Since, old.RetireAfter = SigningPrevious, now, now.Add(tokenLifetime+RetireMargin)
		previous = *old
	}
	nk := &s.SigningKeys[si]
	nk.Status, nk.Since, nk.RetireAfter = SigningCurrent, now, time.Time{}
	if err := s.signGatewayKeys(now); err != nil {
		return SigningKey{}, SigningKey{}, err
	}
	return *nk, previous, nil
}

// RetireSigningKeys removes the previous keys whose tokens have all
// expired (RetireAfter has passed), or every previous key with force. It
// returns the retired keys; with nothing retirable it fails, saying when
// the next key may go.
func (s *Secrets) RetireSigningKeys(now time.Time, force bool) ([]SigningKey, error) {
	var retired, kept []SigningKey
	var waiting []SigningKey
	for _, k := range s.SigningKeys {
		switch {
		case k.Status != SigningPrevious:
			kept = append(kept, k)
		case force || !now.Before(k.RetireAfter):
			retired = append(retired, k)
		default:
			kept = append(kept, k)
			waiting = append(waiting, k)
		}
	}
	if len(retired) == 0 {
		if len(waiting) == 0 {
			return nil, fmt.Errorf("%w: there is no previous key to retire", ErrSigningStage)
		}
		k := waiting[0]
		return nil, fmt.Errorf("%w: previous key %s may still have signed unexpired tokens; retire it after %s (in %s), or pass --force to sign those sessions out now",
			ErrSigningStage, k.ID, k.RetireAfter.UTC().Format(time.RFC3339), k.RetireAfter.Sub(now).Round(time.Second))
	}
	s.SigningKeys = kept
	return retired, nil
}

// KeySet is what the servers sign and verify with: the signing keys, and
// the legacy secret when legacy is true.
func (s *Secrets) KeySet(legacy bool) (*jwtkeys.Set, error) {
	ordered := orderedKeys(s.SigningKeys)
	keys := make([]jwtkeys.Key, len(ordered))
	for i, k := range ordered {
		keys[i] = k.Key
		keys[i].Sign = k.Status == SigningCurrent
	}
	var secret []byte
	if legacy {
		secret = []byte(s.JWTSecret)
	}
	return jwtkeys.NewSet(keys, secret)
}

// signGatewayKeys signs ANON_KEY_ASYMMETRIC and SERVICE_ROLE_KEY_ASYMMETRIC
// with the current key: the role tokens the gateway puts in Authorization
// for a publishable or secret key.
func (s *Secrets) signGatewayKeys(now time.Time) error {
	set, err := s.KeySet(false)
	if err != nil {
		return err
	}
	if _, ok := set.Signer(); !ok {
		return errors.New("sign gateway keys: no current signing key")
	}
	if s.AnonKeyAsymmetric, err = signRoleToken(set, "anon", now, AsymmetricKeyLifetime); err != nil {
		return err
	}
	s.ServiceRoleKeyAsymmetric, err = signRoleToken(set, "service_role", now, AsymmetricKeyLifetime)
	return err
}

// signRoleToken is an API-key JWT of role, shaped as Supabase's generators
// shape them ({"role","iss":"supabase","iat","exp"}), signed by set.
func signRoleToken(set *jwtkeys.Set, role string, now time.Time, lifetime time.Duration) (string, error) {
	now = now.Truncate(time.Second)
	payload, _ := json.Marshal(struct {
		Role string `json:"role"`
		Iss  string `json:"iss"`
		Iat  int64  `json:"iat"`
		Exp  int64  `json:"exp"`
	}{role, "supabase", now.Unix(), now.Add(lifetime).Unix()})
	tok, err := set.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign %s key: %w", role, err)
	}
	return tok, nil
}

// tokenKID returns the kid in a JWT's header ("" when none or unreadable).
func tokenKID(tok string) string {
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := decodeSegment(tok, &hdr); err != nil {
		return ""
	}
	return hdr.KID
}
