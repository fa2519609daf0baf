package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sfp-dev/sfp/pkg/client"
)

const someID = "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"

// fakeServer is an httptest server that counts requests per method and
// answers with a function of the request number.
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	count   map[string]int
	headers []http.Header
}

func newFake(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *fakeServer {
	t.Helper()
	f := &fakeServer{count: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.count[r.Method]++
		n := f.count[r.Method]
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) n(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[method]
}

func projectJSON() string {
	return fmt.Sprintf(`{"id":%q,"account_id":%q,"identifier":"a/b","platform":"github","platform_settings":{},"settings":{},"version":1,"created_at":"2026-11-30T00:00:00.123456+00:00","updated_at":"2026-11-30T00:00:00.123456+00:00"}`, someID, someID)
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"code":"PGRST000","details":null,"hint":null,"message":"could not connect"}`))
}

// Idempotent reads are retried after a 503; the third attempt succeeds.
func TestRetriesIdempotentReadsOn503(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			unavailable(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(projectJSON()))
	})
	c, err := client.New(f.URL, "anon-key", client.WithRetryBackoff(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Projects.Get(context.Background(), someID)
	if err != nil {
		t.Fatalf("get after two 503s: %v", err)
	}
	if p.Identifier != "a/b" || f.n("GET") != 3 {
		t.Fatalf("project %+v after %d GETs", p, f.n("GET"))
	}
	// Every attempt carried the key and a bearer, each in one header.
	for _, h := range f.headers {
		if h.Get("apikey") != "anon-key" || h.Get("Authorization") != "Bearer anon-key" || len(h.Values("Apikey")) != 1 {
			t.Fatalf("headers %v", h)
		}
	}
}

// Retries are bounded: after the last one the 503 surfaces as
// ErrUnavailable with the server's message.
func TestRetriesAreBounded(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) { unavailable(w) })
	c, _ := client.New(f.URL, "k", client.WithRetries(2), client.WithRetryBackoff(time.Millisecond))
	defer c.Close()
	_, err := c.Projects.Get(context.Background(), someID)
	var e *client.Error
	if !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &e) || e.Message != "could not connect" {
		t.Fatalf("err %v", err)
	}
	if got := f.n("GET"); got != 3 {
		t.Fatalf("%d attempts, want 1 + 2 retries", got)
	}
}

// A 503 with Retry-After (what the embedded runtime sends while PostgreSQL
// restarts) is retried no sooner than the server asked, so that a call
// rides out the restart instead of spending its retries at once.
func TestRetryAfterIsHonoured(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			unavailable(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(projectJSON()))
	})
	c, _ := client.New(f.URL, "k", client.WithRetryBackoff(time.Millisecond))
	defer c.Close()
	if _, err := c.Projects.Get(context.Background(), someID); err != nil {
		t.Fatalf("get after a 503 with Retry-After: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// A lower bound only: a sleep is never shorter than asked.
	if len(at) != 2 || at[1].Sub(at[0]) < time.Second {
		t.Fatalf("retried %d times, %v apart; want once, at least 1s later", len(at)-1, at[len(at)-1].Sub(at[0]))
	}
}

// A Retry-After beyond the call's deadline (or beyond what the client waits
// out) returns the server's 503 at once instead of a deadline error later.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	for _, v := range []string{"20", "3600", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", v)
			unavailable(w)
		})
		c, _ := client.New(f.URL, "k", client.WithRetryBackoff(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Projects.Get(ctx, someID)
		cancel()
		c.Close()
		if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Retry-After %s: err %v, want the 503", v, err)
		}
		if got := f.n("GET"); got != 1 {
			t.Errorf("Retry-After %s: %d attempts, want 1", v, got)
		}
	}
}

// A write that reached the server is never retried: a 503 on PATCH is
// returned at once.
func TestWritesAreNotRetried(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) { unavailable(w) })
	c, _ := client.New(f.URL, "k", client.WithRetryBackoff(time.Millisecond))
	defer c.Close()
	one := 1
	_, err := c.Deployments.Report(context.Background(), someID, client.Progress{Progress: &one})
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	if got := f.n("PATCH"); got != 1 {
		t.Fatalf("PATCH sent %d times", got)
	}
}

// A server that cannot be reached gives ErrUnreachable naming the URL,
// for reads (after retries) and writes alike.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	c, _ := client.New(url, "k", client.WithRetryBackoff(time.Millisecond))
	defer c.Close()
	_, err = c.Projects.Get(context.Background(), someID)
	var ue *client.UnreachableError
	if !errors.Is(err, client.ErrUnreachable) || !errors.As(err, &ue) || ue.URL != url {
		t.Fatalf("read: %v", err)
	}
	_, err = c.Accounts.Create(context.Background(), "A", "a")
	if !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), url) {
		t.Fatalf("write: %v", err)
	}
}

// The default timeout bounds a call whose context has no deadline.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c, _ := client.New(f.URL, "k", client.WithTimeout(200*time.Millisecond), client.WithRetries(0))
	defer c.Close()
	_, err := c.Projects.Get(context.Background(), someID)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

// Cancelling the context stops a call the server would never answer: the
// call returns context.Canceled, the connection is closed, and after Close
// no goroutine of the client is left.
func TestCancellationStopsTheCallWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	release := make(chan struct{})
	var (
		mu     sync.Mutex
		states = map[net.Conn]http.ConnState{}
	)
	arrived := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		// Never answers on its own; returns only when the client hangs up
		// (the server cancels the request's context when it reads EOF).
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		states[c] = s
		mu.Unlock()
	}
	srv.Start()

	c, _ := client.New(srv.URL, "k", client.WithTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Projects.Get(ctx, someID)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// The client hung up: the server sees the connection closed (release
	// is still open, so only the client can have ended the request).
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		open := 0
		for _, s := range states {
			if s != http.StateClosed && s != http.StateHijacked {
				open++
			}
		}
		mu.Unlock()
		if open == 0 || time.Now().After(deadline) {
			if open != 0 {
				t.Errorf("%d connections still open after cancellation", open)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	close(release)
	srv.Close()
}

// A call on a closed client fails with ErrClosed and sends nothing.
func TestClosedClient(t *testing.T) {
	var hits atomic.Int32
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c, _ := client.New(f.URL, "k")
	c.Close()
	if _, err := c.Projects.Get(context.Background(), someID); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("err %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("a closed client sent a request")
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct{ url, key, want string }{
		{"", "k", "must be an http"}, {"ftp://x", "k", "must be an http"}, {"http://", "k", "must be an http"},
		{"http://127.0.0.1:1", " ", "API key"},
	} {
		if _, err := client.New(tc.url, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tc.url, tc.key, err, tc.want)
		}
	}
	c, _ := client.New("http://127.0.0.1:1", "k")
	defer c.Close()
	if _, err := c.Projects.Get(context.Background(), "not-a-uuid"); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := c.Projects.List(context.Background(), someID, &client.ListOptions{Limit: 5000}); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad limit: %v", err)
	}
}
