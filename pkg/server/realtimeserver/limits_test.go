package realtimeserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// Rate limits are tested by sending far more than the rate in a tight loop
// and asserting that refusals happen and carry the right reason, never how
// many pass: on a busy machine the loop may take long enough for the
// bucket to refill a few times.

// joinTopic joins topic and returns the reply's status and reason.
func (r *rawConn) joinTopic(topic string) (status, reason string) {
	r.t.Helper()
	ref := r.send(topic, "phx_join", fmt.Sprint(r.ref+1), joinPayload(""))
	st, resp := replyOf(r.t, r.expect(wait, isReply(ref)))
	reason, _ = resp["reason"].(string)
	return st, reason
}

func (r *rawConn) heartbeat() {
	r.t.Helper()
	ref := r.send("phoenix", "heartbeat", "", map[string]any{})
	if st, _ := replyOf(r.t, r.expect(wait, isReply(ref))); st != "ok" {
		r.t.Fatalf("heartbeat: %s", st)
	}
}

// dialUntilAccepted dials until the server accepts a socket (and closes
// it), failing on a refusal other than 429 with body or when that takes
// longer than wait: for limits that free up with time or a closed socket.
func dialUntilAccepted(t *testing.T, env *testEnv, body string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		status, got, ws := dialStatus(t, env)
		if status == http.StatusSwitchingProtocols {
			ws.CloseNow()
			return
		}
		if status != http.StatusTooManyRequests || got != body {
			t.Fatalf("dial refused with %d %s, want 429 %s", status, got, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not accept a socket again within %s", wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialStatus tries a WebSocket upgrade and returns the refusal's status
// and body, or 101 and the open socket.
func dialStatus(t testing.TB, env *testEnv) (int, string, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL(env), nil)
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		return http.StatusSwitchingProtocols, "", ws
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, strings.TrimSpace(b.String()), nil
}

// The N+1-th channel on one socket is refused with the official reason;
// the socket keeps working and a channel freed makes room again.
func TestMaxChannelsPerClient(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Limits.MaxChannelsPerClient = 3 })
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		for i := 1; i <= 3; i++ {
			if st, reason := r.joinTopic(fmt.Sprintf("realtime:room-%d", i)); st != "ok" {
				t.Fatalf("join %d: %s %s", i, st, reason)
			}
		}
		if st, reason := r.joinTopic("realtime:room-4"); st != "error" || reason != "ChannelRateLimitReached: Too many channels" {
			t.Fatalf("4th channel: %s %q, want error \"ChannelRateLimitReached: Too many channels\"", st, reason)
		}
		// Joining a topic again replaces its channel: not one more.
		if st, reason := r.joinTopic("realtime:room-2"); st != "ok" {
			t.Fatalf("rejoin of a joined topic: %s %s", st, reason)
		}
		r.heartbeat()
		ref := r.send("realtime:room-1", "phx_leave", "1", map[string]any{})
		r.expect(wait, isReply(ref))
		if st, reason := r.joinTopic("realtime:room-4"); st != "ok" {
			t.Fatalf("join after a leave: %s %s", st, reason)
		}
	})
}

// Joins beyond the tenant's rate are refused with the official reason and
// the socket is closed after the refusal; the tenant recovers as the rate
// allows.
func TestMaxJoinsPerSecond(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Limits.MaxJoinsPerSecond = 2 })
	r := env.dialRaw(t, phoenix.V2, env.anon)
	const joins = 60
	for i := 0; i < joins; i++ {
		r.send(fmt.Sprintf("realtime:burst-%d", i), "phx_join", fmt.Sprint(i+1), joinPayload(""))
	}
	ok, refused := 0, 0
	var end error
	for end == nil {
		f, err := r.read(wait)
		if err != nil {
			end = err
			break
		}
		if f.Event != "phx_reply" {
			continue
		}
		switch st, resp := replyOf(t, f); st {
		case "ok":
			ok++
		default:
			refused++
			if resp["reason"] != "ClientJoinRateLimitReached: Too many joins per second" {
				t.Fatalf("refused join: %v", resp)
			}
		}
	}
	if refused == 0 {
		t.Fatalf("%d joins in a burst on a limit of 2 per second were all accepted", ok)
	}
	if refused != 1 {
		t.Errorf("%d refusals on one socket; the first closes it", refused)
	}
	var ce websocket.CloseError
	if !errors.As(end, &ce) || ce.Reason != "ClientJoinRateLimitReached: Too many joins per second" {
		t.Fatalf("after the refusal the socket ended with %v, want a close with the reason", end)
	}
	t.Logf("%d joins accepted, then refused and closed", ok)

	// A new socket is refused while no join is left (429 as the official
	// server answers), and accepted again once the rate allows.
	dialUntilAccepted(t, env, `{"error":"Too many joins per second"}`)
}

