package realtimeserver

import (
	"maps"
	"sync/atomic"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
)

// counters are the server's own figures for the tenant's metrics, beside
// the dispatcher's (dispatchStats): atomic adds where the events happen,
// read when Stats is asked.
type counters struct {
	joins atomic.Int64 // channels joined
	sent  atomic.Int64 // frames written to sockets
	slow  atomic.Int64 // sockets closed because their queue was full
	// lagNanos is the replication lag of the latest dispatched
	// transaction with changes.
	lagNanos atomic.Int64
}

// observeLag records, for the batch's transactions that had changes, the
// time from commit to dispatch.
func (d *dispatcher) observeLag(batch []*wal.Txn) {
	if d.lag == nil {
		return
	}
	for _, t := range batch {
		if len(t.Changes) > 0 && !t.CommitTime.IsZero() {
			d.lag(t.CommitTime)
		}
	}
}

func (s *Server) observeLag(commit time.Time) {
	lag := max(time.Since(commit), 0)
	s.counts.lagNanos.Store(int64(lag))
	if s.cfg.ObserveLag != nil {
		s.cfg.ObserveLag(lag)
	}
}

// refused counts a refusal by a limit under its official code.
func (l *limiter) refused(code string) {
	l.mu.Lock()
	if l.refusal == nil {
		l.refusal = map[string]int64{}
	}
	l.refusal[code]++
	l.mu.Unlock()
}

func (l *limiter) refusals() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.refusal)
}

// RefusalCodes are the official error codes a limit's refusal is counted
// under (Stats.Refusals), for metrics that show each from zero.
var RefusalCodes = []string{"ConnectionRateLimitReached", "JoinsRateLimitReached", "ClientJoinRateLimitReached",
	"ChannelRateLimitReached", "MessagePerSecondRateLimitReached"}

// Flow are the figures Stats adds for monitoring: traffic, refusals and
// how far behind the change stream is.
type Flow struct {
	Joins           int64 // channels joined
	MessagesSent    int64 // frames written to sockets
	SlowDisconnects int64 // sockets closed because the client read too slowly
	// Refusals counts what the limits refused, by official code.
	Refusals map[string]int64
	// LagBytes is how much WAL the server has sent that is not yet
	// dispatched to subscribers and confirmed.
	LagBytes int64
	// LagSeconds is the time from commit to dispatch of the latest
	// transaction that had changes.
	LagSeconds float64
	// BehindSeconds is how long ago the oldest transaction being
	// dispatched now was committed (0 while the dispatcher is idle).
	BehindSeconds float64
	// MaxDispatchLagSeconds is the bound beyond which changes are
	// skipped (Config.MaxDispatchLag).
	MaxDispatchLagSeconds float64
	// DroppedChanges counts changes not delivered because the server fell
	// further behind than MaxDispatchLag; LagNotices counts the system
	// messages that told channels so.
	DroppedChanges int64
	LagNotices     int64
}

// Flow returns the monitoring figures.
func (s *Server) Flow() Flow {
	lag := int64(0)
	if end, done := s.capture.ServerWALEnd(), s.processed.Load(); end > done {
		lag = int64(end - done)
	}
	return Flow{
		Joins:           s.counts.joins.Load(),
		MessagesSent:    s.counts.sent.Load(),
		SlowDisconnects: s.counts.slow.Load(),
		Refusals:        s.limits.refusals(),
		LagBytes:        lag,
		LagSeconds:      time.Duration(s.counts.lagNanos.Load()).Seconds(),

		BehindSeconds:         s.disp.behind().Seconds(),
		MaxDispatchLagSeconds: s.cfg.MaxDispatchLag.Seconds(),
		DroppedChanges:        s.disp.stats.dropped.Load(),
		LagNotices:            s.disp.stats.lagNotices.Load(),
	}
}
