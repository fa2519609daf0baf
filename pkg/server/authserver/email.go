package authserver

import (
	"regexp"
	"strings"
)

// emailPattern is the WHATWG "valid e-mail address" grammar, the check
// GoTrue applies to every address it accepts.
var emailPattern = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")

// validateEmail returns the address lowercased, or GoTrue's validation error.
func validateEmail(email string) (string, error) {
	if email == "" {
		return "", badRequest(CodeValidationFailed, "An email address is required")
	}
	if len(email) > 255 {
		return "", badRequest(CodeValidationFailed, "An email address is too long")
	}
	if !emailPattern.MatchString(email) {
		return "", badRequest(CodeValidationFailed, "Unable to validate email address: invalid format")
	}
	return strings.ToLower(email), nil
}
