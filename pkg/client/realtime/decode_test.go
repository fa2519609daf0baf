package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

func v2Conn(t testing.TB) *wsConn {
	c, err := New("ws://127.0.0.1:1", "key")
	if err != nil {
		t.Fatal(err)
	}
	return &wsConn{c: c}
}

// TestDecodeFrameMatchesPhoenix: the one-pass split gives what
// phoenix.DecodeV2 gives, and frames outside its form still decode.
func TestDecodeFrameMatchesPhoenix(t *testing.T) {
	w := v2Conn(t)
	frames := []struct {
		frame string
		split bool // taken by the one-pass split
	}{
		{`[null,null,"realtime:room","postgres_changes",{"ids":[1],"data":{"record":{"a":"]"}}}]`, true},
		{` [ "3" , "7" , "realtime:room" , "phx_reply" , {"status":"ok","response":{}} ] ` + "\n", true},
		{`[12,-3.5e2,"realtime:room","broadcast",{"event":"x","payload":{}}]`, true},
		{`["1",null,"phoenix","phx_reply",{"status":"ok","response":{}}]`, true},
		{`[null,null,"realtime:r\u00f6om","system",{}]`, false},                  // escape in the topic
		{`[null,null,"realtime:room","phx_close",[]]`, false},                    // payload not an object
		{`[true,null,"realtime:room","phx_error",{}]`, false},                    // a reference neither null, string nor number
		{`[null,"a\"b","realtime:room","phx_reply",{}]`, false},                  // escape in a reference
		{`{"topic":"realtime:room","event":"x","payload":{},"ref":null}`, false}, // not an array
	}
	for _, f := range frames {
		_, split := w.splitV2([]byte(f.frame))
		if split != f.split {
			t.Errorf("%s: split %v, want %v", f.frame, split, f.split)
		}
		got, err := w.decodeFrame([]byte(f.frame))
		want, werr := phoenix.DecodeV2([]byte(f.frame))
		if (err == nil) != (werr == nil) {
			t.Errorf("%s: error %v, phoenix.DecodeV2 error %v", f.frame, err, werr)
			continue
		}
		if err == nil {
			sameMessage(t, f.frame, got, want)
		}
	}
}

func sameMessage(t *testing.T, frame string, got, want phoenix.Message) {
	t.Helper()
	if got.Topic != want.Topic || got.Event != want.Event || !phoenix.SameRef(got.Ref, want.Ref) ||
		!phoenix.SameRef(got.JoinRef, want.JoinRef) || !bytes.Equal(bytes.TrimSpace(got.Payload), bytes.TrimSpace(want.Payload)) {
		t.Errorf("%q: decoded %+v, phoenix.DecodeV2 %+v", frame, got, want)
	}
}

// FuzzDecodeFrame: whatever the one-pass split accepts with JSON
// references and payload, phoenix.DecodeV2 decodes the same way.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`[null,null,"realtime:room","postgres_changes",{"ids":[1]}]`))
	f.Add([]byte(`["1","2","phoenix","phx_reply",{"status":"ok"}]`))
	f.Add([]byte(`[1,2,"t","e",{},{}]`))
	f.Add([]byte(`[ null , 1e3 , "t" , "e" , { } ]`))
	w := v2Conn(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := w.splitV2(data)
		if !ok || !json.Valid(got.Payload) || !validRef(got.JoinRef) || !validRef(got.Ref) ||
			!utf8.ValidString(got.Topic) || !utf8.ValidString(got.Event) {
			return
		}
		want, err := phoenix.DecodeV2(data)
		if err != nil {
			t.Fatalf("%q: split, but phoenix.DecodeV2: %v", data, err)
		}
		sameMessage(t, string(data), got, want)
	})
}

func validRef(r json.RawMessage) bool { return json.Valid(r) }

