package logtest_test

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/sfp-dev/sfp/internal/logtest"
)

// Records written by many goroutines through slog's JSON handler come back
// whole, one per write; a line that is not JSON is skipped but kept in
// String.
func TestBufferRecords(t *testing.T) {
	var buf logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("hello", "n", i)
		}()
	}
	wg.Wait()
	fmt.Fprintln(&buf, "not json")
	recs := buf.Records()
	if len(recs) != 20 {
		t.Fatalf("%d records, want 20:\n%s", len(recs), buf.String())
	}
	seen := map[float64]bool{}
	for _, r := range recs {
		if r["msg"] != "hello" {
			t.Errorf("record %v: msg %v", r, r["msg"])
		}
		seen[r["n"].(float64)] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct records, want 20", len(seen))
	}
}
