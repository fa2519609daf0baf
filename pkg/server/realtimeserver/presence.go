package realtimeserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// presenceTopic is the presence state of one topic: for each presence key,
// the metadata each channel tracks (Phoenix Presence's shape, on one node).
type presenceTopic struct {
	byKey map[string]map[*channel]json.RawMessage
}

func newPhxRef() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// presence handles the presence event: track (with the user's metadata)
// and untrack. Both are acknowledged with an ok reply.
func (ch *channel) presence(m phoenix.Message) {
	var p struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "error", reasonJSON("Presence track payload must be a map"))
		return
	}
	srv := ch.conn.srv
	switch p.Event {
	case "track":
		if ch.private && !ch.perms.writePresence {
			ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "error", reasonJSON(reasonPrivateWrite+ch.name))
			return
		}
		var meta map[string]json.RawMessage
		if len(p.Payload) > 0 && json.Unmarshal(p.Payload, &meta) != nil {
			ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "error", reasonJSON("Presence track payload must be a map"))
			return
		}
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		meta["phx_ref"] = phoenix.StringRef(newPhxRef())
		raw, _ := json.Marshal(meta)
		ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "ok", json.RawMessage("{}"))
		wasEnabled := ch.presenceEnabled.Swap(true)
		srv.presenceTrack(ch, raw)
		if !wasEnabled {
			srv.presenceState(ch)
		}
	case "untrack":
		ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "ok", json.RawMessage("{}"))
		srv.presenceLeave(ch)
	default:
		ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "error", reasonJSON("unknown presence event"))
	}
}

func (s *Server) presenceTrack(ch *channel, meta json.RawMessage) {
	s.hub.mu.Lock()
	pt := s.hub.presence[ch.key]
	if pt == nil {
		pt = &presenceTopic{byKey: map[string]map[*channel]json.RawMessage{}}
		s.hub.presence[ch.key] = pt
	}
	metas := pt.byKey[ch.presenceKey]
	if metas == nil {
		metas = map[*channel]json.RawMessage{}
		pt.byKey[ch.presenceKey] = metas
	}
	old, had := metas[ch]
	metas[ch] = meta
	s.hub.mu.Unlock()
	leaves := map[string][]json.RawMessage{}
	if had {
		leaves[ch.presenceKey] = []json.RawMessage{old}
	}
	s.presenceDiff(ch, map[string][]json.RawMessage{ch.presenceKey: {meta}}, leaves)
}

// presenceLeave forgets what a channel tracks and tells the topic.
func (s *Server) presenceLeave(ch *channel) {
	s.hub.mu.Lock()
	pt := s.hub.presence[ch.key]
	var old json.RawMessage
	if pt != nil {
		if metas := pt.byKey[ch.presenceKey]; metas != nil {
			old = metas[ch]
			delete(metas, ch)
			if len(metas) == 0 {
				delete(pt.byKey, ch.presenceKey)
			}
		}
		if len(pt.byKey) == 0 {
			delete(s.hub.presence, ch.key)
		}
	}
	s.hub.mu.Unlock()
	if old != nil {
		s.presenceDiff(ch, nil, map[string][]json.RawMessage{ch.presenceKey: {old}})
	}
}

// presenceState pushes the topic's whole presence state to one channel.
func (s *Server) presenceState(ch *channel) {
	s.hub.mu.Lock()
	state := map[string][]json.RawMessage{}
	if pt := s.hub.presence[ch.key]; pt != nil {
		for key, metas := range pt.byKey {
			for _, m := range metas {
				state[key] = append(state[key], m)
			}
		}
	}
	s.hub.mu.Unlock()
	ch.conn.push(ch.joinRef, ch.topic, "presence_state", presenceMap(state))
}

func (s *Server) presenceDiff(from *channel, joins, leaves map[string][]json.RawMessage) {
	topic := from.topic
	payload := []byte(`{"joins":`)
	payload = append(payload, presenceMap(joins)...)
	payload = append(payload, `,"leaves":`...)
	payload = append(payload, presenceMap(leaves)...)
	payload = append(payload, '}')
	s.hub.sendAll(from.key, topic, "presence_diff", payload)
}

// presenceMap renders {key: {"metas": [...]}}.
func presenceMap(m map[string][]json.RawMessage) json.RawMessage {
	keys := slices.Sorted(maps.Keys(m))
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = phoenix.AppendString(b, k)
		b = append(b, `:{"metas":[`...)
		for j, meta := range m[k] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, meta...)
		}
		b = append(b, "]}"...)
	}
	return append(b, '}')
}
