package realtimeserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// maxFrameBytes is the largest frame a client may send (the official
// server's max_frame_size).
const maxFrameBytes = 5_000_000

// writeTimeout bounds one frame write; a client that accepts nothing for
// that long is disconnected.
const writeTimeout = 30 * time.Second

// outFrame is a frame queued for a client; one with end set closes the
// connection instead, after the frames queued before it.
type outFrame struct {
	data   []byte
	binary bool
	end    *closeFrame
}

// conn is one client WebSocket. Its reader goroutine (the HTTP handler)
// handles the client's messages in order; a writer goroutine drains a
// bounded queue, so nothing that produces messages for a client (the
// dispatcher, broadcasts of other clients) ever waits for it.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	sock   *corkConn // the socket under ws
	vsn    string
	apikey *authState
	log    *slog.Logger

	out       *sendQueue
	done      chan struct{} // closed when the connection is being closed
	closeOnce sync.Once
	closed    chan struct{} // closed when the WebSocket close has finished
	writerOut chan struct{} // closed when the writer goroutine has returned
	ctx       context.Context
	cancel    context.CancelFunc
	hb        *time.Timer
	draining  atomic.Bool // closing after its queued frames: ignore the client

	mu       sync.Mutex
	channels map[string]*channel
}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		writeJSONError(w, 503, "Realtime is restarting, please standby")
		return
	}
	q := r.URL.Query()
	vsn, ok := negotiateVsn(q.Get("vsn"))
	if !ok {
		writeJSONError(w, 403, fmt.Sprintf("unsupported protocol version %q: use 1.0.0 or 2.0.0", q.Get("vsn")))
		return
	}
	token := r.Header.Get("x-api-key")
	if token == "" {
		token = q.Get("apikey")
	}
	if token == "" {
		writeJSONError(w, 401, "API key is missing")
		return
	}
	auth, err := verifyToken(s.cfg.Keys.Load(), token, time.Now())
	if err != nil {
		msg := err.(*tokenError).Msg
		if strings.HasPrefix(msg, "Token has expired") {
			msg = "Token has expired"
		}
		writeJSONError(w, 401, msg)
		return
	}
	release, refusal := s.limits.admitSocket(time.Now())
	if refusal != "" {
		s.limits.report(s.log.With("remote", r.RemoteAddr), refusalCode(refusal))
		writeJSONError(w, http.StatusTooManyRequests, refusal)
		return
	}
	defer release()
	cw := &corkWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // browsers connect from the tenant's web origins
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered the request
	}
	ws.SetReadLimit(maxFrameBytes)
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv:       s,
		ws:        ws,
		sock:      cw.conn,
		vsn:       vsn,
		apikey:    auth,
		log:       s.log.With("remote", r.RemoteAddr, "request_id", r.Header.Get("X-Request-Id")),
		out:       newSendQueue(s.cfg.ClientQueueSize),
		done:      make(chan struct{}),
		closed:    make(chan struct{}),
		writerOut: make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		channels:  map[string]*channel{},
	}
	s.hub.addConn(c)
	c.hb = time.AfterFunc(s.cfg.HeartbeatTimeout, func() {
		c.close(websocket.StatusNormalClosure, closeHeartbeatTimeout)
	})
	go func() {
		defer close(c.writerOut)
		c.writeLoop()
	}()
	c.readLoop()
	c.close(websocket.StatusNormalClosure, "")
	c.hb.Stop()
	<-c.writerOut
	<-c.closed
	cancel()
}

// negotiateVsn accepts the versions the official server serves:
// ~> 1.0.0 and ~> 2.0.0 (1.0.0 when absent, as Phoenix defaults).
func negotiateVsn(v string) (string, bool) {
	switch {
	case v == "":
		return phoenix.V1, true
	case v == "1.0.0" || strings.HasPrefix(v, "1.0."):
		return phoenix.V1, true
	case v == "2.0.0" || strings.HasPrefix(v, "2.0."):
		return phoenix.V2, true
	}
	return "", false
}

