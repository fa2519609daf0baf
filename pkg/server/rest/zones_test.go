package rest

import (
	"log/slog"
	"testing"
)

// The zone names come from the database on the first question, once: a
// zone PostgreSQL knows is accepted, one it does not know is not.
func TestLazyZones(t *testing.T) {
	db := newPgDB(t)
	z := &lazyZones{pool: authenticatorPool(t, db, 2), log: slog.New(slog.DiscardHandler)}
	if z.names.Load() != nil {
		t.Fatal("zone names read before anyone asked")
	}
	if !z.has("Europe/Amsterdam") || !z.has("UTC") {
		t.Error("known zones not accepted")
	}
	if z.has("Mars/Base") || z.has("") {
		t.Error("unknown zone accepted")
	}
	first := z.names.Load()
	z.has("America/New_York")
	if z.names.Load() != first {
		t.Error("zone names read again")
	}
}
