// Package sockettest holds many idle realtime WebSockets open against a
// server, from a child process, so that tests and benchmarks can measure
// what the server spends per connection without counting the clients (and
// so that both ends of thousands of loopback connections do not share one
// process's file-descriptor limit).
//
// The child is the test binary itself, re-executed to run one test that
// does nothing unless the parent set it up. A package that uses Start
// declares that test:
//
//	func TestSocketClientsProcess(t *testing.T) { sockettest.Child() }
//
// The child dials the sockets (a few at a time), optionally joins one
// channel on each, heartbeats every 20 s like realtime-js, prints "ready",
// and then answers the parent's commands on stdin: "check" sends a
// heartbeat on every socket and reports how many answered. It exits when
// its stdin closes.
package sockettest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Environment of the child process.
const (
	envURL      = "SOCKETTEST_URL"
	envCount    = "SOCKETTEST_COUNT"
	envJoin     = "SOCKETTEST_JOIN"
	envParallel = "SOCKETTEST_PARALLEL"
)

// heartbeatEvery is how often each socket heartbeats (realtime-js: 25 s;
// the server closes a socket silent for 60 s).
const heartbeatEvery = 20 * time.Second

// Options change Start.
type Options struct {
	// Join joins one channel per socket (topic realtime:idle-<i mod 16>),
	// as an application's idle client would be.
	Join bool
	// Parallel is how many sockets are being opened at once; default 32.
	Parallel int
	// Timeout bounds opening all the sockets; default 5 minutes.
	Timeout time.Duration
}

// Clients are sockets held by a child process.
type Clients struct {
	// Elapsed is how long the child took to open (and join) them all.
	Elapsed time.Duration

	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	once  sync.Once
}

// Start opens n WebSockets to url (ws://…/websocket?apikey=…&vsn=2.0.0)
// from a child process and returns once all are open, or fails the test.
// The child is stopped when the test ends.
func Start(t testing.TB, url string, n int, opts Options) *Clients {
	t.Helper()
	if opts.Parallel <= 0 {
		opts.Parallel = 32
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSocketClientsProcess$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(),
		envURL+"="+url,
		envCount+"="+strconv.Itoa(n),
		envJoin+"="+strconv.FormatBool(opts.Join),
		envParallel+"="+strconv.Itoa(opts.Parallel),
	)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("sockettest: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("sockettest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sockettest: start the client process: %v", err)
	}
	c := &Clients{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	t.Cleanup(c.Close)
	timer := time.AfterFunc(opts.Timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	line, err := c.next("ready")
	if err != nil {
		t.Fatalf("sockettest: opening %d sockets: %v", n, err)
	}
	ms, _ := strconv.ParseInt(line, 10, 64)
	c.Elapsed = time.Duration(ms) * time.Millisecond
	return c
}

// next reads the child's output up to a line starting with word and
// returns the rest of that line; "error …" lines and exits are errors.
func (c *Clients) next(word string) (string, error) {
	for c.lines.Scan() {
		line := c.lines.Text()
		if rest, ok := strings.CutPrefix(line, word+" "); ok {
			return rest, nil
		}
		if rest, ok := strings.CutPrefix(line, "error "); ok {
			return "", errors.New(rest)
		}
	}
	if err := c.lines.Err(); err != nil {
		return "", err
	}
	return "", errors.New("the client process exited")
}

// Check heartbeats on every socket and returns how many answered.
func (c *Clients) Check(t testing.TB) int {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "check\n"); err != nil {
		t.Fatalf("sockettest: check: %v", err)
	}
	line, err := c.next("alive")
	if err != nil {
		t.Fatalf("sockettest: check: %v", err)
	}
	n, _ := strconv.Atoi(line)
	return n
}

// Close closes the sockets and waits for the child to exit.
func (c *Clients) Close() {
	c.once.Do(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
}

// Child runs the client side when the test binary was started by Start,
// and returns at once otherwise. It never returns in the child.
func Child() {
	url := os.Getenv(envURL)
	if url == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(envCount))
	parallel, _ := strconv.Atoi(os.Getenv(envParallel))
	join := os.Getenv(envJoin) == "true"
	if err := runChild(url, n, parallel, join); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// socket is one client connection: its reader counts heartbeat replies.
type socket struct {
	ws      *websocket.Conn
	replies chan struct{}
}

func runChild(url string, n, parallel int, join bool) error {
	start := time.Now()
	socks := make([]*socket, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s, err := open(url, i, join)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("socket %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				socks[i] = s
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("ready %d\n", time.Since(start).Milliseconds())

	stop := make(chan struct{})
	var beat sync.Mutex // heartbeats and checks do not interleave
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				beat.Lock()
				heartbeatAll(socks)
				beat.Unlock()
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "check" {
			beat.Lock()
			fmt.Printf("alive %d\n", heartbeatAll(socks))
			beat.Unlock()
		}
	}
	close(stop)
	for _, s := range socks {
		s.ws.CloseNow()
	}
	return nil
}

// heartbeatAll sends a heartbeat on every socket and counts the replies
// that arrive within 30 s.
func heartbeatAll(socks []*socket) int {
	frame := []byte(`[null,"hb","phoenix","heartbeat",{}]`)
	for _, s := range socks {
		for len(s.replies) > 0 { // forget replies to earlier heartbeats
			<-s.replies
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.ws.Write(ctx, websocket.MessageText, frame)
		cancel()
	}
	deadline := time.After(30 * time.Second)
	alive := 0
	for _, s := range socks {
		select {
		case <-s.replies:
			alive++
		case <-deadline:
			return alive
		}
	}
	return alive
}

func open(url string, i int, join bool) (*socket, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	s := &socket{ws: ws, replies: make(chan struct{}, 4)}
	joined := make(chan error, 1)
	if join {
		msg := fmt.Sprintf(`["1","1","realtime:idle-%d","phx_join",{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":""},"postgres_changes":[],"private":false}}]`, i%16)
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			ws.CloseNow()
			return nil, fmt.Errorf("join: %w", err)
		}
	} else {
		joined <- nil
	}
	go s.read(joined, join)
	select {
	case err := <-joined:
		if err != nil {
			ws.CloseNow()
			return nil, err
		}
	case <-ctx.Done():
		ws.CloseNow()
		return nil, fmt.Errorf("join: %w", ctx.Err())
	}
	return s, nil
}

// read consumes the socket's frames: the join reply, heartbeat replies
// and anything else the server pushes.
func (s *socket) read(joined chan error, waiting bool) {
	for {
		_, data, err := s.ws.Read(context.Background())
		if err != nil {
			if waiting {
				joined <- fmt.Errorf("join: %w", err)
			}
			return
		}
		switch {
		case waiting && bytes.HasPrefix(data, []byte(`["1","1",`)):
			waiting = false
			if bytes.Contains(data, []byte(`"status":"ok"`)) {
				joined <- nil
			} else {
				joined <- fmt.Errorf("join refused: %s", data)
			}
		case bytes.HasPrefix(data, []byte(`[null,"hb",`)):
			select {
			case s.replies <- struct{}{}:
			default:
			}
		}
	}
}
