package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// The embedded server's tests (pkg/server/realtimeserver) run this client
// against the real server and PostgreSQL. These tests drive it with a
// scripted Phoenix server to reach what a healthy server never does: lost
// connections, silent heartbeats, refusals.

// fakeServer is a scripted Phoenix endpoint.
type fakeServer struct {
	t      *testing.T
	http   *httptest.Server
	handle func(fc *fakeConn, m phoenix.Message) // nil: default behaviour

	mu       sync.Mutex
	conns    []*fakeConn
	received []phoenix.Message
	accepts  atomic.Int32
	refuse   atomic.Int32 // HTTP status to refuse handshakes with
}

type fakeConn struct {
	s   *fakeServer
	ws  *websocket.Conn
	vsn string
}

func newFakeServer(t *testing.T, handle func(fc *fakeConn, m phoenix.Message)) *fakeServer {
	s := &fakeServer{t: t, handle: handle}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.closeAll()
		s.http.Close()
	})
	return s
}

func (s *fakeServer) url() string { return s.http.URL }

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if code := s.refuse.Load(); code != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(code))
		_, _ = w.Write([]byte(`{"error":"Token has expired"}`))
		return
	}
	if r.URL.Path != "/realtime/v1/websocket" || r.URL.Query().Get("apikey") != "key" {
		http.Error(w, "bad request "+r.URL.String(), http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	fc := &fakeConn{s: s, ws: ws, vsn: r.URL.Query().Get("vsn")}
	s.mu.Lock()
	s.conns = append(s.conns, fc)
	s.mu.Unlock()
	s.accepts.Add(1)
	defer ws.CloseNow()
	for {
		typ, data, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		m, err := phoenix.Decode(fc.vsn, data)
		if err != nil {
			s.t.Errorf("client sent an undecodable frame %q: %v", data, err)
			return
		}
		s.mu.Lock()
		s.received = append(s.received, m)
		s.mu.Unlock()
		if s.handle != nil {
			s.handle(fc, m)
		} else {
			fc.defaultHandle(m)
		}
	}
}

func (s *fakeServer) closeAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.CloseNow()
	}
}

func (s *fakeServer) messages(event string) []phoenix.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []phoenix.Message
	for _, m := range s.received {
		if m.Event == event {
			out = append(out, m)
		}
	}
	return out
}

func (fc *fakeConn) send(m phoenix.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = fc.ws.Write(ctx, websocket.MessageText, phoenix.Encode(fc.vsn, m))
}

func (fc *fakeConn) reply(m phoenix.Message, status string, response string) {
	fc.send(phoenix.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: "phx_reply",
		Payload: phoenix.AppendReplyPayload(nil, status, json.RawMessage(response))})
}

