package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitsDoubleUpToTheMaximum(t *testing.T) {
	b := New(time.Millisecond, 5*time.Millisecond)
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
		if !b.Wait(context.Background()) {
			t.Fatal("Wait returned false with a live context")
		}
	}
	want := []time.Duration{1, 2, 4, 5, 5}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	b.Reset()
	if b.Next() != time.Millisecond {
		t.Fatalf("after Reset the next wait is %v, want 1ms", b.Next())
	}
}

func TestWaitStopsWhenTheContextEnds(t *testing.T) {
	b := New(time.Hour, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour's wait: had Wait not given up on the ended context, the test
	// would hang until go test's timeout rather than pass.
	if b.Wait(ctx) {
		t.Fatal("Wait returned true after the context ended")
	}
	if b.Next() != time.Hour {
		t.Fatalf("a cancelled wait changed the next wait to %v", b.Next())
	}
}
