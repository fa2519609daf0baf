package realtimeserver

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/internal/sockettest"
)

// TestSocketClientsProcess is the client side of sockettest.Start: it
// does nothing in a normal test run.
func TestSocketClientsProcess(t *testing.T) { sockettest.Child() }

// BenchmarkIdleSocketMemory measures what the server holds per idle
// realtime connection (a socket with one joined channel, heartbeating):
// Go heap and goroutine stacks, and the process's resident memory, before
// and after opening the sockets from a child process. The baseline, in the
// same run, is a bare coder/websocket server answering the same frames
// with one goroutine per connection; realtime/bare is the ratio.
//
//	RT_BENCH_SOCKETS=2000 go test -run '^$' -bench IdleSocketMemory -benchtime 1x ./pkg/server/realtimeserver/
func BenchmarkIdleSocketMemory(b *testing.B) {
	n := envInt("RT_BENCH_SOCKETS", 1000)
	for i := 0; i < b.N; i++ {
		if i > 0 {
			break // one measured run, whatever b.N
		}
		bare := measureSockets(b, n, startBareServer(b))
		env := newEnv(b, func(c *Config) {
			c.Limits.MaxConcurrentUsers = n + 10
			c.Limits.MaxJoinsPerSecond = 1_000_000
		})
		rt := measureSockets(b, n, socketServer{
			url:   wsURL(env),
			count: func() int { return env.srv.Stats().Connections },
		})
		b.Logf("%d idle sockets: realtime %.0f B/socket (heap %.0f + stacks %.0f), RSS %.0f B/socket; bare websocket %.0f B/socket (heap %.0f + stacks %.0f), RSS %.0f B/socket; opened in %s (realtime) and %s (bare)",
			n, rt.heap+rt.stacks, rt.heap, rt.stacks, rt.rss, bare.heap+bare.stacks, bare.heap, bare.stacks, bare.rss,
			rt.elapsed.Round(time.Millisecond), bare.elapsed.Round(time.Millisecond))
		b.ReportMetric(rt.heap+rt.stacks, "B/socket")
		b.ReportMetric(rt.rss, "rss-B/socket")
		b.ReportMetric(bare.heap+bare.stacks, "bare-B/socket")
		b.ReportMetric((rt.heap+rt.stacks)/(bare.heap+bare.stacks), "realtime/bare")
	}
}

// socketServer is what measureSockets needs of a server: where to connect
// and how many sockets it holds.
type socketServer struct {
	url   string
	count func() int
}

type socketCost struct {
	heap, stacks, rss float64 // bytes per socket
	elapsed           time.Duration
}

func measureSockets(b *testing.B, n int, srv socketServer) socketCost {
	b.Helper()
	m0 := sockettest.MeasureMemory()
	clients := sockettest.Start(b, srv.url, n, sockettest.Options{Join: true})
	for deadline := time.Now().Add(time.Minute); srv.count() < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the server holds %d sockets, want %d", srv.count(), n)
		}
	}
	m1 := sockettest.MeasureMemory()
	if path := os.Getenv("RT_BENCH_HEAP_PROFILE"); path != "" {
		// What the open sockets hold (go tool pprof -sample_index=inuse_space).
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if alive := clients.Check(b); alive != n {
		b.Fatalf("%d of %d sockets answer a heartbeat", alive, n)
	}
	clients.Close()
	per := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	return socketCost{heap: per(m0.Heap, m1.Heap), stacks: per(m0.Stacks, m1.Stacks), rss: per(m0.RSS, m1.RSS), elapsed: clients.Elapsed}
}

func wsURL(env *testEnv) string {
	return strings.Replace(env.baseURL(), "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + env.anon
}

// startBareServer is the baseline: a WebSocket server with one goroutine
// per connection that answers joins and heartbeats, and holds nothing else.
func startBareServer(b *testing.B) socketServer {
	var open atomic.Int64
	ok := []byte(`{"status":"ok","response":{}}]`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		open.Add(1)
		defer open.Add(-1)
		defer ws.CloseNow()
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			// [join_ref, ref, topic, event, payload] → the same refs and topic, phx_reply ok.
			i := bytes.Index(data, []byte(`,"phx_join",`))
			if i < 0 {
				i = bytes.Index(data, []byte(`,"heartbeat",`))
			}
			if i < 0 {
				continue
			}
			reply := append(append(append([]byte{}, data[:i]...), `,"phx_reply",`...), ok...)
			if err := ws.Write(context.Background(), websocket.MessageText, reply); err != nil {
				return
			}
		}
	}))
	b.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return socketServer{url: strings.Replace(srv.URL, "http://", "ws://", 1) + "/websocket", count: func() int { return int(open.Load()) }}
}
