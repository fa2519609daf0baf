package realtimeserver

import (
	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
	"sync"
	"sync/atomic"
)

// subscription is one postgres_changes binding of a channel on one table.
type subscription struct {
	ch     *channel
	b      *bindingSpec
	bt     *bindingTable
	events wal.Kind // bit set of the kinds it wants
	selKey string   // the selected columns, as a payload cache key
}

// subIndex maps a table to the subscriptions on it. It is replaced, never
// modified, so the dispatcher reads it without locks.
type subIndex struct {
	byRel map[uint32][]*subscription
}

// hub holds the server's live state: connections, channels by topic (for
// broadcast and presence) and the subscription index.
type hub struct {
	mu       sync.Mutex
	conns    map[*conn]struct{}
	topics   map[string]map[*channel]struct{}
	presence map[string]*presenceTopic
	subs     atomic.Pointer[subIndex]
}

func newHub() *hub {
	h := &hub{
		conns:    map[*conn]struct{}{},
		topics:   map[string]map[*channel]struct{}{},
		presence: map[string]*presenceTopic{},
	}
	h.subs.Store(&subIndex{byRel: map[uint32][]*subscription{}})
	return h
}

func (h *hub) addConn(c *conn) {
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) removeConn(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *hub) connections() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

// join registers a channel on its topic.
func (h *hub) join(ch *channel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.topics[ch.key]
	if m == nil {
		m = map[*channel]struct{}{}
		h.topics[ch.key] = m
	}
	m[ch] = struct{}{}
}

// leave removes a channel from its topic and its subscriptions from the
// index.
func (h *hub) leave(ch *channel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.topics[ch.key]; m != nil {
		delete(m, ch)
		if len(m) == 0 {
			delete(h.topics, ch.key)
		}
	}
	h.dropSubsLocked(ch)
}

// replaceSubs swaps a joined channel's subscriptions (after its role
// changed).
func (h *hub) replaceSubs(ch *channel, subs []*subscription) {
	h.mu.Lock()
	h.dropSubsLocked(ch)
	ch.subs = subs
	h.mu.Unlock()
	if !ch.isClosed() {
		h.subscribe(subs)
	}
}

func (h *hub) dropSubsLocked(ch *channel) {
	if len(ch.subs) == 0 {
		return
	}
	old := h.subs.Load()
	next := &subIndex{byRel: make(map[uint32][]*subscription, len(old.byRel))}
	for rel, list := range old.byRel {
		kept := list
		for _, s := range list {
			if s.ch == ch {
				kept = make([]*subscription, 0, len(list))
				for _, s2 := range list {
					if s2.ch != ch {
						kept = append(kept, s2)
					}
				}
				break
			}
		}
		if len(kept) > 0 {
			next.byRel[rel] = kept
		}
	}
	h.subs.Store(next)
}

// subscribe adds a channel's subscriptions to the index.
func (h *hub) subscribe(subs []*subscription) {
	if len(subs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.subs.Load()
	next := &subIndex{byRel: make(map[uint32][]*subscription, len(old.byRel)+1)}
	for rel, list := range old.byRel {
		next.byRel[rel] = list
	}
	for _, s := range subs {
		list := next.byRel[s.bt.rel]
		fresh := make([]*subscription, len(list), len(list)+1)
		copy(fresh, list)
		next.byRel[s.bt.rel] = append(fresh, s)
	}
	h.subs.Store(next)
}

// members returns the channels joined under a hub key (hubKey: a topic,
// public or private).
func (h *hub) members(topic string) []*channel {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.topics[topic]
	out := make([]*channel, 0, len(m))
	for ch := range m {
		out = append(out, ch)
	}
	return out
}

// sendAll sends every channel joined under a hub key the message (event,
// payload) on topic, encoded once per protocol version however many
// channels share it. It returns how many connections queued it.
func (h *hub) sendAll(key, topic, event string, payload []byte) int {
	frames := map[string][]byte{}
	sent := 0
	for _, ch := range h.members(key) {
		f, ok := frames[ch.conn.vsn]
		if !ok {
			f = phoenix.Encode(ch.conn.vsn, phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: topic, Event: event, Payload: payload})
			frames[ch.conn.vsn] = f
		}
		if ch.conn.send(outFrame{data: f}) {
			sent++
		}
	}
	return sent
}
