package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// maxPasswordLength is bcrypt's input limit; GoTrue refuses longer passwords.
const maxPasswordLength = 72

// checkPasswordStrength applies GoTrue's rules: longer than 72 bytes is a
// validation error, shorter than the minimum is a weak password.
func (s *Server) checkPasswordStrength(password string) error {
	if len(password) > maxPasswordLength {
		return badRequest(CodeValidationFailed, "Password cannot be longer than %v characters", maxPasswordLength)
	}
	if len(password) < s.cfg.MinPasswordLength {
		return &Error{
			Status:  http.StatusUnprocessableEntity,
			Code:    CodeWeakPassword,
			Message: fmt.Sprintf("Password should be at least %d characters.", s.cfg.MinPasswordLength),
			Reasons: []string{"length"},
		}
	}
	return nil
}

// hashPassword hashes with bcrypt at the configured cost. Callers run it
// outside transactions: it is deliberately slow.
func (s *Server) hashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.PasswordHashCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// passwordMatches compares in constant time; a user without a hash never
// matches.
func passwordMatches(hash, password string) bool {
	if hash == "" {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// validBcryptHash checks a hash handed to the admin API or CreateUser.
func validBcryptHash(hash string) error {
	_, err := bcrypt.Cost([]byte(hash))
	return err
}

// newRefreshToken returns 12 random lowercase base32 characters, the form
// GoTrue's legacy (v1) refresh tokens have.
func newRefreshToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("auth: read random bytes: %v", err))
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
}

var refreshTokenPattern = regexp.MustCompile(`^[a-z0-9]{12}$`)

// newOTP returns a 6-digit one-time code.
func newOTP() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(fmt.Sprintf("auth: read random bytes: %v", err))
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// tokenHash is GoTrue's stored form of an emailed one-time token: the
// SHA-224 of the address followed by the code, in hex.
func tokenHash(email, otp string) string {
	sum := sha256.Sum224([]byte(email + otp))
	return hex.EncodeToString(sum[:])
}

// randomPassword is the password GoTrue gives admin-created users that get
// none: 64 characters, unusable until reset.
func randomPassword() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 64)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(fmt.Sprintf("auth: read random bytes: %v", err))
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}
