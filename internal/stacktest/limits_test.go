package stacktest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/internal/sockettest"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// TestSocketClientsProcess is the client side of sockettest.Start: it
// does nothing in a normal test run.
func TestSocketClientsProcess(t *testing.T) { sockettest.Child() }

// startLimited boots a tenant of its own with small limits, so that the
// tests take seconds; nothing asserts how long anything took.
func startLimited(t *testing.T, configure func(*tenant.Config)) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Configure: configure})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawHTTP is a client connection speaking HTTP/1.1 by hand.
type rawHTTP struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *Stack) *rawHTTP {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A safety net against a hung test, not a measurement.
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawHTTP{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawHTTP) write(s string) error {
	_, err := io.WriteString(r.c, s)
	return err
}

func (r *rawHTTP) response() (*http.Response, string, error) {
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, strings.TrimSpace(string(b)), err
}

func (r *rawHTTP) get(path, apikey string) (*http.Response, string, error) {
	if err := r.write("GET " + path + " HTTP/1.1\r\nHost: tenant\r\napikey: " + apikey + "\r\n\r\n"); err != nil {
		return nil, "", err
	}
	return r.response()
}

// closed reports whether the server closed the connection.
func (r *rawHTTP) closed() bool {
	_, err := r.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// Finding 4 of issue 11: a POST announcing Content-Length: 100000 and
// sending a byte now and then was held open indefinitely by REST and auth.
// Now every such sender gets Kong's 408 and a closed connection once the
// body deadline passes.
func TestSlowSendersGet408(t *testing.T) {
	s := startLimited(t, func(c *tenant.Config) {
		c.API.ReadHeaderTimeout = tenant.Duration(time.Second)
		c.API.ReadBodyTimeout = tenant.Duration(time.Second)
	})
	paths := []string{"/rest/v1/accounts", "/rest/v1/rpc/create_account", "/auth/v1/signup", "/auth/v1/token?grant_type=password"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer close(stop)
	for _, p := range paths {
		for i := 0; i < 3; i++ {
			c := dialRaw(t, s)
			if err := c.write("POST " + p + " HTTP/1.1\r\nHost: tenant\r\napikey: " + s.AnonKey + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"); err != nil {
				t.Fatal(err)
			}
			go func() { // a byte every 200 ms, until the server hangs up
				for {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Millisecond):
					}
					if c.write(" ") != nil {
						return
					}
				}
			}()
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body, err := c.response()
				if err != nil {
					t.Errorf("POST %s: no response: %v", p, err)
					return
				}
				var m struct {
					Message   string `json:"message"`
					RequestID string `json:"request_id"`
				}
				if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal([]byte(body), &m) != nil ||
					m.Message != "Request timeout" || m.RequestID == "" || m.RequestID != resp.Header.Get("X-Request-Id") {
					t.Errorf("POST %s: %d %s, want 408 with Kong's {\"message\":\"Request timeout\",\"request_id\":…}", p, resp.StatusCode, body)
				}
				if !c.closed() {
					t.Errorf("POST %s: the connection stays open after the 408", p)
				}
			}()
		}
	}
	wg.Wait()

	// Headers that never end: the connection is closed.
	c := dialRaw(t, s)
	if err := c.write("POST /rest/v1/accounts HTTP/1.1\r\nHost: tenant\r\n"); err != nil {
		t.Fatal(err)
	}
	if !c.closed() {
		t.Error("a connection that never finished its headers stays open")
	}
	// The tenant serves normally.
	s.Do(t, http.MethodGet, "/auth/v1/health", "", nil, http.StatusOK, nil)
}

