package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// PostgresChangesFilter selects database changes: Event (INSERT, UPDATE,
// DELETE or * — the default), Schema (default "public"), Table and an
// optional Filter such as "resource_id=eq.<uuid>" (operators eq, neq, lt,
// lte, gt, gte, in; several conditions separated by commas are AND-ed).
// Select, optional, restricts the columns in the payload.
type PostgresChangesFilter struct {
	Event  ChangeType
	Schema string
	Table  string
	Filter string
	Select []string
}

func (f PostgresChangesFilter) normalized() PostgresChangesFilter {
	if f.Event == "" {
		f.Event = AllChanges
	}
	if f.Schema == "" {
		f.Schema = "public"
	}
	return f
}

// wire is the binding as sent in the join payload.
func (f PostgresChangesFilter) wire() map[string]any {
	m := map[string]any{"event": string(f.Event), "schema": f.Schema}
	if f.Table != "" {
		m["table"] = f.Table
	}
	if f.Filter != "" {
		m["filter"] = f.Filter
	}
	if len(f.Select) > 0 {
		m["select"] = f.Select
	}
	return m
}

type channelConfig struct {
	self, ack   bool
	presenceKey string
	presence    bool
	private     bool
}

// ChannelOption configures a channel.
type ChannelOption func(*channelConfig)

// BroadcastSelf makes the channel receive its own broadcasts.
func BroadcastSelf() ChannelOption { return func(c *channelConfig) { c.self = true } }

// BroadcastAck makes Send wait for the server's acknowledgement.
func BroadcastAck() ChannelOption { return func(c *channelConfig) { c.ack = true } }

// Private joins the channel as a private one: the server authorises the
// join (and sends on it) by the row-level security policies of
// realtime.messages under the client's access token, and delivers only
// messages sent as private (realtime.send, realtime.broadcast_changes, the
// broadcast API with "private": true) — supabase-js's config.private.
func Private() ChannelOption { return func(c *channelConfig) { c.private = true } }

// Presence enables presence on the channel under a key (a random one when
// empty).
func Presence(key string) ChannelOption {
	return func(c *channelConfig) { c.presence, c.presenceKey = true, key }
}

type pgBinding struct {
	filter  PostgresChangesFilter
	handler func(*PostgresChangeEvent)
	id      int64
}

type broadcastBinding struct {
	event   string
	handler func(*BroadcastEvent)
}

type chanState int

const (
	stateClosed chanState = iota
	stateJoining
	stateJoined
	stateErrored
)

// Channel is a Realtime topic: its bindings, handlers and join state.
type Channel struct {
	c     *Client
	topic string
	name  string
	cfg   channelConfig

	joinMu sync.Mutex // one join attempt at a time

	mu         sync.Mutex
	pg         []*pgBinding
	broadcasts []broadcastBinding
	systems    []func(*SystemEvent)
	presences  []func(*PresenceEvent)
	statuses   []func(*StatusEvent)
	sinks      []chan Event
	state      chanState
	want       bool // Subscribe was called and not undone
	conn       *wsConn
	joinRef    json.RawMessage
	sysWait    chan *SystemEvent
	lastErr    error
}

// Topic returns the full topic ("realtime:<name>").
func (ch *Channel) Topic() string { return ch.topic }

// OnPostgresChanges adds a postgres_changes binding, before Subscribe.
func (ch *Channel) OnPostgresChanges(f PostgresChangesFilter, handler func(*PostgresChangeEvent)) *Channel {
	return bind(ch, &ch.pg, &pgBinding{filter: f.normalized(), handler: handler})
}

// OnBroadcast calls handler for broadcasts of an event ("*" for all).
func (ch *Channel) OnBroadcast(event string, handler func(*BroadcastEvent)) *Channel {
	return bind(ch, &ch.broadcasts, broadcastBinding{event: event, handler: handler})
}

// OnSystem calls handler for the server's system messages.
func (ch *Channel) OnSystem(handler func(*SystemEvent)) *Channel {
	return bind(ch, &ch.systems, handler)
}

