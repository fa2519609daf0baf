package realtimeserver

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/google/uuid"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// channel is a joined topic on one connection.
type channel struct {
	conn    *conn
	topic   string // "realtime:<name>"
	name    string
	joinRef json.RawMessage
	// private channels are authorised by realtime.messages' policies at
	// join (perms) and share broadcasts and presence only with each other:
	// key is the hub's key for the topic, distinct for private channels.
	private bool
	perms   privatePerms
	key     string

	self, ack       bool
	presenceKey     string
	presenceEnabled atomic.Bool

	auth  atomic.Pointer[authState]
	specs []*bindingSpec  // postgres_changes bindings, when they were valid
	subs  []*subscription // their subscriptions (guarded by hub.mu once joined)

	mu       sync.Mutex
	expTimer *time.Timer
	closed   atomic.Bool
}

func (ch *channel) isClosed() bool { return ch.closed.Load() }

// detach removes the channel from the hub once; it reports whether this
// call did it.
func (ch *channel) detach() bool {
	if !ch.closed.CompareAndSwap(false, true) {
		return false
	}
	ch.mu.Lock()
	if ch.expTimer != nil {
		ch.expTimer.Stop()
	}
	ch.mu.Unlock()
	srv := ch.conn.srv
	srv.hub.leave(ch)
	srv.presenceLeave(ch)
	return true
}

// joinParams is what Realtime reads from a phx_join payload. Like the
// official server, it tolerates fields of the wrong type (their defaults
// apply).
type joinParams struct {
	hasConfig       bool
	ack, self       bool
	presenceKey     string
	presenceEnabled bool
	private         bool
	wait            bool
	postgresChanges []json.RawMessage
	token           string
}

func parseJoin(payload json.RawMessage) joinParams {
	var p joinParams
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil {
		return p
	}
	for _, k := range []string{"access_token", "user_token"} {
		var s string
		if json.Unmarshal(top[k], &s) == nil && s != "" {
			p.token = s
			break
		}
	}
	var cfg map[string]json.RawMessage
	if raw, ok := top["config"]; ok {
		p.hasConfig = true
		_ = json.Unmarshal(raw, &cfg)
	}
	obj := func(raw json.RawMessage) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		return m
	}
	b := obj(cfg["broadcast"])
	p.ack, p.self = flexBool(b["ack"]), flexBool(b["self"])
	pr := obj(cfg["presence"])
	_ = json.Unmarshal(pr["key"], &p.presenceKey)
	p.presenceEnabled = flexBool(pr["enabled"])
	p.private = flexBool(cfg["private"])
	p.wait = flexBool(obj(cfg["postgres_changes_options"])["wait"])
	var list []json.RawMessage
	if json.Unmarshal(cfg["postgres_changes"], &list) == nil {
		for _, e := range list {
			if !phoenix.IsNull(e) {
				p.postgresChanges = append(p.postgresChanges, e)
			}
		}
	}
	return p
}

// flexBool reads true, false, "true" or "false", as the official server's
// FlexibleBoolean does.
func flexBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(s, "true")
	}
	return false
}

