package realtimeserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// The subscribers of BenchmarkClientFanout run in child processes (this
// test binary started again with clientChildEnv set), one process per
// kind of client, so each kind's CPU time is its own process's: what the
// Go client costs per message is measured, not guessed from a process
// shared with the server and the writer.

const clientChildEnv = "SFP_RT_CLIENT_BENCH_CHILD"

func init() {
	if kind := os.Getenv(clientChildEnv); kind != "" {
		if err := runClientChild(kind, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "client bench child %s: %v\n", kind, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// childSetup is the first line a child reads: where to connect and the
// users' tokens (on stdin, never on a command line).
type childSetup struct {
	URL    string   `json:"url"`
	APIKey string   `json:"apikey"`
	Tokens []string `json:"tokens"`
}

// childRequest asks a child for the changes committed in [Start, End):
// how many arrived ("count"), or their latencies ("collect", which also
// reports the CPU time used since the previous collect and forgets the
// samples). "quit" ends the child.
type childRequest struct {
	Op         string `json:"op"`
	Start, End int64  // unix ns
}

type childReply struct {
	Error     string  `json:"error,omitempty"`
	N         int64   `json:"n"`
	P50       float64 `json:"p50"`
	P95       float64 `json:"p95"`
	P99       float64 `json:"p99"`
	CPUNanos  int64   `json:"cpu_ns"`
	Delivered int64   `json:"delivered"`
}

// runClientChild connects the subscribers of one kind ("go": the
// pkg/client/realtime client; "raw": BenchmarkFanout's raw WebSocket
// readers), says it is ready, then answers requests until "quit".
func runClientChild(kind string, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	enc := json.NewEncoder(out)
	if !sc.Scan() {
		return fmt.Errorf("read setup: %w", sc.Err())
	}
	var setup childSetup
	if err := json.Unmarshal(sc.Bytes(), &setup); err != nil {
		return fmt.Errorf("read setup: %w", err)
	}
	var (
		bc          *benchClients
		stopClients func()
		err         error
	)
	switch kind {
	case "go":
		bc, stopClients, err = connectGoClients(setup)
	case "raw":
		bc, stopClients, err = connectRawClients(setup)
	default:
		err = fmt.Errorf("unknown client kind %q", kind)
	}
	if err != nil {
		_ = enc.Encode(childReply{Error: err.Error()})
		return err
	}
	defer stopClients()
	if path := os.Getenv("RT_BENCH_CLIENT_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(strings.ReplaceAll(path, "%s", kind))
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if err := enc.Encode(childReply{}); err != nil {
		return err
	}
	lastCPU := cpuNanos()
	for sc.Scan() {
		var req childRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		start, end := time.Unix(0, req.Start), time.Unix(0, req.End)
		var r childReply
		switch req.Op {
		case "count":
			r.N = bc.count(start, end)
		case "collect":
			lat, n := bc.collect(start, end)
			now := cpuNanos()
			r = childReply{Delivered: n, P50: percentile(lat, 50), P95: percentile(lat, 95), P99: percentile(lat, 99), CPUNanos: now - lastCPU}
			lastCPU = now
		case "quit":
			return nil
		default:
			return fmt.Errorf("unknown request %q", req.Op)
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return sc.Err()
}

// startCPUProfile writes the child's CPU profile to path until stopped.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuNanos is the user and system CPU time of this process.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// connectGoClients subscribes one pkg/client/realtime client per token to
// inserts into rt_bench; each handler records commit and receipt times.
func connectGoClients(s childSetup) (*benchClients, func(), error) {
	bc := newBenchClients(len(s.Tokens))
	clients := make([]*realtime.Client, len(s.Tokens))
	closeAll := func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}
	errs := make(chan error, len(s.Tokens))
	sem := make(chan struct{}, 16)
	for i, tok := range s.Tokens {
		c, err := realtime.New(s.URL, s.APIKey, realtime.WithAccessToken(func(context.Context) (string, error) { return tok, nil }))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		clients[i] = c
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- subscribeGoClient(c, bc, i)
		}()
	}
	for range s.Tokens {
		if err := <-errs; err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return bc, closeAll, nil
}

func subscribeGoClient(c *realtime.Client, bc *benchClients, i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("client %d: connect: %w", i, err)
	}
	ch := c.Channel("bench").OnPostgresChanges(realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_bench"},
		func(e *realtime.PostgresChangeEvent) {
			bc.record(i, e.CommitTimestamp.UnixNano(), time.Now().UnixNano())
		})
	if err := ch.Subscribe(ctx); err != nil {
		return fmt.Errorf("client %d: subscribe: %w", i, err)
	}
	return nil
}

// connectRawClients runs BenchmarkFanout's raw readers, with their
// heartbeats.
func connectRawClients(s childSetup) (*benchClients, func(), error) {
	bc, err := dialBenchClients(benchSocketURL(s.URL, s.APIKey), s.Tokens, changesSubscription)
	if err != nil {
		return nil, nil, err
	}
	return bc, bc.close, nil
}
