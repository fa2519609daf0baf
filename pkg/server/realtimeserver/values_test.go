package realtimeserver

import (
	"encoding/json"
	"strings"
	"testing"
)

// isJSONNumber agrees with encoding/json on what a number literal is.
func TestIsJSONNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "7", "-12", "3.25", "0.5", "1e9", "1E+9", "2.5e-3", "-0.0e0",
		"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.2.3", "1x", "0x10", "NaN", "1 ", " 1", "--1", "1.e5",
	} {
		// json.Valid allows white space around a value; a literal has none.
		want := json.Valid([]byte(s)) && strings.TrimSpace(s) == s && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
		if got := isJSONNumber(s); got != want {
			t.Errorf("isJSONNumber(%q) = %v, want %v", s, got, want)
		}
	}
}