// TestEventsKeepTheirBytes: the reader reuses its buffer for the next
// frame, so every event must own its bytes — records, columns, broadcast
// payloads and metadata — and a handler changing an event's columns
// changes no other event.
func TestEventsKeepTheirBytes(t *testing.T) {
	s, conn := newPushingServer(t)
	c := newClient(t, s)
	const n = 40
	var mu sync.Mutex
	var changes []*PostgresChangeEvent
	var firstCols []string // each change's first column, as delivered
	var broadcasts []*BroadcastEvent
	ch := c.Channel("room").
		OnPostgresChanges(PostgresChangesFilter{Table: "a"}, func(e *PostgresChangeEvent) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, e)
			if len(e.Columns) > 0 {
				firstCols = append(firstCols, e.Columns[0].Name)
				e.Columns[0].Name = "changed by a handler"
			}
		}).
		OnBroadcast("*", func(e *BroadcastEvent) {
			mu.Lock()
			defer mu.Unlock()
			broadcasts = append(broadcasts, e)
		})
	if err := ch.Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	fc := conn.Load()
	for i := 0; i < n; i++ {
		cols := `[{"name":"id","type":"int4"},{"name":"label","type":"text"}]`
		if i%4 == 0 {
			cols = `[{"name":"id","type":"int8"}]`
		}
		fc.send(phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: "realtime:room", Event: "postgres_changes",
			Payload: json.RawMessage(fmt.Sprintf(`{"ids":[1],"data":{"schema":"public","table":"a","type":"UPDATE","commit_timestamp":"2024-01-01T00:00:00Z","columns":%s,"record":{"id":%d,"label":"row %d"},"old_record":{"id":%d}}}`, cols, i, i, i))})
		bin, err := phoenix.AppendUserBroadcast(nil, &phoenix.UserBroadcast{Topic: "realtime:room", Event: "b", Metadata: []byte(fmt.Sprintf(`{"m":%d}`, i)), JSON: true, Payload: []byte(fmt.Sprintf(`{"x":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if err := fc.ws.Write(ctx5(t), websocket.MessageBinary, bin); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(changes) == n && len(broadcasts) == n
	})
	mu.Lock()
	defer mu.Unlock()
	for i, e := range changes {
		if string(e.Record) != fmt.Sprintf(`{"id":%d,"label":"row %d"}`, i, i) || string(e.OldRecord) != fmt.Sprintf(`{"id":%d}`, i) {
			t.Errorf("change %d: record %s old record %s", i, e.Record, e.OldRecord)
		}
		wantCols := 2
		if i%4 == 0 {
			wantCols = 1
		}
		if len(e.Columns) != wantCols || firstCols[i] != "id" || (wantCols == 2 && e.Columns[1] != Column{Name: "label", Type: "text"}) {
			t.Errorf("change %d: columns %+v", i, e.Columns)
		}
	}
	for i, e := range broadcasts {
		if string(e.Payload) != fmt.Sprintf(`{"x":%d}`, i) || string(e.Meta) != fmt.Sprintf(`{"m":%d}`, i) {
			t.Errorf("broadcast %d: payload %s meta %s", i, e.Payload, e.Meta)
		}
	}
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFullDeliveryQueueIsLogged: handlers slower than the server fill the
// delivery queue; the reader then waits and says so, and every event is
// still delivered in order once the handlers catch up.
func TestFullDeliveryQueueIsLogged(t *testing.T) {
	s, conn := newPushingServer(t)
	var logs lockedBuffer
	c := newClient(t, s, WithDeliveryQueue(1), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	ch := c.Channel("room").OnBroadcast("*", func(e *BroadcastEvent) {
		<-release
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(e.Payload))
	})
	if err := ch.Subscribe(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	fc := conn.Load()
	const n = 6
	for i := 0; i < n; i++ {
		fc.send(phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: "realtime:room", Event: "broadcast",
			Payload: json.RawMessage(fmt.Sprintf(`{"type":"broadcast","event":"e","payload":%d}`, i))})
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "delivery queue is full") })
	close(release)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "0,1,2,3,4,5" {
		t.Errorf("delivered %v", got)
	}
}
