package realtime

import (
	"encoding/json"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// Frames as the embedded server sends them to a vsn 2.0.0 subscriber of
// the fan-out benchmark (pkg/server/realtimeserver BenchmarkFanout): an
// INSERT into its RLS table, and a broadcast of task progress as a
// database trigger would send it.
const (
	benchChangeFrame    = `[null,null,"realtime:bench","postgres_changes",{"ids":[38734629],"data":{"schema":"public","table":"rt_bench","type":"INSERT","commit_timestamp":"2026-12-07T05:40:00.123Z","columns":[{"name":"id","type":"int8"},{"name":"account","type":"int4"},{"name":"payload","type":"text"},{"name":"created_at","type":"timestamptz"}],"record":{"id":123456,"account":1,"payload":"row 17","created_at":"2026-12-07T05:40:00.123456+00:00"}}}]`
	benchBroadcastFrame = `[null,null,"realtime:bench","broadcast",{"type":"broadcast","event":"progress","payload":{"task_id":"4f7d3c2e-9a51-4d0b-8a43-2f1c7e6b5a90","status":"running","step":"pull image","done":3,"total":7,"at":"2026-12-07T05:40:00.123Z"}}]`
)

// BenchmarkClientDecode measures what the client does per received frame
// after the socket read — decode the Phoenix frame and its payload, find
// the channel and binding, queue the event and call the handler on the
// dispatcher goroutine — against the baseline of one bare json.Unmarshal
// of the same frame into typed Go values (the least encoding/json can do
// to read it), side by side in one run. It reports wall time, process CPU
// time (which counts the dispatcher goroutine's share wherever it ran) and
// allocations per frame of each, and the ratios. The wall time includes
// handing each event to the dispatcher goroutine; on a loaded machine that
// wait inflates it, and the CPU ratio is the steadier figure.
//
//	go -C pkg/client test -run '^$' -bench ClientDecode -benchmem ./realtime/
func BenchmarkClientDecode(b *testing.B) {
	b.Run("postgres_changes", func(b *testing.B) {
		benchDecode(b, benchChangeFrame, func() {
			var p struct {
				IDs  []int64 `json:"ids"`
				Data struct {
					Schema          string          `json:"schema"`
					Table           string          `json:"table"`
					Type            string          `json:"type"`
					CommitTimestamp string          `json:"commit_timestamp"`
					Columns         []Column        `json:"columns"`
					Record          json.RawMessage `json:"record"`
					OldRecord       json.RawMessage `json:"old_record"`
					Errors          []string        `json:"errors"`
				} `json:"data"`
			}
			var topic, event string
			frame := []any{nil, nil, &topic, &event, &p}
			if err := json.Unmarshal([]byte(benchChangeFrame), &frame); err != nil || p.Data.Table != "rt_bench" {
				b.Fatalf("baseline decode: %v %+v", err, p)
			}
		})
	})
	b.Run("broadcast", func(b *testing.B) {
		benchDecode(b, benchBroadcastFrame, func() {
			var p struct {
				Type    string          `json:"type"`
				Event   string          `json:"event"`
				Payload json.RawMessage `json:"payload"`
				Meta    json.RawMessage `json:"meta"`
			}
			var topic, event string
			frame := []any{nil, nil, &topic, &event, &p}
			if err := json.Unmarshal([]byte(benchBroadcastFrame), &frame); err != nil || p.Event != "progress" {
				b.Fatalf("baseline decode: %v %+v", err, p)
			}
		})
	})
}

// benchDecode runs b.N frames through the client's read path and b.N
// baseline decodes, interleaved in chunks so that a machine whose load
// varies weighs on both alike, and reports both.
func benchDecode(b *testing.B, frame string, baseline func()) {
	const chunk = 64
	w, handled, expect := benchConn(b)
	data := []byte(frame)
	buf := make([]byte, 0, len(data))
	b.ReportAllocs()
	b.ResetTimer()
	var client, base phase
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		client.run(n, func() {
			handlers := expect(n)
			for i := 0; i < n; i++ {
				// The frame is copied as the reader copies it out of the
				// socket.
				w.frame(websocket.MessageText, append(buf[:0], data...))
			}
			<-handlers
		})
		base.run(n, func() {
			for i := 0; i < n; i++ {
				buf = append(buf[:0], data...)
				baseline()
			}
		})
	}
	b.StopTimer()
	if got := handled.Load(); got != int64(b.N) {
		b.Fatalf("handled %d of %d frames", got, b.N)
	}
	b.ReportMetric(client.nsPer(), "client-ns/frame")
	b.ReportMetric(base.nsPer(), "unmarshal-ns/frame")
	b.ReportMetric(client.nsPer()/base.nsPer(), "client/unmarshal")
	if base.cpu > 0 {
		b.ReportMetric(client.cpuPer(), "client-cpu-ns/frame")
		b.ReportMetric(base.cpuPer(), "unmarshal-cpu-ns/frame")
		b.ReportMetric(client.cpuPer()/base.cpuPer(), "client/unmarshal-cpu")
	}
	b.ReportMetric(client.allocsPer(), "client-allocs/frame")
	b.ReportMetric(base.allocsPer(), "unmarshal-allocs/frame")
}