func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusNormalClosure && st != websocket.StatusGoingAway && c.ctx.Err() == nil {
				c.log.Info("connection ended", "error", err)
			}
			return
		}
		select {
		case <-c.done:
			return
		default:
		}
		if c.draining.Load() {
			continue
		}
		c.hb.Reset(c.srv.cfg.HeartbeatTimeout)
		if typ == websocket.MessageBinary {
			c.handleBinary(data)
			continue
		}
		m, err := phoenix.Decode(c.vsn, data)
		if err != nil {
			// As the official server: log and ignore, keep the connection.
			c.log.Info("ignoring malformed WebSocket message", "error", err)
			continue
		}
		c.handle(m)
	}
}

func (c *conn) writeLoop() {
	var batch []outFrame
	for {
		select {
		case <-c.out.ready:
		case <-c.done:
			return
		}
		batch = c.out.take(batch)
		// Corked: the batch's frames leave in one write (cork.go).
		c.sock.cork()
		end, stop, err := c.writeFrames(batch)
		if uerr := c.sock.uncork(); err == nil {
			err = uerr
		}
		switch {
		case err != nil:
			c.close(websocket.StatusGoingAway, "write failed")
			return
		case end != nil:
			c.close(end.code, end.reason)
			return
		case stop:
			return
		}
		c.out.written()
	}
}

// writeFrames writes the batch's frames up to a close frame, which it
// returns; stop reports that the connection is closing.
func (c *conn) writeFrames(batch []outFrame) (end *closeFrame, stop bool, err error) {
	for _, f := range batch {
		select {
		case <-c.done:
			return nil, true, nil
		default:
		}
		if f.end != nil {
			return f.end, false, nil
		}
		typ := websocket.MessageText
		if f.binary {
			typ = websocket.MessageBinary
		}
		// Corked writes do not block; the flush has its own deadline.
		if err := c.ws.Write(c.ctx, typ, f.data); err != nil {
			return nil, false, err
		}
		c.srv.counts.sent.Add(1)
	}
	return nil, false, nil
}

// send queues a frame without ever blocking. A full queue means the client
// reads slower than it is sent to: it is disconnected with a reason.
func (c *conn) send(f outFrame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	if c.out.push(f) {
		return true
	}
	c.srv.counts.slow.Add(1)
	c.log.Warn("client too slow: disconnecting", "queue", c.out.max)
	c.close(websocket.StatusPolicyViolation, fmt.Sprintf(closeTooSlow, c.out.max))
	return false
}

// closeAfterQueued closes the connection with a reason once the frames
// already queued (a refusal the client should read first) are written.
func (c *conn) closeAfterQueued(code websocket.StatusCode, reason string) {
	c.draining.Store(true)
	if !c.send(outFrame{end: &closeFrame{code: code, reason: reason}}) {
		c.close(code, reason)
	}
}

// close shuts the connection once: its channels leave their topics and
// subscriptions, and the WebSocket is closed with code and reason in the
// background (a client that stopped reading may take a while).
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		if reason != "" {
			c.log.Info("closing connection", "code", int(code), "reason", reason)
		}
		close(c.done)
		c.mu.Lock()
		chans := make([]*channel, 0, len(c.channels))
		for _, ch := range c.channels {
			chans = append(chans, ch)
		}
		c.channels = map[string]*channel{}
		c.mu.Unlock()
		for _, ch := range chans {
			ch.detach()
		}
		c.srv.hub.removeConn(c)
		c.srv.closers.add()
		go func() {
			defer c.srv.closers.done()
			defer close(c.closed)
			// Let a write in progress finish first (a slow client that
			// reads again gets the close frame and its reason), within
			// the write timeout.
			<-c.writerOut
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

func (c *conn) channel(topic string) *channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channels[topic]
}