// OnPresence calls handler for presence state and diffs.
func (ch *Channel) OnPresence(handler func(*PresenceEvent)) *Channel {
	return bind(ch, &ch.presences, handler)
}

// OnStatus calls handler when the channel is (re)subscribed, fails or
// closes.
func (ch *Channel) OnStatus(handler func(*StatusEvent)) *Channel {
	return bind(ch, &ch.statuses, handler)
}

// bind adds h to one of ch's lists of bindings, under ch's lock.
func bind[H any](ch *Channel, list *[]H, h H) *Channel {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	*list = append(*list, h)
	return ch
}

// Events returns a Go channel receiving every event of this channel, in
// order, with room for buffer events. It is closed when the channel is
// unsubscribed or the client closed. Keep reading it: while it is full,
// no handler of the client runs.
func (ch *Channel) Events(buffer int) <-chan Event {
	s := make(chan Event, buffer)
	ch.mu.Lock()
	ch.sinks = append(ch.sinks, s)
	ch.mu.Unlock()
	return s
}

// Subscribe joins the channel and waits for the server's join reply and,
// with postgres_changes bindings, its subscription status. A refusal is a
// *ServerError with the server's reason. Once subscribed the channel is
// rejoined after reconnections until Unsubscribe.
func (ch *Channel) Subscribe(ctx context.Context) error {
	ch.mu.Lock()
	ch.want = true
	ch.mu.Unlock()
	for {
		conn, err := ch.c.currentConn(ctx)
		if err != nil {
			return err
		}
		ch.joinMu.Lock()
		if ch.joinedOn(conn) {
			ch.joinMu.Unlock()
			return nil
		}
		err = ch.join(ctx, conn)
		ch.joinMu.Unlock()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrDisconnected) && ctx.Err() == nil:
			continue // joined again on the next connection
		default:
			// Refused, timed out or abandoned: not rejoined later.
			ch.mu.Lock()
			ch.want = false
			ch.mu.Unlock()
			return err
		}
	}
}

func (ch *Channel) joinedOn(conn *wsConn) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.state == stateJoined && ch.conn == conn
}

func (ch *Channel) wantsJoin() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.want
}

// rejoin joins again after a reconnection, retrying with backoff while the
// connection lasts and the channel is wanted.
func (ch *Channel) rejoin(conn *wsConn) {
	for attempt := 0; ; attempt++ {
		ch.joinMu.Lock()
		if !ch.wantsJoin() || ch.joinedOn(conn) {
			ch.joinMu.Unlock()
			return
		}
		err := ch.join(ch.c.ctx, conn)
		ch.joinMu.Unlock()
		if err == nil {
			return
		}
		ch.c.log.Warn("rejoin failed", "topic", ch.topic, "error", err)
		select {
		case <-conn.done:
			return
		case <-ch.c.ctx.Done():
			return
		case <-time.After(backoff(ch.c.o.backoffMin*4, ch.c.o.backoffMax, attempt)):
		}
	}
}

