// Package backoff spaces the attempts of a loop that retries until its
// context ends — a listener reconnecting to a restarted database, a batch
// of changes checked again — so that the servers' loops wait, double the
// wait and give up on shutdown in one way.
package backoff

import (
	"context"
	"time"
)

// Backoff is the wait before a loop's next attempt: it starts at a
// minimum, doubles after each wait up to a maximum, and goes back to the
// minimum on Reset. Make one with New; it is not safe for concurrent use.
type Backoff struct {
	min, max, next time.Duration
}

// New returns a Backoff whose first wait is first and whose waits grow to
// ceiling at most.
func New(first, ceiling time.Duration) Backoff {
	return Backoff{min: first, max: ceiling, next: first}
}

// Next is how long the next Wait waits: what a log line announces as the
// time until the next attempt.
func (b *Backoff) Next() time.Duration { return b.next }

// Wait waits Next, then doubles the next wait (up to the maximum). It
// returns false, at once, when ctx ends first: the loop should stop.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	b.next = min(b.next*2, b.max)
	return true
}

// Reset makes the next wait the minimum again, after an attempt that
// worked (or worked long enough).
func (b *Backoff) Reset() { b.next = b.min }
