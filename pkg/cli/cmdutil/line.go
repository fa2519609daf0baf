package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLineBytes bounds a line read from stdin (a password, a code).
const maxLineBytes = 4096

// ReadLine reads one line from r without reading past it, so that a later
// ReadLine gets the next line: `sfp login --password-stdin` reads the
// password, then the TOTP code, from one stream. The line ending is
// dropped; end of input ends the last line.
func ReadLine(r io.Reader) (string, error) {
	var b strings.Builder
	var c [1]byte
	for b.Len() < maxLineBytes {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimRight(b.String(), "\r"), nil
			}
			b.WriteByte(c[0])
		}
		if errors.Is(err, io.EOF) {
			return strings.TrimRight(b.String(), "\r"), nil
		}
		if err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
	}
	return "", fmt.Errorf("read stdin: line longer than %d bytes", maxLineBytes)
}
