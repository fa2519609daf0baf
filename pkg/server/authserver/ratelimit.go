package authserver

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// bucketTTL is how long an idle client's bucket is kept (GoTrue's limiters
// expire entries after an hour too).
const bucketTTL = time.Hour

// ipLimiter holds one token bucket per client IP. Buckets idle for longer
// than bucketTTL are swept on later calls, so memory follows the number of
// recently active clients.
type ipLimiter struct {
	cfg RateLimit

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(cfg RateLimit) *ipLimiter {
	return &ipLimiter{cfg: cfg, buckets: map[string]*bucket{}}
}

// allow takes one token from ip's bucket at time now and reports whether
// there was one. Requests without a known client IP share one bucket.
func (l *ipLimiter) allow(ip string, now time.Time) bool {
	if l == nil || l.cfg.Disabled {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > bucketTTL/4 {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > bucketTTL {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[ip]
	if !ok {
		every := rate.Every(time.Duration(float64(l.cfg.Interval) / l.cfg.Events))
		b = &bucket{lim: rate.NewLimiter(every, l.cfg.Burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
