package authserver

import (
	"sync"
	"time"

	"github.com/crewjam/saml"
)

// maxSAMLReplayEntries bounds the replay cache; past it the entries that
// expire soonest are dropped first (they are the least useful to replay).
const maxSAMLReplayEntries = 100_000

// samlReplayCache remembers the IDs of accepted assertions until they
// expire, so one signed response cannot sign in twice. GoTrue has no such
// cache: an SP-initiated response is single-use through its relay state,
// but an IdP-initiated one can be posted again while it is valid. The
// embedded runtime is one process per tenant, so memory is enough.
type samlReplayCache struct {
	now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

func newSAMLReplayCache(now func() time.Time) *samlReplayCache {
	return &samlReplayCache{now: now, seen: map[string]time.Time{}}
}

// Consume records id until expiresAt, or reports saml.ErrAssertionReplayed
// when it is already recorded and not expired.
func (c *samlReplayCache) Consume(id string, expiresAt time.Time) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[id]; ok && now.Before(exp) {
		return saml.ErrAssertionReplayed
	}
	if len(c.seen) >= maxSAMLReplayEntries {
		c.evict(now)
	}
	c.seen[id] = expiresAt
	return nil
}

// evict drops expired entries and, if the cache is still full, the tenth
// that expires soonest.
func (c *samlReplayCache) evict(now time.Time) {
	for id, exp := range c.seen {
		if !now.Before(exp) {
			delete(c.seen, id)
		}
	}
	if len(c.seen) < maxSAMLReplayEntries {
		return
	}
	cut := now
	for _, exp := range c.seen {
		if exp.After(cut) {
			cut = exp
		}
	}
	// Binary search for the expiry below which a tenth of the entries lie.
	lo, hi := now, cut
	for i := 0; i < 32 && hi.Sub(lo) > time.Second; i++ {
		mid := lo.Add(hi.Sub(lo) / 2)
		n := 0
		for _, exp := range c.seen {
			if exp.Before(mid) {
				n++
			}
		}
		if n < maxSAMLReplayEntries/10 {
			lo = mid
		} else {
			hi = mid
		}
	}
	for id, exp := range c.seen {
		if exp.Before(hi) {
			delete(c.seen, id)
		}
	}
}