// wsDial opens a realtime socket through the gateway; a refusal comes back
// as its status and body.
func wsDial(t *testing.T, s *Stack) (*websocket.Conn, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := strings.Replace(s.URL, "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + s.AnonKey
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, strings.TrimSpace(string(b))
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws, http.StatusSwitchingProtocols, ""
}

// wsCall sends a vsn 2.0.0 frame and returns the reply with its ref.
func wsCall(t *testing.T, ws *websocket.Conn, ref, topic, event, payload string) (status, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := fmt.Sprintf(`[%q,%q,%q,%q,%s]`, ref, ref, topic, event, payload)
	if event == "heartbeat" {
		msg = fmt.Sprintf(`[null,%q,%q,%q,%s]`, ref, topic, event, payload)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("%s %s: %v", event, topic, err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("%s %s: %v", event, topic, err)
		}
		var f []json.RawMessage
		if json.Unmarshal(data, &f) != nil || len(f) != 5 {
			continue
		}
		var gotRef, gotEvent string
		json.Unmarshal(f[1], &gotRef)
		json.Unmarshal(f[3], &gotEvent)
		if gotRef != ref || gotEvent != "phx_reply" {
			continue
		}
		var p struct {
			Status   string `json:"status"`
			Response struct {
				Reason string `json:"reason"`
			} `json:"response"`
		}
		json.Unmarshal(f[4], &p)
		return p.Status, p.Response.Reason
	}
}

// The connection cap counts WebSockets and answers the connection beyond
// it with 503 while the admitted ones keep working; realtime sockets live
// past the header and body deadlines; tenant.yaml's realtime limits reach
// the realtime server.
func TestConnectionCapAndLongLivedSockets(t *testing.T) {
	s := startLimited(t, func(c *tenant.Config) {
		c.API.ReadHeaderTimeout = tenant.Duration(time.Second)
		c.API.ReadBodyTimeout = tenant.Duration(time.Second)
		c.API.MaxConnections = 6
		c.Realtime.MaxConcurrentUsers = 3
		c.Realtime.MaxChannelsPerClient = 2
	})
	var sockets []*websocket.Conn
	for i := 0; i < 3; i++ {
		ws, status, body := wsDial(t, s)
		if ws == nil {
			t.Fatalf("socket %d: %d %s", i, status, body)
		}
		sockets = append(sockets, ws)
	}
	if _, status, body := wsDial(t, s); status != http.StatusTooManyRequests || body != `{"error":"Too many connected users"}` {
		t.Fatalf("4th socket: %d %s, want 429 {\"error\":\"Too many connected users\"}", status, body)
	}
	for i, topic := range []string{"realtime:one", "realtime:two", "realtime:three"} {
		st, reason := wsCall(t, sockets[0], strconv.Itoa(i+1), topic, "phx_join", `{"config":{}}`)
		if i < 2 && st != "ok" || i == 2 && (st != "error" || reason != "ChannelRateLimitReached: Too many channels") {
			t.Fatalf("join %s: %s %q", topic, st, reason)
		}
	}

	// Three sockets and three HTTP connections fill the cap of six (the
	// refused socket's connection may take a moment to be closed).
	var conns []*rawHTTP
	for deadline := time.Now().Add(30 * time.Second); len(conns) < 3; {
		c := dialRaw(t, s)
		resp, body, err := c.get("/auth/v1/health", s.AnonKey)
		switch {
		case err == nil && resp.StatusCode == http.StatusOK:
			conns = append(conns, c)
		case err == nil && resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond)
		default:
			t.Fatalf("connection %d: %v %v %s", len(conns), err, resp, body)
		}
	}
	c := dialRaw(t, s)
	resp, body, err := c.get("/auth/v1/health", s.AnonKey)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		body != `{"message":"Too many connections: this tenant serves at most 6 at once; try again later"}` {
		t.Fatalf("7th connection: %v %v %s", err, resp, body)
	}
	if !c.closed() {
		t.Error("the refused connection stays open")
	}

	// Past both deadlines, idle sockets and keep-alive connections work.
	time.Sleep(2500 * time.Millisecond)
	for i, ws := range sockets {
		if st, _ := wsCall(t, ws, "hb"+strconv.Itoa(i), "phoenix", "heartbeat", `{}`); st != "ok" {
			t.Fatalf("socket %d after the deadlines: heartbeat %s", i, st)
		}
	}
	for i, c := range conns {
		if resp, body, err := c.get("/auth/v1/health", s.AnonKey); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d after the deadlines: %v %v %s", i, err, resp, body)
		}
	}

	// A socket closed makes room.
	sockets[0].Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := dialRaw(t, s)
		resp, _, err := c.get("/auth/v1/health", s.AnonKey)
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after a socket closed: %v %v", err, resp)
		}
	}
}