// Sockets beyond max_concurrent_users are refused with the official 429
// while the open ones keep working; a socket closed makes room.
func TestMaxConcurrentUsers(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Limits.MaxConcurrentUsers = 2 })
	a := env.dialRaw(t, phoenix.V2, env.anon)
	b := env.dialRaw(t, phoenix.V1, env.anon)
	status, body, _ := dialStatus(t, env)
	if status != http.StatusTooManyRequests || body != `{"error":"Too many connected users"}` {
		t.Fatalf("3rd socket: %d %s, want 429 {\"error\":\"Too many connected users\"}", status, body)
	}
	a.heartbeat()
	b.heartbeat()
	if st, reason := b.joinTopic("realtime:still-here"); st != "ok" {
		t.Fatalf("join on an admitted socket: %s %s", st, reason)
	}
	a.ws.Close(websocket.StatusNormalClosure, "")
	dialUntilAccepted(t, env, `{"error":"Too many connected users"}`)
	b.heartbeat()
}

// Messages beyond the tenant's event rate are dropped and the sender's
// channel is shut down with the official system message and phx_close;
// the broadcast API answers 429 with the official messages.
func TestMaxEventsPerSecond(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Limits.MaxEventsPerSecond = 3 })
	sender := env.dialRaw(t, phoenix.V2, env.anon)
	receiver := env.dialRaw(t, phoenix.V1, env.anon)
	for _, r := range []*rawConn{sender, receiver} {
		if st, reason := r.joinTopic("realtime:chatty"); st != "ok" {
			t.Fatalf("join: %s %s", st, reason)
		}
	}
	const sent = 100
	for i := 0; i < sent; i++ {
		sender.send("realtime:chatty", "broadcast", "1", map[string]any{"type": "broadcast", "event": "tick", "payload": map[string]any{"i": i}})
	}
	sys := sender.expect(wait, isEvent("realtime:chatty", "system"))
	if p := payloadOf(t, sys); p["status"] != "error" || p["message"] != "Too many messages per second" || p["extension"] != "system" || p["channel"] != "chatty" {
		t.Fatalf("system message = %v, want the channel shut down with \"Too many messages per second\"", p)
	}
	sender.expect(wait, isEvent("realtime:chatty", "phx_close"))
	// Everything the sender sent was handled before this reply (one
	// socket's messages are handled in order), so everything relayed is
	// queued for the receiver before its own heartbeat's reply.
	sender.heartbeat()
	ref := receiver.send("phoenix", "heartbeat", "", map[string]any{})
	got := 0
	for {
		f := receiver.expect(wait, func(f frame) bool {
			return isReply(ref)(f) || isEvent("realtime:chatty", "broadcast")(f)
		})
		if f.Event == "phx_reply" {
			break
		}
		got++
	}
	if got == 0 || got >= sent {
		t.Fatalf("the receiver got %d of %d broadcasts: want some, not all", got, sent)
	}
	t.Logf("%d of %d broadcasts relayed before the channel was shut down", got, sent)

	// The broadcast API: a batch the rate can never allow, then a burst.
	post := func(body string) (int, string) { return env.postBroadcast(t, env.anon, "", body) }
	msg := func(n int) string {
		var ms []string
		for i := 0; i < n; i++ {
			ms = append(ms, `{"topic":"chatty","event":"api","payload":{}}`)
		}
		return `{"messages":[` + strings.Join(ms, ",") + `]}`
	}
	if st, body := post(msg(10)); st != http.StatusTooManyRequests || body != `{"message":"Too many messages to broadcast, please reduce the batch size"}` {
		t.Fatalf("batch of 10 on a rate of 3: %d %s", st, body)
	}
	for i := 0; ; i++ {
		st, body := post(msg(1))
		if st == http.StatusTooManyRequests {
			if body != `{"message":"You have exceeded your rate limit"}` {
				t.Fatalf("API refusal: %s", body)
			}
			break
		}
		if st != http.StatusAccepted || i == 200 {
			t.Fatalf("broadcast API request %d: %d %s", i, st, body)
		}
	}
}

// Limits are validated with errors that name them.
func TestLimitsValidation(t *testing.T) {
	cfg := Config{Pool: nil}
	cfg.Limits.MaxJoinsPerSecond = -1
	cfg.setDefaults()
	if err := cfg.Limits.validate(); err == nil || !strings.Contains(err.Error(), "MaxJoinsPerSecond") {
		t.Fatalf("validate: %v", err)
	}
	var l Limits
	l.setDefaults()
	if l != (Limits{200, 100, 100, 100}) {
		t.Fatalf("defaults = %+v, want Supabase Realtime's", l)
	}
}