// join handles phx_join: verify the token, resolve postgres_changes
// bindings, reply with their ids, then report the subscription status in a
// system message, as the official server does.
func (c *conn) join(m phoenix.Message, existing *channel) {
	if !strings.HasPrefix(m.Topic, "realtime:") {
		c.reply(phoenix.Null, m.Ref, m.Topic, "error", reasonJSON(reasonUnmatchedTopic))
		return
	}
	if existing != nil {
		// A second join of a topic replaces the first, as in Phoenix.
		c.closeChannel(existing)
	}
	name := strings.TrimPrefix(m.Topic, "realtime:")
	joinErr := func(reason string) { c.reply(m.JoinRef, m.Ref, m.Topic, "error", reasonJSON(reason)) }
	if name == "" {
		joinErr(reasonTopicRequired)
		return
	}
	if reason := c.admitJoin(); reason != "" {
		joinErr(reason)
		if reason == reasonJoinRateLimit {
			c.closeAfterQueued(websocket.StatusNormalClosure, reason)
		}
		return
	}
	p := parseJoin(m.Payload)
	token := p.token
	if token == "" || strings.HasPrefix(token, "sb_") {
		token = c.apikey.token
	}
	auth, err := verifyToken(c.srv.cfg.Keys.Load(), token, time.Now())
	if err != nil {
		joinErr(err.Error())
		return
	}
	ch := &channel{conn: c, topic: m.Topic, name: name, joinRef: m.JoinRef, self: p.self, ack: p.ack,
		private: p.private, key: hubKey(m.Topic, p.private)}
	if p.private {
		if reason := c.authorizeJoin(ch, auth); reason != "" {
			joinErr(reason)
			return
		}
	}
	if phoenix.IsNull(ch.joinRef) {
		ch.joinRef = m.Ref
	}
	ch.presenceKey = p.presenceKey
	if ch.presenceKey == "" {
		ch.presenceKey = uuid.NewString()
	}
	ch.presenceEnabled.Store(p.presenceEnabled)
	ch.auth.Store(auth)

	var specs []*bindingSpec
	var subErr error
	for _, raw := range p.postgresChanges {
		b, err := parseBinding(raw)
		if err != nil {
			subErr = &subscribeError{err.Error()}
			break
		}
		specs = append(specs, b)
	}
	var subs []*subscription
	if subErr == nil {
		subs, subErr = c.srv.resolve(c.ctx, auth.role, specs, ch)
	}
	if subErr != nil && p.wait {
		joinErr(reasonWaitedSubscribe + subErr.Error())
		return
	}
	// Every binding is echoed with its id, valid or not, so clients can
	// match them by position; the system message says whether they work.
	replyBody := []byte(`{"postgres_changes":[`)
	for i, raw := range p.postgresChanges {
		if i > 0 {
			replyBody = append(replyBody, ',')
		}
		replyBody = append(replyBody, bindingReply(raw)...)
	}
	replyBody = append(replyBody, "]}"...)
	if subErr != nil {
		// The bindings are echoed so clients can match them; no change
		// will flow, which the system message says.
		subs, specs = nil, nil
	}
	ch.subs, ch.specs = subs, specs

	c.mu.Lock()
	c.channels[m.Topic] = ch
	c.mu.Unlock()
	c.srv.hub.join(ch)
	c.srv.counts.joins.Add(1)
	ch.armExpiry(auth)
	c.reply(m.JoinRef, m.Ref, m.Topic, "ok", replyBody)
	if ch.presenceEnabled.Load() {
		c.srv.presenceState(ch)
	}
	c.srv.hub.subscribe(subs)
	if len(p.postgresChanges) > 0 {
		status, msg := "ok", msgSubscribed
		if subErr != nil {
			status, msg = "error", subErr.Error()
		}
		c.push(ch.joinRef, m.Topic, phoenix.EventSystem, systemPayload("postgres_changes", status, msg, name))
	}
}

func systemPayload(extension, status, message, channel string) json.RawMessage {
	b := []byte(`{"extension":`)
	b = phoenix.AppendString(b, extension)
	b = append(b, `,"status":`...)
	b = phoenix.AppendString(b, status)
	b = append(b, `,"message":`...)
	b = phoenix.AppendString(b, message)
	b = append(b, `,"channel":`...)
	b = phoenix.AppendString(b, channel)
	return append(b, '}')
}

// resolve validates bindings against the database and builds their
// subscriptions. Database outages become a subscription error telling the
// client to retry.
func (s *Server) resolve(ctx context.Context, role string, specs []*bindingSpec, ch *channel) ([]*subscription, error) {
	var subs []*subscription
	for _, b := range specs {
		tables, err := s.cat.resolveBinding(ctx, s.cfg.Publication, role, b)
		if err != nil {
			var se *subscribeError
			if errors.As(err, &se) {
				return nil, se
			}
			s.log.Warn("resolve postgres_changes binding", "error", err)
			return nil, &subscribeError{msgDatabaseUnavailable}
		}
		events := wal.Insert | wal.Update | wal.Delete
		switch b.Event {
		case "INSERT":
			events = wal.Insert
		case "UPDATE":
			events = wal.Update
		case "DELETE":
			events = wal.Delete
		}
		for _, bt := range tables {
			subs = append(subs, &subscription{ch: ch, b: b, bt: bt, events: events, selKey: strings.Join(b.Select, "\x00")})
		}
	}
	return subs, nil
}

// armExpiry closes the channel with a system error when its token expires.
func (ch *channel) armExpiry(a *authState) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.expTimer != nil {
		ch.expTimer.Stop()
	}
	if ch.closed.Load() {
		return
	}
	d := time.Until(a.exp)
	ch.expTimer = time.AfterFunc(d, func() {
		if ch.auth.Load() != a {
			return // replaced by a refreshed token
		}
		ago := time.Now().Unix() - a.exp.Unix()
		ch.shutdown(errTokenExpired(max(ago, 0)).Msg)
	})
}

// shutdown ends the channel with a system error, as the official server's
// shutdown_response does.
func (ch *channel) shutdown(message string) {
	if ch.isClosed() {
		return
	}
	ch.conn.push(ch.joinRef, ch.topic, phoenix.EventSystem, systemPayload("system", "error", message, ch.name))
	ch.conn.closeChannel(ch)
}

