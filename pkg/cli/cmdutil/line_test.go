package cmdutil

import (
	"strings"
	"testing"
)

// TestReadLineLeavesTheRest checks that a password line leaves the TOTP
// code line after it for the next read, CRLF and a missing final newline
// included.
func TestReadLineLeavesTheRest(t *testing.T) {
	in := strings.NewReader("secret pw\r\n123456")
	for _, want := range []string{"secret pw", "123456", ""} {
		got, err := ReadLine(in)
		if err != nil || got != want {
			t.Fatalf("ReadLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadLine(strings.NewReader(strings.Repeat("x", maxLineBytes+1))); err == nil {
		t.Fatal("a line over the limit was accepted")
	}
}
