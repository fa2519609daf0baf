package realtimeserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkClientFanout measures the Go Realtime client (pkg/client/realtime)
// receiving postgres_changes fan-out, against BenchmarkFanout's raw
// WebSocket readers (which only look for the commit timestamp) as the
// baseline, side by side in one run: N users subscribe twice to inserts on
// a table with row-level security, once with each kind of client, each
// kind in a child process of its own; a writer commits rows at increasing
// rates. Each step reports, per kind, delivered messages per second,
// commit-to-handler latency p50/p95/p99 and the client process's CPU time
// per message; go/raw are the ratios. For scale, server-cpu-µs/msg is this
// process's CPU time (the server and the writer; PostgreSQL aside) per
// message delivered. The Go client is not the bottleneck of a watch when
// it delivers as many messages as the raw readers at the same latencies,
// and spends less per message than the server does.
//
// The default run is short. A longer one:
//
//	RT_BENCH_CLIENTS=500 RT_BENCH_RATES=20,40,60 RT_BENCH_STEP=10s \
//	  go test -run '^$' -bench ClientFanout -benchtime 1x ./pkg/server/realtimeserver/
func BenchmarkClientFanout(b *testing.B) { runOnce(b, runClientFanout) }

// clientKinds are the subscriber kinds, baseline first.
var clientKinds = []string{"raw", "go"}

func runClientFanout(b *testing.B, p fanoutParams) {
	nClients, rates, step := p.clients, p.rates, p.step
	db, users := newFanoutDB(b, nClients)
	// Both kinds connect and join at once: the tenant limits (joins per
	// second, concurrent users) would refuse them.
	env := startEnv(b, db, func(c *Config) {
		c.Limits = Limits{MaxConcurrentUsers: 1 << 20, MaxChannelsPerClient: 100, MaxJoinsPerSecond: 1 << 20, MaxEventsPerSecond: 1 << 20}
	})
	tokens := userTokens(users)

	children := map[string]*clientChild{}
	for _, kind := range clientKinds {
		c, err := startClientChild(kind, childSetup{URL: env.baseURL(), APIKey: env.anon, Tokens: tokens})
		if err != nil {
			b.Fatal(err)
		}
		defer c.stop()
		children[kind] = c
	}
	writer := db.Pool(b, "supabase_admin")
	b.ResetTimer()

	type total struct{ msgs, cpu int64 }
	totals := map[string]*total{"raw": {}, "go": {}}
	last := map[string]childReply{}
	var lastSecs float64
	var serverCPU, serverMsgs int64
	for _, rate := range rates {
		cpu := cpuNanos()
		start := time.Now()
		rows := writeAtRate(b, writer, rate, step)
		end := time.Now()
		want := rows * int64(nClients)
		// Stragglers (up to 5 s) count in the latencies instead of
		// looking lost.
		for _, kind := range clientKinds {
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				r, err := children[kind].call(childRequest{Op: "count", Start: start.UnixNano(), End: end.UnixNano()})
				if err != nil {
					b.Fatal(err)
				}
				if r.N >= want {
					break
				}
			}
		}
		secs := end.Sub(start).Seconds()
		stepCPU := cpuNanos() - cpu
		var stepMsgs int64
		for _, kind := range clientKinds {
			r, err := children[kind].call(childRequest{Op: "collect", Start: start.UnixNano(), End: end.UnixNano()})
			if err != nil {
				b.Fatal(err)
			}
			totals[kind].msgs += r.Delivered
			stepMsgs += r.Delivered
			totals[kind].cpu += r.CPUNanos
			last[kind] = r
			b.Logf("%-3s %4d changes/s × %d clients: %8.0f msgs/s delivered %d/%d  p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  client CPU %5.1f µs/msg",
				kind, rate, nClients, float64(r.Delivered)/secs, r.Delivered, want, r.P50, r.P95, r.P99, perMsgMicros(r.CPUNanos, r.Delivered))
		}
		b.Logf("server (this process: server, writer) %5.1f µs per delivered message", perMsgMicros(stepCPU, stepMsgs))
		serverCPU += stepCPU
		serverMsgs += stepMsgs
		lastSecs = secs
	}
	b.StopTimer()
	for _, kind := range clientKinds {
		r := last[kind]
		b.ReportMetric(float64(r.Delivered)/lastSecs, kind+"-msgs/s")
		b.ReportMetric(r.P95, kind+"-p95-ms")
		b.ReportMetric(perMsgMicros(totals[kind].cpu, totals[kind].msgs), kind+"-cpu-µs/msg")
	}
	if last["raw"].Delivered > 0 && last["raw"].P95 > 0 && totals["raw"].cpu > 0 && totals["go"].msgs > 0 {
		b.ReportMetric(float64(last["go"].Delivered)/float64(last["raw"].Delivered), "go/raw-msgs")
		b.ReportMetric(last["go"].P95/last["raw"].P95, "go/raw-p95")
		b.ReportMetric(perMsgMicros(totals["go"].cpu, totals["go"].msgs)/perMsgMicros(totals["raw"].cpu, totals["raw"].msgs), "go/raw-cpu")
	}
	b.ReportMetric(perMsgMicros(serverCPU, serverMsgs), "server-cpu-µs/msg")
	b.ReportMetric(float64(nClients), "clients")
}

func perMsgMicros(cpuNanos, msgs int64) float64 {
	if msgs == 0 {
		return 0
	}
	return float64(cpuNanos) / 1e3 / float64(msgs)
}

// clientChild is a child process running one kind of subscribers.
type clientChild struct {
	kind    string
	cmd     *exec.Cmd
	in      io.WriteCloser
	replies chan []byte
}

// startClientChild starts this test binary as a child running kind's
// subscribers and waits until they are all subscribed.
func startClientChild(kind string, setup childSetup) (*clientChild, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), clientChildEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s clients: %w", kind, err)
	}
	c := &clientChild{kind: kind, cmd: cmd, in: in, replies: make(chan []byte)}
	go func() {
		defer close(c.replies)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.replies <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	line, _ := json.Marshal(setup)
	if _, err := in.Write(append(line, '\n')); err != nil {
		c.stop()
		return nil, fmt.Errorf("set up %s clients: %w", kind, err)
	}
	if _, err := c.reply(5 * time.Minute); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *clientChild) call(req childRequest) (childReply, error) {
	line, _ := json.Marshal(req)
	if _, err := c.in.Write(append(line, '\n')); err != nil {
		return childReply{}, fmt.Errorf("%s clients: %w", c.kind, err)
	}
	return c.reply(time.Minute)
}

func (c *clientChild) reply(timeout time.Duration) (childReply, error) {
	var r childReply
	select {
	case line, ok := <-c.replies:
		if !ok {
			return r, fmt.Errorf("%s clients: the child process ended", c.kind)
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return r, fmt.Errorf("%s clients: reply %q: %w", c.kind, line, err)
		}
		if r.Error != "" {
			return r, fmt.Errorf("%s clients: %s", c.kind, r.Error)
		}
		return r, nil
	case <-time.After(timeout):
		return r, fmt.Errorf("%s clients: no reply within %s", c.kind, timeout)
	}
}

// stop asks the child to quit and waits for it, killing it if it does not
// end within a minute.
func (c *clientChild) stop() {
	line, _ := json.Marshal(childRequest{Op: "quit"})
	_, _ = c.in.Write(append(line, '\n'))
	_ = c.in.Close()
	done := make(chan struct{})
	go func() {
		for range c.replies {
		}
		_ = c.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