// defaultHandle answers heartbeats, and joins as the official server does:
// the bindings with ids 1, 2…, then a system message.
func (fc *fakeConn) defaultHandle(m phoenix.Message) {
	switch m.Event {
	case "heartbeat", "phx_leave":
		fc.reply(m, "ok", "{}")
	case "phx_join":
		var p struct {
			Config struct {
				PostgresChanges []map[string]any `json:"postgres_changes"`
			} `json:"config"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		for i, b := range p.Config.PostgresChanges {
			b["id"] = i + 1
		}
		resp, _ := json.Marshal(map[string]any{"postgres_changes": p.Config.PostgresChanges})
		fc.reply(m, "ok", string(resp))
		if len(p.Config.PostgresChanges) > 0 {
			fc.send(phoenix.Message{JoinRef: m.JoinRef, Ref: phoenix.Null, Topic: m.Topic, Event: "system",
				Payload: json.RawMessage(`{"extension":"postgres_changes","status":"ok","message":"Subscribed to PostgreSQL","channel":"x"}`)})
		}
	}
}

// newPushingServer starts a fake server with the default handling and
// returns it with the connection that last sent it a message, to which a
// test pushes events.
func newPushingServer(t *testing.T) (*fakeServer, *atomic.Pointer[fakeConn]) {
	var conn atomic.Pointer[fakeConn]
	s := newFakeServer(t, func(fc *fakeConn, m phoenix.Message) {
		conn.Store(fc)
		fc.defaultHandle(m)
	})
	return s, &conn
}

func newClient(t *testing.T, s *fakeServer, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond), WithTimeout(2 * time.Second)}, opts...)
	c, err := New(s.url(), "key", opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEndpointURL(t *testing.T) {
	cases := map[string]string{
		"http://localhost:54321":               "ws://localhost:54321/realtime/v1/websocket?apikey=k&vsn=2.0.0",
		"https://x.example/":                   "wss://x.example/realtime/v1/websocket?apikey=k&vsn=2.0.0",
		"http://gw:8000/realtime/v1":           "ws://gw:8000/realtime/v1/websocket?apikey=k&vsn=2.0.0",
		"ws://rt:4000/socket":                  "ws://rt:4000/socket/websocket?apikey=k&vsn=2.0.0",
		"wss://rt/realtime/v1/websocket?x=1":   "wss://rt/realtime/v1/websocket?apikey=k&vsn=2.0.0&x=1",
		"http://127.0.0.1:9/realtime/v1/":      "ws://127.0.0.1:9/realtime/v1/websocket?apikey=k&vsn=2.0.0",
		"wss://rt/realtime/v1/websocket/":      "wss://rt/realtime/v1/websocket?apikey=k&vsn=2.0.0",
		"http://user:pw@host/realtime/v1?vsn=": "ws://user:pw@host/realtime/v1/websocket?apikey=k&vsn=2.0.0",
	}
	for in, want := range cases {
		got, err := endpointURL(in, "k", phoenix.V2)
		if err != nil || got != want {
			t.Errorf("endpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "localhost:4000", "http://", "::"} {
		if _, err := endpointURL(bad, "k", phoenix.V2); err == nil {
			t.Errorf("endpointURL(%q) accepted a bad URL", bad)
		}
	}
	if _, err := New("http://x", ""); err == nil {
		t.Error("New accepted an empty API key")
	}
	if _, err := New("http://x", "k", WithProtocolVersion("3.0.0")); err == nil {
		t.Error("New accepted protocol version 3.0.0")
	}
}

func TestBackoffIsJitteredAndBounded(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	seen := map[time.Duration]bool{}
	for n := 0; n < 12; n++ {
		want := min << n
		if want > max || want <= 0 {
			want = max
		}
		for i := 0; i < 50; i++ {
			d := backoff(min, max, n)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays in 600 draws: not jittered", len(seen))
	}
}

func TestConnectErrorCarriesStatusAndMessage(t *testing.T) {
	s := newFakeServer(t, nil)
	s.refuse.Store(401)
	c, err := New(s.url(), "key")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Connect(ctx5(t))
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Status != 401 || ce.Message != "Token has expired" {
		t.Fatalf("Connect = %v, want *ConnectError 401 \"Token has expired\"", err)
	}
	if err := c.Channel("x").Subscribe(ctx5(t)); err == nil {
		t.Fatal("Subscribe without a connection succeeded")
	}
}

// TestSubscribeReportsServerReasons: a join error reply and a
// postgres_changes system error both make Subscribe fail with the
// server's reason; a refused channel is not rejoined.
func TestSubscribeReportsServerReasons(t *testing.T) {
	s := newFakeServer(t, func(fc *fakeConn, m phoenix.Message) {
		switch {
		case m.Event == "phx_join" && m.Topic == "realtime:refused":
			fc.reply(m, "error", `{"reason":"InvalidJWTToken: Token has expired 5 seconds ago"}`)
		case m.Event == "phx_join" && m.Topic == "realtime:broken":
			fc.reply(m, "ok", `{"postgres_changes":[{"event":"*","schema":"public","table":"nope","id":7}]}`)
			fc.send(phoenix.Message{JoinRef: m.JoinRef, Ref: phoenix.Null, Topic: m.Topic, Event: "system",
				Payload: json.RawMessage(`{"extension":"postgres_changes","status":"error","message":"Unable to subscribe to changes","channel":"broken"}`)})
		case m.Event == "phx_join" && m.Topic == "realtime:mismatch":
			fc.reply(m, "ok", `{"postgres_changes":[{"event":"*","schema":"public","table":"other","id":7}]}`)
		default:
			fc.defaultHandle(m)
		}
	})
	c := newClient(t, s)
	err := c.Channel("refused").Subscribe(ctx5(t))
	var se *ServerError
	if !errors.As(err, &se) || se.Reason != "InvalidJWTToken: Token has expired 5 seconds ago" || se.Topic != "realtime:refused" {
		t.Fatalf("join error: Subscribe = %v", err)
	}
	err = c.Channel("broken").OnPostgresChanges(PostgresChangesFilter{Table: "nope"}, nil).Subscribe(ctx5(t))
	if !errors.As(err, &se) || se.Reason != "Unable to subscribe to changes" {
		t.Fatalf("system error: Subscribe = %v", err)
	}
	err = c.Channel("mismatch").OnPostgresChanges(PostgresChangesFilter{Table: "mine"}, nil).Subscribe(ctx5(t))
	if err == nil || !strings.Contains(err.Error(), "mismatch between server and client bindings") {
		t.Fatalf("binding mismatch: Subscribe = %v", err)
	}
	// Reconnecting does not rejoin refused channels.
	joins := len(s.messages("phx_join"))
	s.closeAll()
	waitFor(t, func() bool { return s.accepts.Load() == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := len(s.messages("phx_join")); n != joins {
		t.Fatalf("%d joins after reconnecting, want none of the refused channels", n-joins)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventsAreRoutedByBindingID: changes go to the bindings whose ids the
// server lists and whose event matches; broadcasts by event name, binary
// ones included.
func TestEventsAreRoutedByBindingID(t *testing.T) {
	s, conn := newPushingServer(t)
	c := newClient(t, s)
	var mu sync.Mutex
	got := map[string][]string{}
	record := func(k string) func(*PostgresChangeEvent) {
		return func(e *PostgresChangeEvent) {
			mu.Lock()
			defer mu.Unlock()
			got[k] = append(got[k], string(e.Type)+":"+string(e.Record)+string(e.OldRecord))
		}
	}
	ch := c.Channel("room").
		OnPostgresChanges(PostgresChangesFilter{Event: Insert, Table: "a"}, record("ins")).
		OnPostgresChanges(PostgresChangesFilter{Table: "a", Filter: "id=eq.1"}, record("all")).
		OnBroadcast("cursor", func(e *BroadcastEvent) {
			mu.Lock()
			defer mu.Unlock()
			got["cursor"] = append(got["cursor"], string(e.Payload))
		})
	events := ch.Events(16)
	if err := ch.Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	fc := conn.Load()
	push := func(payload string) {
		fc.send(phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: "realtime:room", Event: "postgres_changes", Payload: json.RawMessage(payload)})
	}
	push(`{"ids":[1,2],"data":{"schema":"public","table":"a","type":"INSERT","commit_timestamp":"2024-01-01T00:00:00.123Z","columns":[{"name":"id","type":"int4"}],"record":{"id":1},"errors":null}}`)
	push(`{"ids":[1,2],"data":{"schema":"public","table":"a","type":"UPDATE","commit_timestamp":"2024-01-01T00:00:00.123Z","columns":[],"record":{"id":1},"old_record":{"id":1},"errors":null}}`)
	push(`{"ids":[1],"data":{"schema":"public","table":"a","type":"INSERT","commit_timestamp":"2024-01-01T00:00:00.123Z","columns":[],"record":{"id":2},"errors":null}}`)
	fc.send(phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: "realtime:room", Event: "broadcast", Payload: json.RawMessage(`{"type":"broadcast","event":"cursor","payload":{"x":1}}`)})
	bin, _ := phoenix.AppendUserBroadcast(nil, &phoenix.UserBroadcast{Topic: "realtime:room", Event: "cursor", JSON: true, Payload: []byte(`{"x":2}`)})
	ctx := ctx5(t)
	_ = fc.ws.Write(ctx, websocket.MessageBinary, bin)
	fc.send(phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: "realtime:room", Event: "broadcast", Payload: json.RawMessage(`{"type":"broadcast","event":"other","payload":{}}`)})

	var seen []string
	for len(seen) < 7 {
		select {
		case e := <-events:
			switch e := e.(type) {
			case *PostgresChangeEvent:
				seen = append(seen, "change:"+string(e.Type))
				if e.CommitTimestamp.UnixMilli()%1000 != 123 {
					t.Errorf("commit timestamp %v", e.CommitTimestamp)
				}
			case *BroadcastEvent:
				seen = append(seen, "broadcast:"+e.Event)
			case *StatusEvent:
				seen = append(seen, "status:"+string(e.Status))
			case *SystemEvent:
				seen = append(seen, "system:"+e.Status)
			}
		case <-ctx.Done():
			t.Fatalf("events so far %v", seen)
		}
	}
	want := "[system:ok status:SUBSCRIBED change:INSERT change:UPDATE change:INSERT broadcast:cursor broadcast:cursor]"
	if got := strings.Join(seen, " "); "["+got+"]" != want {
		t.Errorf("event order %s, want %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got["ins"], " ") != `INSERT:{"id":1} INSERT:{"id":2}` {
		t.Errorf("INSERT binding got %v", got["ins"])
	}
	if strings.Join(got["all"], " ") != `INSERT:{"id":1} UPDATE:{"id":1}{"id":1}` {
		t.Errorf("* binding with id 2 got %v", got["all"])
	}
	if strings.Join(got["cursor"], " ") != `{"x":1} {"x":2}` {
		t.Errorf("cursor broadcasts %v", got["cursor"])
	}
}

// TestReconnectRejoinsChannels: when the connection drops the client
// reconnects and rejoins with a new join ref, reporting the interruption.
func TestReconnectRejoinsChannels(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newClient(t, s)
	statuses := make(chan ChannelStatus, 16)
	ch := c.Channel("room").OnPostgresChanges(PostgresChangesFilter{Table: "t"}, nil).
		OnStatus(func(e *StatusEvent) { statuses <- e.Status })
	if err := ch.Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	var got []ChannelStatus
	next := func() {
		select {
		case st := <-statuses:
			got = append(got, st)
		case <-time.After(5 * time.Second):
			t.Fatalf("statuses %v", got)
		}
	}
	next() // SUBSCRIBED
	for i := 0; i < 3; i++ {
		s.closeAll()
		// Cut the connection again only once the channel is back:
		// CHANNEL_ERROR, then SUBSCRIBED after the rejoin.
		next()
		next()
	}
	if n := len(s.messages("phx_join")); n != 4 {
		t.Fatalf("%d joins, want 4 (one and three rejoins)", n)
	}
	want := []ChannelStatus{StatusSubscribed, StatusChannelError, StatusSubscribed, StatusChannelError, StatusSubscribed, StatusChannelError, StatusSubscribed}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	joins := s.messages("phx_join")
	if phoenix.SameRef(joins[0].JoinRef, joins[1].JoinRef) {
		t.Error("rejoin reused the join ref")
	}
}

// TestHeartbeatTimeoutReconnects: a server that stops answering
// heartbeats is left for a new connection.
func TestHeartbeatTimeoutReconnects(t *testing.T) {
	var silent atomic.Bool
	s := newFakeServer(t, func(fc *fakeConn, m phoenix.Message) {
		if m.Event == "heartbeat" && silent.Load() {
			return
		}
		fc.defaultHandle(m)
	})
	newClient(t, s, WithHeartbeatInterval(30*time.Millisecond))
	waitFor(t, func() bool { return len(s.messages("heartbeat")) >= 3 })
	if s.accepts.Load() != 1 {
		t.Fatalf("reconnected although heartbeats were answered")
	}
	silent.Store(true)
	waitFor(t, func() bool { return s.accepts.Load() >= 2 })
}

// TestTokenRefreshIsPushed: a new token from the source goes to joined
// channels as access_token, and rejoins use it.
func TestTokenRefreshIsPushed(t *testing.T) {
	s := newFakeServer(t, nil)
	var token atomic.Value
	token.Store("t1")
	c := newClient(t, s, WithHeartbeatInterval(20*time.Millisecond),
		WithAccessToken(func(context.Context) (string, error) { return token.Load().(string), nil }))
	if err := c.Channel("a").Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	join := s.messages("phx_join")[0]
	if !strings.Contains(string(join.Payload), `"access_token":"t1"`) {
		t.Fatalf("join payload %s lacks the access token", join.Payload)
	}
	token.Store("t2")
	waitFor(t, func() bool { return len(s.messages("access_token")) > 0 })
	m := s.messages("access_token")[0]
	if m.Topic != "realtime:a" || string(m.Payload) != `{"access_token":"t2"}` || !phoenix.SameRef(m.JoinRef, join.JoinRef) {
		t.Fatalf("access_token push = %+v", m)
	}
	time.Sleep(60 * time.Millisecond)
	if n := len(s.messages("access_token")); n != 1 {
		t.Fatalf("%d access_token pushes for one new token", n)
	}
	if err := c.RefreshAuth(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}

// TestProtocolVersion1: with vsn 1.0.0 the client sends JSON objects with
// join_ref.
func TestProtocolVersion1(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newClient(t, s, WithProtocolVersion(phoenix.V1))
	if err := c.Channel("a").OnPostgresChanges(PostgresChangesFilter{Table: "t"}, nil).Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	j := s.messages("phx_join")[0]
	if phoenix.RefString(j.JoinRef) == "" || !phoenix.SameRef(j.JoinRef, j.Ref) {
		t.Fatalf("vsn 1.0.0 join: join_ref %s ref %s", j.JoinRef, j.Ref)
	}
}

// TestUnsubscribeClosesEvents and the client's Close leave no goroutine
// behind, also while a reconnection is pending.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := newFakeServer(t, nil)
	for i := 0; i < 20; i++ {
		c, err := New(s.url(), "key", WithReconnectBackoff(time.Millisecond, 5*time.Millisecond), WithHeartbeatInterval(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		a := c.Channel("a").OnPostgresChanges(PostgresChangesFilter{Table: "t"}, func(*PostgresChangeEvent) {})
		ea := a.Events(1) // never read: delivery must not block Close
		if err := a.Subscribe(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		b := c.Channel("b")
		eb := b.Events(4)
		if err := b.Subscribe(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		if err := b.Unsubscribe(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		for range eb { // closed after Unsubscribe
		}
		if i%2 == 0 {
			s.closeAll() // a reconnection in flight
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for range ea {
		}
		if err := a.Subscribe(ctx5(t)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
		}
	}
	s.closeAll()
	s.http.Close()
}