// join sends phx_join and waits for the reply and the postgres_changes
// system message. Callers hold joinMu.
func (ch *Channel) join(ctx context.Context, conn *wsConn) error {
	token, err := ch.c.token(ctx)
	if err != nil {
		return err
	}
	ch.mu.Lock()
	bindings := make([]map[string]any, len(ch.pg))
	for i, b := range ch.pg {
		bindings[i] = b.filter.wire()
	}
	payload := map[string]any{
		"config": map[string]any{
			"broadcast":        map[string]any{"ack": ch.cfg.ack, "self": ch.cfg.self},
			"presence":         map[string]any{"key": ch.cfg.presenceKey, "enabled": ch.cfg.presence},
			"postgres_changes": bindings,
			"private":          ch.cfg.private,
		},
	}
	if token != "" {
		payload["access_token"] = token
	}
	ref := ch.c.nextRef()
	ch.state, ch.conn, ch.joinRef = stateJoining, conn, ref
	sysWait := make(chan *SystemEvent, 1)
	ch.sysWait = sysWait
	hasPG := len(ch.pg) > 0
	ch.mu.Unlock()

	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("realtime: encode join payload: %w", err)
	}
	r, err := conn.request(ctx, phoenix.Message{JoinRef: ref, Ref: ref, Topic: ch.topic, Event: phoenix.EventJoin, Payload: body})
	if err != nil {
		ch.setErrored(err)
		return err
	}
	if r.status != "ok" {
		var resp struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(r.response, &resp)
		if resp.Reason == "" {
			resp.Reason = string(r.response)
		}
		err := &ServerError{Topic: ch.topic, Reason: resp.Reason}
		ch.setErrored(err)
		return err
	}
	var resp struct {
		PostgresChanges []struct {
			ID     int64   `json:"id"`
			Event  string  `json:"event"`
			Schema string  `json:"schema"`
			Table  *string `json:"table"`
			Filter *string `json:"filter"`
		} `json:"postgres_changes"`
	}
	_ = json.Unmarshal(r.response, &resp)
	ch.mu.Lock()
	for i, b := range ch.pg {
		if i >= len(resp.PostgresChanges) {
			ch.mu.Unlock()
			return ch.fail(conn, ref, errors.New("mismatch between server and client bindings for postgres changes"))
		}
		s := resp.PostgresChanges[i]
		if s.Event != string(b.filter.Event) || s.Schema != b.filter.Schema || deref(s.Table) != b.filter.Table || deref(s.Filter) != b.filter.Filter {
			ch.mu.Unlock()
			return ch.fail(conn, ref, errors.New("mismatch between server and client bindings for postgres changes"))
		}
		b.id = s.ID
	}
	ch.mu.Unlock()
	if hasPG {
		t := time.NewTimer(ch.c.o.timeout)
		defer t.Stop()
		select {
		case sys := <-sysWait:
			if sys.Status != "ok" {
				return ch.fail(conn, ref, &ServerError{Topic: ch.topic, Reason: sys.Message})
			}
		case <-t.C:
			return ch.fail(conn, ref, fmt.Errorf("%w: no postgres_changes subscription status", ErrTimeout))
		case <-conn.done:
			ch.setErrored(ErrDisconnected)
			return ErrDisconnected
		case <-ctx.Done():
			return ch.fail(conn, ref, ctx.Err())
		}
	}
	ch.mu.Lock()
	if ch.joinRef == nil || !phoenix.SameRef(ch.joinRef, ref) || ch.state != stateJoining {
		ch.mu.Unlock()
		return ErrDisconnected
	}
	ch.state = stateJoined
	ch.lastErr = nil
	ch.mu.Unlock()
	ch.c.enqueue(ch, &StatusEvent{Status: StatusSubscribed})
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// fail leaves a half-joined channel and reports err.
func (ch *Channel) fail(conn *wsConn, ref json.RawMessage, err error) error {
	_ = conn.write(ch.c.ctx, phoenix.Message{JoinRef: ref, Ref: ch.c.nextRef(), Topic: ch.topic, Event: phoenix.EventLeave, Payload: json.RawMessage("{}")})
	ch.setErrored(err)
	return err
}

func (ch *Channel) setErrored(err error) {
	ch.mu.Lock()
	ch.state = stateErrored
	ch.lastErr = err
	ch.mu.Unlock()
	ch.c.enqueue(ch, &StatusEvent{Status: StatusChannelError, Err: err})
}

// connLost marks a joined channel as waiting for a rejoin.
func (ch *Channel) connLost() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state == stateJoined || ch.state == stateJoining {
		ch.state = stateErrored
		ch.lastErr = ErrDisconnected
		if ch.want {
			ch.c.goroutines.add(1)
			go func() {
				defer ch.c.goroutines.done()
				ch.c.enqueue(ch, &StatusEvent{Status: StatusChannelError, Err: ErrDisconnected})
			}()
		}
	}
}