// phase sums the wall time and heap allocations of a measured part.
type phase struct {
	n, ns, cpu, allocs int64
}

func (p *phase) run(n int, f func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := processCPUNanos()
	start := time.Now()
	f()
	p.ns += time.Since(start).Nanoseconds()
	p.cpu += processCPUNanos() - cpu
	runtime.ReadMemStats(&after)
	p.n += int64(n)
	p.allocs += int64(after.Mallocs - before.Mallocs)
}

func (p *phase) nsPer() float64     { return float64(p.ns) / float64(p.n) }
func (p *phase) cpuPer() float64    { return float64(p.cpu) / float64(p.n) }
func (p *phase) allocsPer() float64 { return float64(p.allocs) / float64(p.n) }

// benchConn returns a connection without a socket whose client has one
// joined channel, "bench", with a postgres_changes binding (id 38734629,
// as in benchChangeFrame) and a broadcast binding, and its dispatcher
// running. handled counts handler calls; expect(n) returns a channel
// closed once the handlers ran n more times.
func benchConn(b *testing.B) (w *wsConn, handled *atomic.Int64, expect func(n int) <-chan struct{}) {
	c, err := New("ws://127.0.0.1:1", "key")
	if err != nil {
		b.Fatal(err)
	}
	handled = new(atomic.Int64)
	var target atomic.Int64
	var done atomic.Pointer[chan struct{}]
	count := func() {
		if handled.Add(1) == target.Load() {
			close(*done.Load())
		}
	}
	ch := c.Channel("bench").
		OnPostgresChanges(PostgresChangesFilter{Event: Insert, Table: "rt_bench"}, func(e *PostgresChangeEvent) {
			if e.Table != "rt_bench" || len(e.Record) == 0 || e.CommitTimestamp.IsZero() {
				panic("benchmark change decoded wrongly")
			}
			count()
		}).
		OnBroadcast("progress", func(e *BroadcastEvent) {
			if len(e.Payload) == 0 {
				panic("benchmark broadcast decoded wrongly")
			}
			count()
		})
	w = &wsConn{c: c, pending: map[string]chan replyMsg{}, done: make(chan struct{})}
	ch.pg[0].id = 38734629
	ch.state, ch.conn, ch.joinRef, ch.want = stateJoined, w, phoenix.StringRef("1"), true
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.goroutines.add(1)
	go func() { defer c.goroutines.done(); c.dispatch() }()
	b.Cleanup(func() { c.Close() })
	expect = func(n int) <-chan struct{} {
		d := make(chan struct{})
		done.Store(&d)
		target.Store(handled.Load() + int64(n))
		return d
	}
	return w, handled, expect
}
