package realtimeserver

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
)

// Broadcast from Database: rows inserted into realtime.messages (by
// realtime.send, realtime.broadcast_changes or a plain INSERT) reach the
// server through the same replication stream as postgres_changes
// (realtime.messages is in publication supabase_realtime) and are delivered as broadcast events to the channels joined to their
// topic whose private flag matches, in commit order. Nobody's visibility is
// checked at delivery: private channels were authorised at join
// (private.go), so one message costs the same whatever the number of
// subscribers and their policies.

// defaultMessageRetention is how long messages stay in realtime.messages
// (their daily partitions are dropped after it).
const defaultMessageRetention = 72 * time.Hour

// maintainEvery is how often the partitions of realtime.messages are kept.
const maintainEvery = time.Hour

// hubKey is the key a channel is registered under in the hub: its topic,
// set apart for private channels, which share broadcasts and presence only
// with each other (as in the official server).
func hubKey(topic string, private bool) string {
	if private {
		return "\x00private:" + topic
	}
	return topic
}

// authorizeJoin checks a private join against realtime.messages' policies
// and records the permissions on ch. It returns the join error reason, or
// "" when the join may proceed.
func (c *conn) authorizeJoin(ch *channel, a *authState) string {
	perms, err := c.srv.authorizePrivate(c.ctx, a, ch.name)
	if err != nil {
		c.srv.log.Warn("authorise private channel", "topic", ch.topic, "error", err)
		if isPgError(err) {
			return reasonPrivateChannel + ch.name
		}
		return reasonDatabaseUnavailable
	}
	if !perms.canJoin() {
		return reasonPrivateChannel + ch.name
	}
	ch.perms = perms
	return ""
}

// detectBroadcastDB reports whether realtime.messages is in the
// publication the server streams (supabase/platform/40_realtime.sql puts
// it there), which turns on Broadcast from Database and its maintenance.
func detectBroadcastDB(ctx context.Context, s *Server) bool {
	var ok bool
	err := s.cfg.Pool.QueryRow(ctx, `select exists (
		select 1 from pg_catalog.pg_publication_rel pr
		join pg_catalog.pg_publication p on p.oid = pr.prpubid
		where p.pubname = $1 and pr.prrelid = pg_catalog.to_regclass('realtime.messages'))`, s.cfg.Publication).Scan(&ok)
	if err != nil {
		s.log.Warn("look for realtime.messages in the publication; Broadcast from Database is off", "error", err)
		return false
	}
	return ok
}

// isMessagesRel reports a change of realtime.messages: the stream names
// the partition the row went to (messages_2026_12_07, messages_default).
func isMessagesRel(r *wal.Relation) bool {
	return r.Schema == "realtime" && (r.Name == "messages" || strings.HasPrefix(r.Name, "messages_"))
}

// deliverMessages sends the batch's realtime.messages inserts, in commit
// order, to the channels of their topics.
func (d *dispatcher) deliverMessages(batch []*wal.Txn) {
	for _, t := range batch {
		for i := range t.Changes {
			ch := &t.Changes[i]
			if ch.Kind != wal.Insert || !isMessagesRel(ch.Rel) {
				continue
			}
			d.deliverMessage(ch)
		}
	}
}

// deliverMessage sends one realtime.messages row as the official server
// does: {"type":"broadcast","event":…,"payload":…,"meta":{"id":…}} to the
// channels of the topic with the same private flag. Rows of other
// extensions (presence) and rows without an event are not broadcasts.
func (d *dispatcher) deliverMessage(ch *wal.Change) {
	col := func(name string) (wal.Value, bool) {
		i, ok := ch.Rel.ByName[name]
		if !ok || i >= len(ch.NewRow) {
			return wal.Value{}, false
		}
		return ch.NewRow[i], true
	}
	topic, ok1 := col("topic")
	ext, ok2 := col("extension")
	event, ok3 := col("event")
	payload, ok4 := col("payload")
	if !ok1 || !ok2 || !ok3 || !ok4 || ext.Text != "broadcast" || event.Null || topic.Null {
		return
	}
	private := false
	if v, ok := col("private"); ok && !v.Null {
		private = v.Text == "t"
	}
	body := []byte(`{"type":"broadcast","event":`)
	body = phoenix.AppendString(body, event.Text)
	body = append(body, `,"payload":`...)
	if payload.Null || payload.Unchanged || payload.Text == "" {
		body = append(body, "{}"...)
	} else {
		body = append(body, payload.Text...)
	}
	if id, ok := col("id"); ok && !id.Null {
		if _, err := uuid.Parse(id.Text); err == nil {
			body = append(body, `,"meta":{"id":"`...)
			body = append(body, id.Text...)
			body = append(body, `"}`...)
		}
	}
	body = append(body, '}')
	full := "realtime:" + topic.Text
	d.stats.broadcasts.Add(int64(d.hub.sendAll(hubKey(full, private), full, phoenix.EventBroadcast, body)))
}

// maintainMessages keeps realtime.messages bounded: at start and every
// maintainEvery, realtime.sfp_maintain_messages creates the coming days'
// partitions and drops those older than the retention.
func (s *Server) maintainMessages(ctx context.Context) {
	if !s.broadcastDB {
		return
	}
	retention := s.cfg.MessageRetention
	if retention <= 0 {
		retention = defaultMessageRetention
	}
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		var dropped int
		err := s.cfg.Pool.QueryRow(ctx, `select realtime.sfp_maintain_messages(make_interval(secs => $1))`, retention.Seconds()).Scan(&dropped)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("maintain realtime.messages partitions", "error", err)
		case dropped > 0:
			s.log.Info("dropped old realtime.messages partitions", "count", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apiWriter returns whether the broadcast API's caller may send private
// messages on a topic: realtime.messages' INSERT policies for broadcast,
// checked once per topic of the request.
func (s *Server) apiWriter(ctx context.Context, a *authState) func(topic string) bool {
	seen := map[string]bool{}
	return func(topic string) bool {
		if ok, done := seen[topic]; done {
			return ok
		}
		perms, err := s.authorizePrivate(ctx, a, topic)
		if err != nil {
			s.log.Warn("authorise private broadcast", "topic", topic, "error", err)
		}
		seen[topic] = err == nil && perms.writeBroadcast
		return seen[topic]
	}
}