// reply queues a phx_reply.
func (c *conn) reply(joinRef, ref json.RawMessage, topic, status string, response json.RawMessage) {
	payload := phoenix.AppendReplyPayload(nil, status, response)
	c.send(outFrame{data: phoenix.Encode(c.vsn, phoenix.Message{JoinRef: joinRef, Ref: ref, Topic: topic, Event: phoenix.EventReply, Payload: payload})})
}

// push queues a server push on a channel.
func (c *conn) push(joinRef json.RawMessage, topic, event string, payload json.RawMessage) {
	c.send(outFrame{data: phoenix.Encode(c.vsn, phoenix.Message{JoinRef: joinRef, Ref: phoenix.Null, Topic: topic, Event: event, Payload: payload})})
}

func reasonJSON(reason string) json.RawMessage {
	b := append([]byte(`{"reason":`), phoenix.AppendString(nil, reason)...)
	return append(b, '}')
}

func (c *conn) handle(m phoenix.Message) {
	if m.Topic == phoenix.TopicPhoenix && m.Event == phoenix.EventHeartbeat {
		c.reply(phoenix.Null, m.Ref, m.Topic, "ok", json.RawMessage("{}"))
		return
	}
	ch := c.channel(m.Topic)
	switch {
	case m.Event == phoenix.EventJoin:
		c.join(m, ch)
	case ch == nil && m.Event == phoenix.EventLeave:
		c.reply(m.JoinRef, m.Ref, m.Topic, "ok", json.RawMessage("{}"))
	case ch == nil:
		c.reply(phoenix.Null, m.Ref, m.Topic, "error", reasonJSON(reasonUnmatchedTopic))
	case !phoenix.IsNull(m.JoinRef) && !phoenix.SameRef(m.JoinRef, ch.joinRef):
		// A message for an earlier join of this topic: ignored, as Phoenix does.
	case m.Event == phoenix.EventLeave:
		c.reply(ch.joinRef, m.Ref, m.Topic, "ok", json.RawMessage("{}"))
		c.closeChannel(ch)
	case m.Event == phoenix.EventAccessToken:
		ch.refreshToken(m.Payload)
	case (m.Event == phoenix.EventBroadcast || m.Event == phoenix.EventPresence) && !c.allowEvent(ch):
		// Dropped; the channel was shut down.
	case m.Event == phoenix.EventBroadcast:
		ch.broadcastJSON(m)
	case m.Event == phoenix.EventPresence:
		ch.presence(m)
	default:
		c.log.Debug("ignoring unexpected message", "topic", m.Topic, "event", m.Event)
	}
}

func (c *conn) handleBinary(data []byte) {
	msg, err := phoenix.DecodeBinary(data)
	if err != nil {
		c.log.Info("ignoring malformed WebSocket message", "error", err)
		return
	}
	switch b := msg.(type) {
	case *phoenix.UserBroadcastPush:
		ch := c.channel(b.Topic)
		ref := phoenix.StringRef(b.Ref)
		if ch == nil {
			c.reply(phoenix.Null, ref, b.Topic, "error", reasonJSON(reasonUnmatchedTopic))
			return
		}
		if c.allowEvent(ch) {
			ch.broadcastBinary(b)
		}
	case *phoenix.BinaryPush:
		if c.channel(b.Topic) == nil {
			c.reply(phoenix.Null, phoenix.StringRef(b.Ref), b.Topic, "error", reasonJSON(reasonUnmatchedTopic))
		}
	}
}

// closeChannel ends a channel: phx_close to the client, then it leaves
// its topic and subscriptions.
func (c *conn) closeChannel(ch *channel) {
	c.mu.Lock()
	if c.channels[ch.topic] == ch {
		delete(c.channels, ch.topic)
	}
	c.mu.Unlock()
	if ch.detach() {
		c.send(outFrame{data: phoenix.Encode(c.vsn, phoenix.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.topic, Event: phoenix.EventClose, Payload: json.RawMessage("{}")})})
	}
}
