package authserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// providerEmail is an address a provider reports for its user.
type providerEmail struct {
	Email    string
	Verified bool
	Primary  bool
}

// providerUser is what a provider tells about its user: the addresses and
// the claims that become the identity's identity_data.
type providerUser struct {
	Emails []providerEmail
	Claims *providerClaims
}

// providerClaims are GoTrue's provider.Claims: the keys of
// auth.identities.identity_data and of the user_metadata taken from it.
// Empty strings and zero numbers are left out, the two *_verified flags
// never are, and custom_claims is kept whenever it was set (even empty),
// as GoTrue's struct-to-map conversion does.
type providerClaims struct {
	Issuer            string         `json:"iss,omitempty"`
	Subject           string         `json:"sub,omitempty"`
	Aud               audience       `json:"aud,omitempty"`
	Iat               float64        `json:"iat,omitempty"`
	Exp               float64        `json:"exp,omitempty"`
	Name              string         `json:"name,omitempty"`
	FamilyName        string         `json:"family_name,omitempty"`
	GivenName         string         `json:"given_name,omitempty"`
	MiddleName        string         `json:"middle_name,omitempty"`
	NickName          string         `json:"nickname,omitempty"`
	PreferredUsername string         `json:"preferred_username,omitempty"`
	Profile           string         `json:"profile,omitempty"`
	Picture           string         `json:"picture,omitempty"`
	Website           string         `json:"website,omitempty"`
	Gender            string         `json:"gender,omitempty"`
	Birthdate         string         `json:"birthdate,omitempty"`
	ZoneInfo          string         `json:"zoneinfo,omitempty"`
	Locale            string         `json:"locale,omitempty"`
	UpdatedAt         *unixOrRFC3339 `json:"updated_at,omitempty"`
	Email             string         `json:"email,omitempty"`
	EmailVerified     bool           `json:"email_verified"`
	Phone             string         `json:"phone,omitempty"`
	PhoneVerified     bool           `json:"phone_verified"`
	CustomClaims      map[string]any `json:"custom_claims,omitempty"`
	FullName          string         `json:"full_name,omitempty"`
	AvatarURL         string         `json:"avatar_url,omitempty"`
	Slug              string         `json:"slug,omitempty"`
	ProviderID        string         `json:"provider_id,omitempty"`
	UserName          string         `json:"user_name,omitempty"`
}

// identityData is the claims as identity_data: a map, the email in lower
// case (GoTrue lowers it before saving the identity).
func (c *providerClaims) identityData() (map[string]any, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode identity data: %w", err)
	}
	m, err := decodeJSONMap(raw)
	if err != nil {
		return nil, err
	}
	if c.CustomClaims != nil {
		if _, ok := m["custom_claims"]; !ok {
			m["custom_claims"] = map[string]any{}
		}
	}
	if e, ok := m["email"].(string); ok {
		m["email"] = strings.ToLower(e)
	}
	return m, nil
}

// audience is a JWT "aud": one string or several.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// unixOrRFC3339 is an OIDC updated_at: seconds since the epoch, or (some
// providers) an RFC 3339 string. It is kept as a timestamp string.
type unixOrRFC3339 time.Time

func (t unixOrRFC3339) MarshalJSON() ([]byte, error) { return time.Time(t).MarshalJSON() }

func (t *unixOrRFC3339) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = unixOrRFC3339(time.Time{})
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*t = unixOrRFC3339(time.Unix(int64(f), 0).UTC())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*t = unixOrRFC3339(time.Time{})
		return nil
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	*t = unixOrRFC3339(parsed.UTC())
	return nil
}

// primaryEmail sets the claims' email from the provider's addresses as
// GoTrue does: the primary one, else the last one listed.
func (u *providerUser) primaryEmail() {
	u.Claims.EmailVerified = false
	for _, e := range u.Emails {
		u.Claims.Email = e.Email
		u.Claims.EmailVerified = e.Verified
		if e.Primary {
			break
		}
	}
}
