package realtimeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// benchClients are the fan-out benchmarks' subscribers and what they
// received. The raw ones are lightweight Phoenix clients (a reader
// goroutine each, no JSON decoding beyond the commit timestamp) so the
// load generator costs as little as possible; BenchmarkClientFanout also
// records the Go client's handlers here.
type benchClients struct {
	conns []*websocket.Conn
	mu    sync.Mutex
	// samples per client: commit time and receive time, in ns
	samples [][][2]int64
	wg      sync.WaitGroup
	stop    chan struct{}
}

func newBenchClients(n int) *benchClients {
	return &benchClients{samples: make([][][2]int64, n), stop: make(chan struct{})}
}

// benchSubscription is what a raw subscriber joins "realtime:bench" for,
// and how it reads what it then receives.
type benchSubscription struct {
	// payload is the phx_join payload for a user's token.
	payload func(token string) []byte
	// joined is in the frame that settles the join; the join succeeded
	// when that frame also has "status":"ok".
	joined []byte
	// timestamp finds the commit time a message carries.
	timestamp func(data []byte) (time.Time, bool)
}

// changesSubscription subscribes to inserts into rt_bench. The join is
// settled by the "system" message saying whether the postgres_changes
// subscription is in place.
var changesSubscription = benchSubscription{
	payload: func(token string) []byte {
		p, _ := json.Marshal(joinPayload(token, map[string]any{"event": "INSERT", "schema": "public", "table": "rt_bench"}))
		return p
	},
	joined:    []byte(`"system"`),
	timestamp: commitTimestamp,
}

// broadcastSubscription joins the private topic "bench"; the join's reply
// settles it, since authorisation happens at join.
var broadcastSubscription = benchSubscription{
	payload: func(token string) []byte {
		p := joinPayload(token)
		p["config"].(map[string]any)["private"] = true
		data, _ := json.Marshal(p)
		return data
	},
	joined:    []byte(`"phx_reply"`),
	timestamp: broadcastTimestamp,
}

// benchTimeLayout is the commit_timestamp format of postgres_changes,
// which the broadcast trigger copies.
const benchTimeLayout = "2006-01-02T15:04:05.000Z"

var commitKey = []byte(`"commit_timestamp":"`)

// commitTimestamp reads a postgres_changes message's commit_timestamp
// without decoding the message.
func commitTimestamp(data []byte) (time.Time, bool) {
	k := bytes.Index(data, commitKey)
	if k < 0 {
		return time.Time{}, false
	}
	ts, err := time.Parse(benchTimeLayout, string(data[k+len(commitKey):k+len(commitKey)+24]))
	return ts, err == nil
}

var timestampKey = []byte(`"commit_timestamp"`)

// broadcastTimestamp reads the commit_timestamp a broadcast's payload
// carries; unlike a change's, it may stand after other white space.
func broadcastTimestamp(data []byte) (time.Time, bool) {
	k := bytes.Index(data, timestampKey)
	if k < 0 {
		return time.Time{}, false
	}
	rest := data[k+len(timestampKey):]
	q := bytes.IndexByte(rest, '"')
	if q < 0 || len(rest) < q+25 {
		return time.Time{}, false
	}
	ts, err := time.Parse(benchTimeLayout, string(rest[q+1:q+25]))
	return ts, err == nil
}