// TestManySockets holds RT_SOCKETS realtime sockets (each with one joined
// channel, heartbeating) on one tenant, through the gateway, from a child
// process, for RT_SOCKETS_HOLD (default 70 s: past the heartbeat timeout
// and every deadline), then checks that every one still answers and that
// one more is refused. It reports the time to open them and the tenant
// process's memory per socket. By default it holds 200 sockets for 2 s
// (every run checks the limit and the heartbeats); the full measurement
// takes a few minutes and needs 2×RT_SOCKETS file descriptors across the
// two processes:
//
//	RT_SOCKETS=10000 go test -run TestManySockets -v -timeout 30m ./internal/stacktest/
func TestManySockets(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RT_SOCKETS"))
	hold := 70 * time.Second
	if n <= 0 {
		n, hold = 200, 2*time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("RT_SOCKETS_HOLD")); err == nil {
		hold = d
	}
	s := startLimited(t, func(c *tenant.Config) {
		c.API.MaxConnections = n + 100
		c.Realtime.MaxConcurrentUsers = n
		c.Realtime.MaxJoinsPerSecond = n // the child joins as fast as it can
	})
	s.Do(t, http.MethodGet, "/auth/v1/health", "", nil, http.StatusOK, nil)
	before := sockettest.MeasureMemory()
	url := strings.Replace(s.URL, "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + s.AnonKey
	clients := sockettest.Start(t, url, n, sockettest.Options{Join: true, Timeout: 10 * time.Minute})
	after := sockettest.MeasureMemory()
	per := func(a, b int64) float64 { return float64(b-a) / float64(n) }
	t.Logf("%d sockets opened and joined in %s (%.0f/s)", n, clients.Elapsed.Round(time.Millisecond), float64(n)/clients.Elapsed.Seconds())
	t.Logf("sfp process: RSS %d MB → %d MB (%.0f B/socket); Go heap %.0f B/socket, goroutine stacks %.0f B/socket; goroutines %d → %d",
		before.RSS>>20, after.RSS>>20, per(before.RSS, after.RSS), per(before.Heap, after.Heap), per(before.Stacks, after.Stacks), before.Goroutines, after.Goroutines)

	if _, status, body := wsDial(t, s); status != http.StatusTooManyRequests || body != `{"error":"Too many connected users"}` {
		t.Errorf("socket %d: %d %s, want 429 {\"error\":\"Too many connected users\"}", n+1, status, body)
	}
	t.Logf("holding them for %s", hold)
	time.Sleep(hold)
	start := time.Now()
	alive := clients.Check(t)
	t.Logf("after %s: %d of %d sockets answered a heartbeat (round in %s); RSS %d MB", hold, alive, n, time.Since(start).Round(time.Millisecond), sockettest.ResidentBytes()>>20)
	if alive != n {
		t.Fatalf("%d of %d sockets alive", alive, n)
	}
	s.Do(t, http.MethodGet, "/auth/v1/health", "", nil, http.StatusOK, nil)
}

// tenant.yaml's realtime.max_dispatch_lag reaches the realtime server: the
// bound it enforces is the one /metrics reports.
func TestRealtimeDispatchLagSetting(t *testing.T) {
	s := startLimited(t, func(c *tenant.Config) {
		c.Realtime.MaxDispatchLag = tenant.Duration(3 * time.Second)
		c.Realtime.MessageRetention = tenant.Duration(5 * time.Hour)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := metrics.Fetch(ctx, http.DefaultClient, s.MonitoringURL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sc.Value("sfp_realtime_max_dispatch_lag_seconds"); !ok || v != 3 {
		t.Errorf("sfp_realtime_max_dispatch_lag_seconds = %v (present %v), want the configured 3", v, ok)
	}
}
