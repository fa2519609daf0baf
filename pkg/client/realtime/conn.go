package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// replyMsg is a phx_reply.
type replyMsg struct {
	status   string
	response json.RawMessage
}

// wsConn is one WebSocket connection. It ends (done closes) when the
// server closes it, a read or write fails, a heartbeat goes unanswered or
// the client closes.
type wsConn struct {
	c  *Client
	ws *websocket.Conn

	mu        sync.Mutex
	pending   map[string]chan replyMsg
	heartbeat string       // ref of the unanswered heartbeat
	lastTopic string       // reader only: the previous frame's topic
	columns   columnsCache // reader only: the previous change's columns
	closeErr  error

	done     chan struct{}
	doneOnce sync.Once
}

func (w *wsConn) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeErr
}

// fail ends the connection with a cause.
func (w *wsConn) fail(err error) {
	w.doneOnce.Do(func() {
		w.mu.Lock()
		w.closeErr = err
		pending := w.pending
		w.pending = map[string]chan replyMsg{}
		w.mu.Unlock()
		close(w.done)
		for _, ch := range pending {
			close(ch)
		}
		_ = w.ws.CloseNow()
	})
}

// close ends the connection with a close frame.
func (w *wsConn) close(code websocket.StatusCode, reason string) {
	_ = w.ws.Close(code, reason)
	w.fail(errors.New("realtime: connection closed by the client"))
}

// write sends one frame.
func (w *wsConn) write(ctx context.Context, m phoenix.Message) error {
	var data []byte
	if w.c.o.vsn == phoenix.V1 {
		data = phoenix.AppendV1(nil, m, true)
	} else {
		data = phoenix.AppendV2(nil, m)
	}
	ctx, cancel := context.WithTimeout(ctx, w.c.o.timeout)
	defer cancel()
	if err := w.ws.Write(ctx, websocket.MessageText, data); err != nil {
		w.fail(err)
		return ErrDisconnected
	}
	return nil
}

// request sends a message and waits for its reply.
func (w *wsConn) request(ctx context.Context, m phoenix.Message) (replyMsg, error) {
	ref := phoenix.RefString(m.Ref)
	wait := make(chan replyMsg, 1)
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return replyMsg{}, ErrDisconnected
	default:
	}
	w.pending[ref] = wait
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.pending, ref)
		w.mu.Unlock()
	}()
	if err := w.write(ctx, m); err != nil {
		return replyMsg{}, err
	}
	t := time.NewTimer(w.c.o.timeout)
	defer t.Stop()
	select {
	case r, ok := <-wait:
		if !ok {
			return replyMsg{}, ErrDisconnected
		}
		return r, nil
	case <-t.C:
		return replyMsg{}, ErrTimeout
	case <-ctx.Done():
		return replyMsg{}, ctx.Err()
	case <-w.c.ctx.Done():
		return replyMsg{}, ErrClosed
	}
}

// maxKeptReadBuffer bounds the read buffer kept between frames, so one
// large message does not pin its size for the connection's life.
const maxKeptReadBuffer = 64 << 10

// readLoop reads frames into one reused buffer (websocket.Conn.Read
// allocates and grows a new one per message) and handles each before
// reading the next.
func (w *wsConn) readLoop() {
	var buf bytes.Buffer
	for {
		typ, r, err := w.ws.Reader(w.c.ctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			w.fail(err)
			return
		}
		w.frame(typ, buf.Bytes())
		if buf.Cap() > maxKeptReadBuffer {
			buf = bytes.Buffer{}
		}
	}
}

// frame decodes one frame from the server and hands it to its channel:
// everything the reader does per message after the socket read. data is
// reused once frame returns: nothing may keep it.
func (w *wsConn) frame(typ websocket.MessageType, data []byte) {
	if typ == websocket.MessageBinary {
		w.handleBinary(data)
		return
	}
	m, err := w.decodeFrame(data)
	if err != nil {
		w.c.log.Warn("ignoring malformed message from server", "error", err)
		return
	}
	w.handle(m)
}

func (w *wsConn) handle(m phoenix.Message) {
	if m.Event == phoenix.EventReply {
		var r struct {
			Status   string          `json:"status"`
			Response json.RawMessage `json:"response"`
		}
		_ = json.Unmarshal(m.Payload, &r)
		ref := phoenix.RefString(m.Ref)
		w.mu.Lock()
		if m.Topic == phoenix.TopicPhoenix && ref == w.heartbeat {
			w.heartbeat = ""
		}
		wait := w.pending[ref]
		delete(w.pending, ref)
		w.mu.Unlock()
		if wait != nil {
			wait <- replyMsg{status: r.Status, response: r.Response}
		}
		return
	}
	w.c.mu.Lock()
	ch := w.c.channels[m.Topic]
	w.c.mu.Unlock()
	if ch != nil {
		ch.receive(w, m)
	}
}

func (w *wsConn) handleBinary(data []byte) {
	b, err := phoenix.DecodeUserBroadcast(data)
	if err != nil {
		w.c.log.Warn("ignoring malformed binary message from server", "error", err)
		return
	}
	w.c.mu.Lock()
	ch := w.c.channels[b.Topic]
	w.c.mu.Unlock()
	if ch == nil {
		return
	}
	ev := &BroadcastEvent{Event: b.Event, Meta: append(json.RawMessage(nil), b.Metadata...)}
	if len(ev.Meta) == 0 {
		ev.Meta = nil
	}
	if b.JSON {
		ev.Payload = append(json.RawMessage(nil), b.Payload...)
	} else {
		ev.Binary = append([]byte(nil), b.Payload...)
	}
	w.c.enqueue(ch, ev)
}

// heartbeatLoop sends a heartbeat every interval; one still unanswered at
// the next tick means the connection is dead. Each tick also refreshes the
// access token, as realtime-js does.
func (w *wsConn) heartbeatLoop() {
	t := time.NewTicker(w.c.o.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.mu.Lock()
		missed := w.heartbeat != ""
		ref := w.c.nextRef()
		w.heartbeat = phoenix.RefString(ref)
		w.mu.Unlock()
		if missed {
			w.c.log.Info("heartbeat not answered; reconnecting")
			w.fail(errors.New("realtime: heartbeat timeout"))
			return
		}
		if err := w.write(w.c.ctx, phoenix.Message{JoinRef: phoenix.Null, Ref: ref, Topic: phoenix.TopicPhoenix, Event: phoenix.EventHeartbeat, Payload: json.RawMessage("{}")}); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(w.c.ctx, w.c.o.timeout)
		if err := w.c.RefreshAuth(ctx); err != nil {
			w.c.log.Warn("refresh access token", "error", err)
		}
		cancel()
	}
}
