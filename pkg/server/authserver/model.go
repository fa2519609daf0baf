package authserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// User is a user as GoTrue serialises it (GET /user, the admin API, the
// "user" of a session). Field order and omitempty follow GoTrue's model.
type User struct {
	ID                     string         `json:"id"`
	Aud                    string         `json:"aud"`
	Role                   string         `json:"role"`
	Email                  string         `json:"email"`
	EmailConfirmedAt       *time.Time     `json:"email_confirmed_at,omitempty"`
	InvitedAt              *time.Time     `json:"invited_at,omitempty"`
	Phone                  string         `json:"phone"`
	PhoneConfirmedAt       *time.Time     `json:"phone_confirmed_at,omitempty"`
	ConfirmationSentAt     *time.Time     `json:"confirmation_sent_at,omitempty"`
	ConfirmedAt            *time.Time     `json:"confirmed_at,omitempty"`
	RecoverySentAt         *time.Time     `json:"recovery_sent_at,omitempty"`
	EmailChange            string         `json:"new_email,omitempty"`
	EmailChangeSentAt      *time.Time     `json:"email_change_sent_at,omitempty"`
	PhoneChange            string         `json:"new_phone,omitempty"`
	PhoneChangeSentAt      *time.Time     `json:"phone_change_sent_at,omitempty"`
	ReauthenticationSentAt *time.Time     `json:"reauthentication_sent_at,omitempty"`
	LastSignInAt           *time.Time     `json:"last_sign_in_at,omitempty"`
	AppMetadata            map[string]any `json:"app_metadata"`
	UserMetadata           map[string]any `json:"user_metadata"`
	// Factors are the user's MFA factors; left out when there are none,
	// as GoTrue does.
	Factors []Factor `json:"factors,omitempty"`
	// Identities is nil (JSON null) in admin user lists, as GoTrue leaves
	// them unloaded there.
	Identities  []Identity `json:"identities"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	BannedUntil *time.Time `json:"banned_until,omitempty"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
	IsAnonymous bool       `json:"is_anonymous"`

	passwordHash string
	isSSOUser    bool
}

// Identity is one sign-in identity of a user. GoTrue names the row id
// "identity_id" and the provider's subject "id", for old clients.
type Identity struct {
	IdentityID   string         `json:"identity_id"`
	ID           string         `json:"id"`
	UserID       string         `json:"user_id"`
	IdentityData map[string]any `json:"identity_data,omitempty"`
	Provider     string         `json:"provider"`
	LastSignInAt *time.Time     `json:"last_sign_in_at,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Email        string         `json:"email,omitempty"`
}

func (u *User) isConfirmed() bool { return u.EmailConfirmedAt != nil }

func (u *User) isBanned(now time.Time) bool {
	return u.BannedUntil != nil && now.Before(*u.BannedUntil)
}

// sanitised returns a fake user for a repeated signup of a confirmed email
// without autoconfirm, so the response does not reveal that the address is
// registered (GoTrue's sanitizeUser).
func sanitised(email, aud string, data map[string]any, now time.Time) *User {
	return &User{
		ID:                 newUUID(),
		Aud:                aud,
		Email:              email,
		ConfirmationSentAt: &now,
		AppMetadata:        map[string]any{"provider": "email", "providers": []string{"email"}},
		UserMetadata:       nonNilMap(data),
		Identities:         []Identity{},
		CreatedAt:          now,
		UpdatedAt:          now,
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string { return uuid.NewString() }

// isUUID reports whether s is a UUID in its canonical textual form (any
// case), as the ids in paths and claims must be.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// decodeJSONMap decodes a jsonb object, keeping numbers exact. SQL NULL,
// JSON null and an empty value give an empty map, as GoTrue's JSONMap does.
func decodeJSONMap(raw []byte) (map[string]any, error) {
	m := map[string]any{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode json object: %w", err)
	}
	return m, nil
}

// mergeMetadata applies GoTrue's metadata update rule: keys in updates
// overwrite, keys set to null are removed, other keys are kept.
func mergeMetadata(current, updates map[string]any) map[string]any {
	out := make(map[string]any, len(current)+len(updates))
	for k, v := range current {
		out[k] = v
	}
	for k, v := range updates {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// utcPtr converts a scanned timestamp to UTC (pgx returns local time).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
