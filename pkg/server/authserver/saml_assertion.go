package authserver

import (
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// samlSubjectIDAttribute is the SAML subject-id attribute, the preferred
// persistent identifier of a user at the IdP.
const samlSubjectIDAttribute = "urn:oasis:names:tc:SAML:attribute:subject-id"

// samlEmailAttributes are where an email address is looked for when the
// attribute mapping names none, in GoTrue's order.
var samlEmailAttributes = []string{
	"urn:oid:0.9.2342.19200300.100.1.3",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
	"http://schemas.xmlsoap.org/claims/EmailAddress",
	"mail",
	"Mail",
	"email",
}

// samlAssertion reads a validated assertion as GoTrue does.
type samlAssertion struct{ *saml.Assertion }

// attribute returns the values of the attributes whose Name or
// FriendlyName is name, case-insensitively.
func (a samlAssertion) attribute(name string) []saml.AttributeValue {
	var out []saml.AttributeValue
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if strings.EqualFold(at.Name, name) || strings.EqualFold(at.FriendlyName, name) {
				out = append(out, at.Values...)
			}
		}
	}
	return out
}

// userID is the user's persistent identifier: the subject-id attribute,
// else a NameID that is not transient (an email NameID lowercased); "" when
// the assertion has neither.
func (a samlAssertion) userID() string {
	if v := a.attribute(samlSubjectIDAttribute); len(v) > 0 {
		return v[0].Value
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return ""
	}
	id := a.Subject.NameID
	switch id.Format {
	case string(saml.EmailAddressNameIDFormat):
		return strings.ToLower(strings.TrimSpace(id.Value))
	case string(saml.TransientNameIDFormat):
		return ""
	}
	return id.Value
}

// email is the best guess at the user's address.
func (a samlAssertion) email() string {
	for _, name := range samlEmailAttributes {
		for _, v := range a.attribute(name) {
			if v.Value != "" {
				return v.Value
			}
		}
	}
	if a.Subject != nil && a.Subject.NameID != nil && a.Subject.NameID.Format == string(saml.EmailAddressNameIDFormat) {
		return a.Subject.NameID.Value
	}
	return ""
}

// mapAttributes applies an attribute mapping: for each key, the first
// listed attribute the assertion has (all its values for an array key),
// else the default.
func (a samlAssertion) mapAttributes(m SAMLAttributeMapping) map[string]any {
	out := map[string]any{}
	for key, attr := range m.Keys {
		names := attr.Names
		if attr.Name != "" {
			names = append([]string{attr.Name}, attr.Names...)
		}
		set := false
		for _, name := range names {
			for _, v := range a.attribute(name) {
				if v.Value == "" {
					continue
				}
				set = true
				if !attr.Array {
					out[key] = v.Value
					break
				}
				list, _ := out[key].([]string)
				out[key] = append(list, v.Value)
			}
			if set {
				break
			}
		}
		if !set && attr.Default != nil {
			out[key] = attr.Default
		}
	}
	return out
}

// sessionNotAfter is the first SessionNotOnOrAfter of the assertion's
// authentication statements: the session ends then.
func (a samlAssertion) sessionNotAfter() time.Time {
	for _, st := range a.AuthnStatements {
		if st.SessionNotOnOrAfter != nil && !st.SessionNotOnOrAfter.IsZero() {
			return st.SessionNotOnOrAfter.UTC()
		}
	}
	return time.Time{}
}

// samlStandardClaims are the string claims of GoTrue's provider claims that
// a mapping may fill; other mapped keys go to custom_claims.
var samlStandardClaims = map[string]bool{
	"name": true, "family_name": true, "given_name": true, "middle_name": true, "nickname": true,
	"preferred_username": true, "profile": true, "picture": true, "website": true, "gender": true,
	"birthdate": true, "zoneinfo": true, "locale": true, "phone": true, "full_name": true,
	"avatar_url": true, "slug": true, "provider_id": true, "user_name": true,
}

// samlIdentityData is the identity_data (and user_metadata) of an SSO
// identity, shaped as GoTrue's provider claims: iss (the IdP's entity ID),
// sub, email, email_verified, phone_verified, the mapped standard claims,
// and custom_claims for the other mapped keys.
func samlIdentityData(mapped map[string]any, entityID, subject, email string) map[string]any {
	data := map[string]any{
		"iss": entityID, "sub": subject, "email": email, "email_verified": true, "phone_verified": false,
	}
	custom := map[string]any{}
	for k, v := range mapped {
		switch {
		case k == "email" || k == "iss" || k == "sub" || k == "email_verified" || k == "phone_verified":
			// set above, as GoTrue overrides them
		case samlStandardClaims[k]:
			if s, ok := v.(string); ok {
				if s != "" {
					data[k] = s
				}
				continue
			}
			custom[k] = v
		default:
			custom[k] = v
		}
	}
	if len(custom) > 0 {
		data["custom_claims"] = custom
	}
	return data
}