// Unsubscribe leaves the channel, waits for the server's reply and
// forgets the channel: Events channels are closed, and Channel(name)
// returns a new channel.
func (ch *Channel) Unsubscribe(ctx context.Context) error {
	ch.mu.Lock()
	ch.want = false
	state, conn, ref := ch.state, ch.conn, ch.joinRef
	ch.state = stateClosed
	sinks := ch.sinks
	ch.sinks = nil
	ch.mu.Unlock()
	ch.c.removeChannel(ch)
	defer ch.c.retireSinks(sinks)
	if (state != stateJoined && state != stateJoining) || conn == nil {
		return nil
	}
	return ch.requestOK(ctx, conn, phoenix.Message{JoinRef: ref, Ref: ch.c.nextRef(), Topic: ch.topic, Event: phoenix.EventLeave, Payload: json.RawMessage("{}")})
}

// joined returns the connection and join ref of a joined channel, or
// ErrNotJoined.
func (ch *Channel) joined() (*wsConn, json.RawMessage, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state != stateJoined || ch.conn == nil {
		return nil, nil, ErrNotJoined
	}
	return ch.conn, ch.joinRef, nil
}

// requestOK sends m on conn and waits for its reply; a reply other than
// ok is a ServerError.
func (ch *Channel) requestOK(ctx context.Context, conn *wsConn, m phoenix.Message) error {
	r, err := conn.request(ctx, m)
	if err != nil {
		return err
	}
	if r.status != "ok" {
		return &ServerError{Topic: ch.topic, Reason: string(r.response)}
	}
	return nil
}

// Send broadcasts payload (marshalled to JSON) as event to the other
// clients on the topic. With BroadcastAck it waits for the server's
// acknowledgement.
func (ch *Channel) Send(ctx context.Context, event string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("realtime: encode broadcast payload: %w", err)
	}
	body := []byte(`{"type":"broadcast","event":`)
	body = phoenix.AppendString(body, event)
	body = append(body, `,"payload":`...)
	body = append(body, data...)
	body = append(body, '}')
	return ch.push(ctx, phoenix.EventBroadcast, body, ch.cfg.ack)
}

// Track publishes presence metadata for this channel's key.
func (ch *Channel) Track(ctx context.Context, meta any) error {
	return ch.presencePush(ctx, "track", meta)
}

// Untrack removes this channel's presence.
func (ch *Channel) Untrack(ctx context.Context) error {
	return ch.presencePush(ctx, "untrack", nil)
}

func (ch *Channel) presencePush(ctx context.Context, event string, meta any) error {
	p := map[string]any{"type": "presence", "event": event}
	if meta != nil {
		p["payload"] = meta
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("realtime: encode presence payload: %w", err)
	}
	return ch.push(ctx, phoenix.EventPresence, body, true)
}

// pushToken sends a refreshed access token to a joined channel; a channel
// not joined has nothing to refresh.
func (ch *Channel) pushToken(token string) {
	body, _ := json.Marshal(map[string]string{"access_token": token})
	_ = ch.push(ch.c.ctx, phoenix.EventAccessToken, body, false)
}

// push sends event with payload on the channel's current join
// (ErrNotJoined when there is none); with ack it waits for the server's
// reply (requestOK).
func (ch *Channel) push(ctx context.Context, event string, payload json.RawMessage, ack bool) error {
	conn, joinRef, err := ch.joined()
	if err != nil {
		return err
	}
	m := phoenix.Message{JoinRef: joinRef, Ref: ch.c.nextRef(), Topic: ch.topic, Event: event, Payload: payload}
	if !ack {
		return conn.write(ctx, m)
	}
	return ch.requestOK(ctx, conn, m)
}

