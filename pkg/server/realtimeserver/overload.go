package realtimeserver

import (
	"fmt"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
)

// Overload is explicit, never silent. When changes arrive faster than the
// dispatcher can check and deliver them, transactions wait (in the
// dispatcher's queue, then in the replication slot) and their delivery
// falls behind their commit. The dispatcher bounds that: a transaction
// committed more than Config.MaxDispatchLag before its batch starts is not
// delivered. Its changes are counted (Flow.DroppedChanges, the metric
// realtime_changes_dropped_total), and every channel subscribed to its
// tables for its kinds of change receives a system message, as the
// official server tells channels about its limits:
//
//	{"extension":"postgres_changes","status":"error","channel":"…",
//	 "message":"Too many database changes: the server fell 12.3s behind the database; changes committed up to 2026-12-07T05:50:01.123Z were not delivered"}
//
// at most once a second per channel while it lasts, and once more when it
// ends. Skipping needs no row-level security check, so the backlog clears
// quickly and the changes after it are delivered in time again. The
// message names no row and no count (those could tell a subscriber about
// rows it may not see): only that the stream skipped ahead, so the client
// knows to reload what it shows.

// DefaultMaxDispatchLag is how far behind the database delivery may fall
// before changes are skipped.
const DefaultMaxDispatchLag = 10 * time.Second

// noticeEvery bounds how often a channel is told about skipped changes.
const noticeEvery = time.Second

// overload is the dispatcher's record of changes skipped and not yet told.
type overload struct {
	maxLag  time.Duration
	pending map[*channel]bool
	worst   time.Duration // largest lag among the skipped transactions
	upTo    time.Time     // latest commit skipped
	toldAt  time.Time
}

// shed removes from batch the transactions committed more than maxLag
// before now, noting the channels that would have been sent their changes,
// and returns the rest.
func (d *dispatcher) shed(batch []*wal.Txn, now time.Time) []*wal.Txn {
	o := &d.over
	var keep []*wal.Txn
	idx := d.hub.subs.Load()
	for _, t := range batch {
		lag := now.Sub(t.CommitTime)
		if t.CommitTime.IsZero() || lag <= o.maxLag || len(t.Changes) == 0 {
			keep = append(keep, t)
			continue
		}
		dropped := int64(0)
		for i := range t.Changes {
			ch := &t.Changes[i]
			reached := false
			for _, s := range idx.byRel[ch.Rel.ID] {
				if s.events&ch.Kind == 0 || s.ch.isClosed() {
					continue
				}
				if o.pending == nil {
					o.pending = map[*channel]bool{}
				}
				o.pending[s.ch] = true
				reached = true
			}
			if reached {
				dropped++
			}
		}
		if dropped > 0 {
			d.stats.dropped.Add(dropped)
			o.worst = max(o.worst, lag)
			if t.CommitTime.After(o.upTo) {
				o.upTo = t.CommitTime
			}
		}
	}
	return keep
}

// tell sends the pending notices when a second has passed since the last,
// or the backlog is gone (ended).
func (d *dispatcher) tell(now time.Time, ended bool) {
	o := &d.over
	if len(o.pending) == 0 || (!ended && now.Sub(o.toldAt) < noticeEvery) {
		return
	}
	msg := fmt.Sprintf("Too many database changes: the server fell %.1fs behind the database; changes committed up to %s were not delivered",
		o.worst.Seconds(), o.upTo.UTC().Format("2006-01-02T15:04:05.000Z"))
	for ch := range o.pending {
		if ch.isClosed() {
			continue
		}
		ch.conn.push(ch.joinRef, ch.topic, phoenix.EventSystem, systemPayload("postgres_changes", "error", msg, ch.name))
		d.stats.lagNotices.Add(1)
	}
	d.log.Warn("realtime fell behind the database; skipped changes", "behind", o.worst, "committed_up_to", o.upTo, "channels", len(o.pending), "max_dispatch_lag", o.maxLag)
	clear(o.pending)
	o.worst, o.toldAt = 0, now
}

// behind is how long ago the oldest transaction being dispatched was
// committed; 0 while the dispatcher is idle.
func (d *dispatcher) behind() time.Duration {
	at := d.behindAt.Load()
	if at == 0 {
		return 0
	}
	return max(time.Since(time.Unix(0, at)), 0)
}
