// Package logtest is a log destination a test shares with the goroutines of
// the servers it starts: writes are serialised, and the test reads what was
// written so far, as text or as the records of slog's JSON handler. Tests
// across the tree kept their own copy of this buffer; one serves them all.
package logtest

import (
	"bytes"
	"encoding/json"
	"sync"
)

// Buffer collects log output; the zero value is ready to use and safe for
// concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records returns the lines written so far that are JSON objects (slog's
// JSON handler writes one a line), in order; other lines are skipped.
func (b *Buffer) Records() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(b.b.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(l, &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}