// benchSocketURL is the WebSocket address of the server behind the
// gateway-like mux at base.
func benchSocketURL(base, apikey string) string {
	return strings.Replace(strings.TrimRight(base, "/"), "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + apikey
}

// dialBenchClients connects a raw subscriber per token to url, joins each
// to sub (16 joins at a time) and keeps them alive with heartbeats until
// close. On error it closes what it opened.
func dialBenchClients(url string, tokens []string, sub benchSubscription) (*benchClients, error) {
	bc := newBenchClients(len(tokens))
	joined := make(chan error, len(tokens))
	sem := make(chan struct{}, 16)
	for i, tok := range tokens {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		cancel()
		if err != nil {
			bc.close()
			return nil, fmt.Errorf("client %d: dial: %w", i, err)
		}
		ws.SetReadLimit(8 << 20)
		bc.conns = append(bc.conns, ws)
		bc.wg.Add(1)
		go bc.read(i, ws, sub, sub.payload(tok), joined, sem)
	}
	for range tokens {
		if err := <-joined; err != nil {
			bc.close()
			return nil, err
		}
	}
	bc.wg.Add(1)
	go bc.heartbeat()
	return bc, nil
}

// heartbeat sends every connection a Phoenix heartbeat every 20 s, as a
// real client does, until close.
func (bc *benchClients) heartbeat() {
	defer bc.wg.Done()
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-bc.stop:
			return
		case <-t.C:
			for _, ws := range bc.conns {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = ws.Write(ctx, websocket.MessageText, []byte(`[null,"hb","phoenix","heartbeat",{}]`))
				cancel()
			}
		}
	}
}

// read joins client i to sub, reports on joined whether it succeeded
// (holding sem meanwhile), then records the commit and receive time of
// every message that carries a timestamp.
func (bc *benchClients) read(i int, ws *websocket.Conn, sub benchSubscription, joinPayload []byte, joined chan<- error, sem chan struct{}) {
	defer bc.wg.Done()
	sem <- struct{}{}
	ctx := context.Background()
	join := phoenix.AppendV2(nil, phoenix.Message{JoinRef: phoenix.StringRef("1"), Ref: phoenix.StringRef("1"), Topic: "realtime:bench", Event: "phx_join", Payload: joinPayload})
	if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
		<-sem
		joined <- err
		return
	}
	subscribed := false
	for {
		_, data, err := ws.Read(ctx)
		now := time.Now().UnixNano()
		if err != nil {
			if !subscribed {
				<-sem
				joined <- fmt.Errorf("client %d: %w", i, err)
			}
			return
		}
		if !subscribed {
			if bytes.Contains(data, sub.joined) {
				subscribed = true
				<-sem
				if bytes.Contains(data, []byte(`"status":"ok"`)) {
					joined <- nil
				} else {
					joined <- fmt.Errorf("client %d: %s", i, data)
				}
			}
			continue
		}
		if ts, ok := sub.timestamp(data); ok {
			bc.record(i, ts.UnixNano(), now)
		}
	}
}

// record notes that client i received, at now (unix ns), a change
// committed at commit.
func (bc *benchClients) record(i int, commit, now int64) {
	bc.mu.Lock()
	bc.samples[i] = append(bc.samples[i], [2]int64{commit, now})
	bc.mu.Unlock()
}

// count returns how many changes committed in [start, end) arrived.
func (bc *benchClients) count(start, end time.Time) int64 {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	lo, hi := start.Truncate(time.Millisecond).UnixNano(), end.UnixNano()
	var n int64
	for _, s := range bc.samples {
		for _, x := range s {
			if x[0] >= lo && x[0] < hi {
				n++
			}
		}
	}
	return n
}

// collect returns the latencies (ms) of the changes committed in
// [start, end) and how many were delivered, and forgets all samples.
func (bc *benchClients) collect(start, end time.Time) ([]float64, int64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	// Commit timestamps are truncated to the millisecond.
	lo, hi := start.Truncate(time.Millisecond).UnixNano(), end.UnixNano()
	var lat []float64
	for i, s := range bc.samples {
		for _, x := range s {
			if x[0] >= lo && x[0] < hi {
				lat = append(lat, float64(x[1]-x[0])/1e6)
			}
		}
		bc.samples[i] = bc.samples[i][:0]
	}
	sort.Float64s(lat)
	return lat, int64(len(lat))
}

func (bc *benchClients) close() {
	close(bc.stop)
	for _, ws := range bc.conns {
		ws.CloseNow()
	}
	bc.wg.Wait()
}