// refreshToken handles the access_token event: a new token replaces the
// channel's claims (for visibility checks and expiry); a bad one closes the
// channel. A private channel is authorised again under the new claims, as
// the official server does: a user removed from what the policies require
// loses the channel at its next token refresh instead of keeping it for
// the life of the socket.
func (ch *channel) refreshToken(payload json.RawMessage) {
	var p map[string]json.RawMessage
	_ = json.Unmarshal(payload, &p)
	var token string
	if json.Unmarshal(p["access_token"], &token) != nil || token == "" || strings.HasPrefix(token, "sb_") {
		return
	}
	cur := ch.auth.Load()
	if cur != nil && cur.token == token {
		return
	}
	a, err := verifyToken(ch.conn.srv.cfg.Keys.Load(), token, time.Now())
	if err != nil {
		ch.shutdown(err.(*tokenError).Msg)
		return
	}
	if ch.private {
		if reason := ch.conn.authorizeJoin(ch, a); reason != "" {
			ch.shutdown(reason)
			return
		}
	}
	if cur != nil && a.role != cur.role && len(ch.specs) > 0 {
		// Another role may see other columns, or nothing: subscribe again
		// under it, as the official server does.
		srv := ch.conn.srv
		subs, err := srv.resolve(ch.conn.ctx, a.role, ch.specs, ch)
		if err != nil {
			srv.hub.replaceSubs(ch, nil)
			ch.specs = nil
			ch.auth.Store(a)
			ch.armExpiry(a)
			ch.conn.push(ch.joinRef, ch.topic, phoenix.EventSystem, systemPayload("postgres_changes", "error", err.Error(), ch.name))
			return
		}
		ch.auth.Store(a)
		srv.hub.replaceSubs(ch, subs)
		ch.armExpiry(a)
		return
	}
	ch.auth.Store(a)
	ch.armExpiry(a)
}

// broadcastJSON relays a broadcast pushed as a JSON message.
func (ch *channel) broadcastJSON(m phoenix.Message) {
	payload := m.Payload
	if len(payload) == 0 || payload[0] != '{' {
		payload = json.RawMessage("{}")
	}
	frames := map[string]outFrame{}
	ch.conn.srv.relay(ch, ch.self, func(vsn string) outFrame {
		f, ok := frames[vsn]
		if !ok {
			f = outFrame{data: phoenix.Encode(vsn, phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: ch.topic, Event: phoenix.EventBroadcast, Payload: payload})}
			frames[vsn] = f
		}
		return f
	})
	if ch.ack {
		ch.conn.reply(ch.joinRef, m.Ref, ch.topic, "ok", json.RawMessage("{}"))
	}
}

// broadcastBinary relays a binary broadcast (vsn 2.0.0): binary to vsn
// 2.0.0 clients, converted to JSON for vsn 1.0.0 clients when it is JSON.
func (ch *channel) broadcastBinary(b *phoenix.UserBroadcastPush) {
	var binFrame, jsonFrame *outFrame
	ch.conn.srv.relay(ch, ch.self, func(vsn string) outFrame {
		if vsn == phoenix.V2 {
			if binFrame == nil {
				data, err := phoenix.AppendUserBroadcast(nil, &phoenix.UserBroadcast{Topic: ch.topic, Event: b.Event, JSON: b.JSON, Payload: b.Payload})
				if err != nil {
					return outFrame{}
				}
				binFrame = &outFrame{data: data, binary: true}
			}
			return *binFrame
		}
		if !b.JSON || !json.Valid(b.Payload) {
			return outFrame{} // vsn 1.0.0 cannot carry binary payloads
		}
		if jsonFrame == nil {
			p := []byte(`{"event":`)
			p = phoenix.AppendString(p, b.Event)
			p = append(p, `,"payload":`...)
			p = append(p, b.Payload...)
			p = append(p, `,"type":"broadcast"`...)
			if len(b.Metadata) > 0 {
				p = append(p, `,"meta":`...)
				p = append(p, b.Metadata...)
			}
			p = append(p, '}')
			jsonFrame = &outFrame{data: phoenix.Encode(vsn, phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: ch.topic, Event: phoenix.EventBroadcast, Payload: p})}
		}
		return *jsonFrame
	})
	if ch.ack {
		ch.conn.reply(ch.joinRef, phoenix.StringRef(b.Ref), ch.topic, "ok", json.RawMessage("{}"))
	}
}

// relay sends a broadcast to the channels on from's topic: all but from,
// or all with self. frame builds (and may cache) the frame per protocol
// version; an empty frame skips the receiver.
func (s *Server) relay(from *channel, self bool, frame func(vsn string) outFrame) {
	if from.private && !from.perms.writeBroadcast {
		// As the official server does, a broadcast the INSERT policies
		// refuse is dropped.
		s.log.Debug("broadcast refused on private channel", "topic", from.topic)
		return
	}
	for _, ch := range s.hub.members(from.key) {
		if ch == from && !self {
			continue
		}
		if f := frame(ch.conn.vsn); len(f.data) > 0 {
			ch.conn.send(f)
		}
	}
}