// receive handles a server message for this channel (reader goroutine).
func (ch *Channel) receive(conn *wsConn, m phoenix.Message) {
	ch.mu.Lock()
	if ch.conn != conn || (!phoenix.IsNull(m.JoinRef) && !phoenix.SameRef(m.JoinRef, ch.joinRef)) {
		ch.mu.Unlock()
		return // for an earlier join
	}
	joinRef := ch.joinRef
	sysWait := ch.sysWait
	ch.mu.Unlock()
	switch m.Event {
	case phoenix.EventPostgres:
		e, err := decodeChange(m.Payload, &conn.columns)
		if err != nil {
			ch.c.log.Warn("ignoring change", "topic", ch.topic, "error", err)
			return
		}
		ch.c.enqueue(ch, e)
	case phoenix.EventBroadcast:
		var p struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Meta    json.RawMessage `json:"meta"`
		}
		if json.Unmarshal(m.Payload, &p) != nil {
			return
		}
		ch.c.enqueue(ch, &BroadcastEvent{Event: p.Event, Payload: nullToNil(p.Payload), Meta: nullToNil(p.Meta)})
	case phoenix.EventSystem:
		var s SystemEvent
		if json.Unmarshal(m.Payload, &s) != nil {
			return
		}
		// Queued before Subscribe hears of it, so the system event is
		// delivered before the SUBSCRIBED status Subscribe then queues.
		ch.c.enqueue(ch, &s)
		if s.Extension == "postgres_changes" && sysWait != nil {
			select {
			case sysWait <- &s:
			default:
			}
		}
		if s.Status == "error" && s.Extension != "postgres_changes" {
			ch.mu.Lock()
			ch.lastErr = &ServerError{Topic: ch.topic, Reason: s.Message}
			ch.mu.Unlock()
		}
	case "presence_state", "presence_diff":
		ev := &PresenceEvent{Kind: strings.TrimPrefix(m.Event, "presence_")}
		if m.Event == "presence_state" {
			ev.Joins = decodePresence(m.Payload)
		} else {
			var d struct {
				Joins  json.RawMessage `json:"joins"`
				Leaves json.RawMessage `json:"leaves"`
			}
			_ = json.Unmarshal(m.Payload, &d)
			ev.Joins, ev.Leaves = decodePresence(d.Joins), decodePresence(d.Leaves)
		}
		ch.c.enqueue(ch, ev)
	case phoenix.EventClose:
		ch.mu.Lock()
		if !phoenix.SameRef(joinRef, ch.joinRef) {
			ch.mu.Unlock()
			return
		}
		ch.state, ch.want = stateClosed, false
		err := ch.lastErr
		ch.mu.Unlock()
		ch.c.enqueue(ch, &StatusEvent{Status: StatusClosed, Err: err})
	case phoenix.EventError:
		ch.mu.Lock()
		ch.state = stateErrored
		ch.mu.Unlock()
		ch.c.enqueue(ch, &StatusEvent{Status: StatusChannelError, Err: errors.New("realtime: channel crashed on the server")})
		ch.c.goroutines.add(1)
		go func() { defer ch.c.goroutines.done(); ch.rejoin(conn) }()
	}
}

func decodePresence(raw json.RawMessage) map[string][]json.RawMessage {
	var m map[string]struct {
		Metas []json.RawMessage `json:"metas"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make(map[string][]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v.Metas
	}
	return out
}

// deliver runs on the dispatcher goroutine: handlers first, then sinks.
func (ch *Channel) deliver(ev Event) {
	ch.mu.Lock()
	pg := ch.pg
	bcs := ch.broadcasts
	systems := ch.systems
	presences := ch.presences
	statuses := ch.statuses
	sinks := ch.sinks
	ch.mu.Unlock()
	switch e := ev.(type) {
	case *PostgresChangeEvent:
		for _, b := range pg {
			if b.handler == nil || !slices.Contains(e.BindingIDs, b.id) {
				continue
			}
			if b.filter.Event != AllChanges && !strings.EqualFold(string(b.filter.Event), string(e.Type)) {
				continue
			}
			b.handler(e)
		}
	case *BroadcastEvent:
		for _, b := range bcs {
			if b.event == "*" || b.event == e.Event {
				b.handler(e)
			}
		}
	case *SystemEvent:
		for _, h := range systems {
			h(e)
		}
	case *PresenceEvent:
		for _, h := range presences {
			h(e)
		}
	case *StatusEvent:
		for _, h := range statuses {
			h(e)
		}
	}
	for _, s := range sinks {
		ch.c.sendToSink(ch, s, ev)
	}
}

func (ch *Channel) hasSink(s chan Event) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, x := range ch.sinks {
		if x == s {
			return true
		}
	}
	return false
}
