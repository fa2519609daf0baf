package realtimeserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

var versions = []string{phoenix.V1, phoenix.V2}

func joinPayload(token string, changes ...map[string]any) map[string]any {
	if changes == nil {
		changes = []map[string]any{}
	}
	p := map[string]any{"config": map[string]any{
		"broadcast":        map[string]any{"ack": false, "self": false},
		"presence":         map[string]any{"key": ""},
		"postgres_changes": changes,
		"private":          false,
	}}
	if token != "" {
		p["access_token"] = token
	}
	return p
}

// TestHeartbeatAndUnmatchedTopic: heartbeats are answered with the same
// ref; messages to topics not joined get "unmatched topic"; a join needs a
// realtime: topic with a name.
func TestHeartbeatAndUnmatchedTopic(t *testing.T) {
	env := newEnv(t)
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		ref := r.send("phoenix", "heartbeat", "", map[string]any{})
		f := r.expect(wait, isReply(ref))
		if st, resp := replyOf(t, f); st != "ok" || len(resp) != 0 || f.Topic != "phoenix" {
			t.Fatalf("heartbeat reply = %s %v on %q", st, resp, f.Topic)
		}
		if r.vsn == phoenix.V1 && strings.Contains(f.raw, "join_ref") {
			t.Errorf("vsn 1.0.0 reply carries join_ref: %s", f.raw)
		}
		if r.vsn == phoenix.V2 && !strings.HasPrefix(f.raw, "[null,") {
			t.Errorf("vsn 2.0.0 reply = %s, want an array starting with a null join_ref", f.raw)
		}

		ref = r.send("realtime:nobody", "broadcast", "1", map[string]any{"type": "broadcast", "event": "x", "payload": map[string]any{}})
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "error" || resp["reason"] != "unmatched topic" {
			t.Fatalf("push to unjoined topic: %s %v", st, resp)
		}
		ref = r.send("lobby", "phx_join", "9", joinPayload(""))
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "error" || resp["reason"] != "unmatched topic" {
			t.Fatalf("join outside realtime: %s %v", st, resp)
		}
		ref = r.send("realtime:", "phx_join", "10", joinPayload(""))
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "error" || resp["reason"] != "TopicNameRequired: You must provide a topic name" {
			t.Fatalf("join without name: %s %v", st, resp)
		}
		ref = r.send("realtime:nobody", "phx_leave", "11", map[string]any{})
		if st, _ := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
			t.Fatalf("leave of unjoined topic: %s", st)
		}
	})
}

// TestMalformedFramesAreIgnored: garbage, wrong shapes and unknown binary
// kinds are dropped and the connection keeps working, as on the official
// server; unknown events on a joined channel are ignored too.
func TestMalformedFramesAreIgnored(t *testing.T) {
	env := newEnv(t)
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		for _, bad := range []string{`not json`, `{}`, `[]`, `["1","2","t"]`, `{"topic":1,"event":"x","payload":{},"ref":"1"}`, `[1,2,3,4,5]`, `{"topic":"realtime:a","event":"phx_join"}`, `null`, `"str"`} {
			r.writeText(bad)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, bin := range [][]byte{{}, {9, 1, 2}, {3, 200, 0, 0, 0, 0, 1}, {0}} {
			if err := r.ws.Write(ctx, websocket.MessageBinary, bin); err != nil {
				t.Fatal(err)
			}
		}
		ref := r.send("realtime:room", "phx_join", "1", joinPayload(""))
		if st, _ := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
			t.Fatalf("join after garbage: %s", st)
		}
		r.send("realtime:room", "no_such_event", "1", map[string]any{"x": 1})
		ref = r.send("phoenix", "heartbeat", "", map[string]any{})
		f, err := r.read(wait)
		if err != nil {
			t.Fatal(err)
		}
		if !isReply(ref)(f) {
			t.Fatalf("after an unknown event the next frame is %s, want the heartbeat reply (unknown events get no answer)", f.raw)
		}
	})
}

// TestJoinReplyAndSystemMessage: the join reply echoes each binding with
// an integer id, then a system message reports the subscription; frames
// follow each version's shape.
func TestJoinReplyAndSystemMessage(t *testing.T) {
	env := newEnv(t)
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		b1 := map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "id=gt.10"}
		b2 := map[string]any{"event": "INSERT", "schema": "public", "table": "rt_full"}
		ref := r.send("realtime:room", "phx_join", "7", joinPayload("", b1, b2))
		f := r.expect(wait, isReply(ref))
		st, resp := replyOf(t, f)
		if st != "ok" {
			t.Fatalf("join: %s %v", st, resp)
		}
		if r.vsn == phoenix.V2 && phoenix.RefString(f.JoinRef) != "7" {
			t.Errorf("join reply join_ref = %s, want \"7\"", f.JoinRef)
		}
		pcs, _ := resp["postgres_changes"].([]any)
		if len(pcs) != 2 {
			t.Fatalf("reply postgres_changes = %v", resp["postgres_changes"])
		}
		for i, want := range []map[string]any{b1, b2} {
			got := pcs[i].(map[string]any)
			id, ok := got["id"].(float64)
			if !ok || id != float64(int64(id)) {
				t.Errorf("binding %d id = %v, want an integer", i, got["id"])
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("binding %d %s = %v, want %v echoed", i, k, got[k], v)
				}
			}
		}
		sys := r.expect(wait, isEvent("realtime:room", "system"))
		p := payloadOf(t, sys)
		if p["extension"] != "postgres_changes" || p["status"] != "ok" || p["message"] != "Subscribed to PostgreSQL" || p["channel"] != "room" {
			t.Fatalf("system message = %v", p)
		}
		if r.vsn == phoenix.V2 && phoenix.RefString(sys.JoinRef) != "7" {
			t.Errorf("system message join_ref = %s, want \"7\"", sys.JoinRef)
		}
		id := 11 + len(r.vsn) + int(r.vsn[0]-'0')
		env.exec(`insert into rt_open values ($1, 'eleven', 1)`, id)
		ch := r.expect(wait, func(f frame) bool {
			if !isEvent("realtime:room", "postgres_changes")(f) {
				return false
			}
			data := payloadOf(t, f)["data"].(map[string]any)
			rec, _ := data["record"].(map[string]any)
			return data["type"] == "INSERT" && rec["id"] == float64(id)
		})
		var pc struct {
			IDs  []float64      `json:"ids"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(ch.Payload, &pc); err != nil {
			t.Fatal(err)
		}
		if len(pc.IDs) != 1 || pc.IDs[0] != pcs[0].(map[string]any)["id"] {
			t.Errorf("change ids = %v, want the first binding's id %v", pc.IDs, pcs[0].(map[string]any)["id"])
		}
		if pc.Data["type"] != "INSERT" || pc.Data["table"] != "rt_open" || pc.Data["errors"] != nil {
			t.Errorf("change data = %v", pc.Data)
		}
		if ts, _ := pc.Data["commit_timestamp"].(string); len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
			t.Errorf("commit_timestamp = %q, want millisecond UTC with Z", ts)
		}
	})
}

// TestSubscriptionErrors: bindings the server cannot serve are answered
// with a system error (join ok, as the official server), or with a join
// error when the client asks to wait for the subscription.
func TestSubscriptionErrors(t *testing.T) {
	env := newEnv(t)
	cases := []struct {
		name    string
		binding map[string]any
		want    string
	}{
		{"not in publication", map[string]any{"event": "*", "schema": "public", "table": "rt_hidden"}, "Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: rt_hidden, filters: [], select: nil]"},
		{"no such table", map[string]any{"event": "*", "schema": "public", "table": "nope"}, "table: nope"},
		{"no such schema", map[string]any{"event": "*", "schema": "nope", "table": "rt_open"}, "schema: nope"},
		{"unknown operator", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "id=foo.1"}, "Error parsing `filter` params: [\"foo\", \"1\"]"},
		{"no operator", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "undefined"}, "Error parsing `filter` params: [\"undefined\"]"},
		{"in without parentheses", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "id=in.1,2"}, "`in` filter value must be wrapped by parentheses"},
		{"empty segment", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "id=eq.1,,n=eq.2"}, "filter must not contain empty segments"},
		{"unknown column", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "nope=eq.1"}, "invalid column for filter nope"},
		{"value of the wrong type", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "n=gt.many"}, `ERROR 22P02 (invalid_text_representation) invalid input syntax for type integer: "many"`},
		{"like on integers", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "n=like.1%"}, "operator like requires a text-compatible column type, got integer"},
		{"is true on text", map[string]any{"event": "*", "schema": "public", "table": "rt_open", "filter": "label=is.true"}, "is true filter requires a boolean column, got text"},
		{"no schema nor table", map[string]any{"event": "*"}, "No subscription params provided. Please provide at least a `schema` or `table` to subscribe to"},
		{"select on wildcard", map[string]any{"event": "*", "schema": "public", "select": []string{"id"}}, "Column selection is not supported for wildcard subscriptions"},
	}
	r := env.dialRaw(t, phoenix.V2, env.anon)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := "realtime:e" + string(rune('a'+i))
			ref := r.send(topic, "phx_join", "1", joinPayload("", tc.binding))
			if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
				t.Fatalf("join: %s %v (the official server accepts the join and reports in a system message)", st, resp)
			}
			p := payloadOf(t, r.expect(wait, isEvent(topic, "system")))
			if p["extension"] != "postgres_changes" || p["status"] != "error" || !strings.Contains(p["message"].(string), tc.want) {
				t.Fatalf("system message = %v, want an error containing %q", p, tc.want)
			}
			// With postgres_changes_options.wait the join itself fails.
			pl := joinPayload("", tc.binding)
			pl["config"].(map[string]any)["postgres_changes_options"] = map[string]any{"wait": true}
			ref = r.send(topic+"w", "phx_join", "2", pl)
			st, resp := replyOf(t, r.expect(wait, isReply(ref)))
			reason, _ := resp["reason"].(string)
			if st != "error" || !strings.HasPrefix(reason, "RealtimeDisabledForConfiguration: ") || !strings.Contains(reason, tc.want) {
				t.Fatalf("waiting join = %s %v, want an error reason containing %q", st, resp, tc.want)
			}
		})
	}
}

// TestTokensOnJoin: expired, forged, malformed and incomplete tokens are
// refused with the official reasons.
func TestTokensOnJoin(t *testing.T) {
	env := newEnv(t)
	now := time.Now()
	forged := signToken(map[string]any{"role": "authenticated"}, time.Hour)
	forged = forged[:len(forged)-4] + "AAAA"
	cases := []struct {
		name, token, want string
	}{
		{"expired", signToken(map[string]any{"sub": newID(), "role": "authenticated", "exp": now.Add(-90 * time.Second).Unix()}, 0), "InvalidJWTToken: Token has expired 9"},
		{"forged", forged, "JwtSignatureError: Failed to validate JWT signature"},
		{"malformed", "not-a-jwt", "MalformedJWT: The token provided is not a valid JWT"},
		{"no role", signToken(map[string]any{"sub": newID()}, time.Hour), "InvalidJWTToken: Fields `role` and `exp` are required in JWT"},
	}
	for _, vsn := range versions {
		r := env.dialRaw(t, vsn, env.anon)
		for _, tc := range cases {
			t.Run(vsn+"/"+tc.name, func(t *testing.T) {
				ref := r.send("realtime:t", "phx_join", "1", joinPayload(tc.token))
				st, resp := replyOf(t, r.expect(wait, isReply(ref)))
				if reason, _ := resp["reason"].(string); st != "error" || !strings.HasPrefix(reason, tc.want) {
					t.Fatalf("join = %s %v, want error %q", st, resp, tc.want)
				}
			})
		}
	}
	t.Run("private", func(t *testing.T) {
		r := env.dialRaw(t, phoenix.V1, env.anon)
		p := joinPayload("")
		p["config"].(map[string]any)["private"] = true
		ref := r.send("realtime:secret", "phx_join", "1", p)
		st, resp := replyOf(t, r.expect(wait, isReply(ref)))
		if st != "error" || resp["reason"] != "Unauthorized: You do not have permissions to read from this Channel topic: secret" {
			t.Fatalf("private join = %s %v", st, resp)
		}
	})
}

// TestConnectRefusals: the handshake needs a valid API key and a known
// protocol version.
func TestConnectRefusals(t *testing.T) {
	env := newEnv(t)
	ws := strings.Replace(env.baseURL(), "http://", "ws://", 1) + "/realtime/v1/websocket"
	cases := []struct {
		query  string
		status int
		msg    string
	}{
		{"?vsn=1.0.0", 401, "API key is missing"},
		{"?vsn=1.0.0&apikey=garbage", 401, "The token provided is not a valid JWT"},
		{"?vsn=1.0.0&apikey=" + signToken(map[string]any{"role": "anon", "exp": time.Now().Add(-time.Minute).Unix()}, 0), 401, "Token has expired"},
		{"?vsn=3.0.0&apikey=" + env.anon, 403, "unsupported protocol version"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, resp, err := websocket.Dial(ctx, ws+tc.query, nil)
		cancel()
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Fatalf("dial %s: err %v, response %v; want HTTP %d", tc.query, err, resp, tc.status)
		}
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if !strings.Contains(body.Error, tc.msg) {
			t.Errorf("dial %s: error %q, want %q", tc.query, body.Error, tc.msg)
		}
	}
}

// TestTokenExpiryClosesChannel: when the channel's token expires the
// server sends a system error and closes the channel; a refreshed token
// keeps it open.
func TestTokenExpiryClosesChannel(t *testing.T) {
	env := newEnv(t)
	uid := newID()
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		short := signToken(map[string]any{"sub": uid, "role": "authenticated", "exp": time.Now().Add(2 * time.Second).Unix()}, 0)
		ref := r.send("realtime:short", "phx_join", "1", joinPayload(short, map[string]any{"event": "*", "schema": "public", "table": "rt_open"}))
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
			t.Fatalf("join: %s %v", st, resp)
		}
		ref = r.send("realtime:kept", "phx_join", "2", joinPayload(short, map[string]any{"event": "*", "schema": "public", "table": "rt_open"}))
		r.expect(wait, isReply(ref))
		r.send("realtime:kept", "access_token", "2", map[string]any{"access_token": userToken(uid, time.Hour)})

		sys := r.expect(wait, func(f frame) bool {
			return f.Topic == "realtime:short" && f.Event == "system" && payloadOf(t, f)["extension"] == "system"
		})
		p := payloadOf(t, sys)
		if p["status"] != "error" || !strings.HasPrefix(p["message"].(string), "Token has expired") || p["channel"] != "short" {
			t.Fatalf("expiry system message = %v", p)
		}
		cl := r.expect(wait, isEvent("realtime:short", "phx_close"))
		if r.vsn == phoenix.V2 && phoenix.RefString(cl.JoinRef) != "1" {
			t.Errorf("phx_close join_ref = %s, want 1", cl.JoinRef)
		}
		ref = r.send("realtime:short", "broadcast", "1", map[string]any{"type": "broadcast", "event": "e", "payload": map[string]any{}})
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "error" || resp["reason"] != "unmatched topic" {
			t.Fatalf("push after close: %s %v", st, resp)
		}
		// The refreshed channel still receives changes.
		env.exec(`insert into rt_open values (1, 'one', 1)`)
		r.expect(wait, isEvent("realtime:kept", "postgres_changes"))
		env.exec(`delete from rt_open`)
		r.expect(wait, isEvent("realtime:kept", "postgres_changes"))
		// An invalid refresh closes the channel with the reason.
		r.send("realtime:kept", "access_token", "2", map[string]any{"access_token": "garbage"})
		sys = r.expect(wait, isEvent("realtime:kept", "system"))
		if p := payloadOf(t, sys); p["status"] != "error" || p["message"] != "The token provided is not a valid JWT" {
			t.Fatalf("bad refresh system message = %v", p)
		}
		r.expect(wait, isEvent("realtime:kept", "phx_close"))
	})
}

// TestHeartbeatTimeout: a connection that sends nothing for the timeout is
// closed by the server.
func TestHeartbeatTimeout(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.HeartbeatTimeout = 300 * time.Millisecond })
	r := env.dialRaw(t, phoenix.V2, env.anon)
	_, err := r.read(wait)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Reason != "heartbeat timeout" {
		t.Fatalf("read on a silent connection = %v, want a close with reason \"heartbeat timeout\"", err)
	}
}

// TestLeaveAndRejoin: phx_leave is acknowledged then the channel closes;
// joining a joined topic again replaces the first join.
func TestLeaveAndRejoin(t *testing.T) {
	env := newEnv(t)
	env.eachVersion(t, func(t *testing.T, r *rawConn) {
		ref := r.send("realtime:a", "phx_join", "1", joinPayload(""))
		r.expect(wait, isReply(ref))
		ref = r.send("realtime:a", "phx_join", "2", joinPayload(""))
		cl := r.expect(wait, func(f frame) bool { return f.Event == "phx_close" || isReply(ref)(f) })
		if cl.Event != "phx_close" {
			t.Fatalf("second join: got %s before phx_close of the first", cl.raw)
		}
		if r.vsn == phoenix.V2 && phoenix.RefString(cl.JoinRef) != "1" {
			t.Errorf("phx_close join_ref = %s, want the first join's 1", cl.JoinRef)
		}
		if st, _ := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
			t.Fatalf("second join: %s", st)
		}
		ref = r.send("realtime:a", "phx_leave", "2", map[string]any{})
		f := r.expect(wait, isReply(ref))
		if st, _ := replyOf(t, f); st != "ok" {
			t.Fatalf("leave: %s", st)
		}
		r.expect(wait, isEvent("realtime:a", "phx_close"))
		ref = r.send("realtime:a", "broadcast", "2", map[string]any{"type": "broadcast", "event": "e", "payload": map[string]any{}})
		if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "error" || resp["reason"] != "unmatched topic" {
			t.Fatalf("push after leave: %s %v", st, resp)
		}
	})
}

// TestBroadcast: broadcasts reach the other members of the topic, the
// sender only with self, an ok reply only with ack; binary broadcasts
// (vsn 2.0.0) reach vsn 2.0.0 members as binary and vsn 1.0.0 members as
// JSON; the HTTP API broadcasts too.
func TestBroadcast(t *testing.T) {
	env := newEnv(t)
	v1 := env.dialRaw(t, phoenix.V1, env.anon)
	v2 := env.dialRaw(t, phoenix.V2, env.anon)
	selfAck := env.dialRaw(t, phoenix.V2, env.anon)
	join := func(r *rawConn, self, ack bool) {
		p := joinPayload("")
		p["config"].(map[string]any)["broadcast"] = map[string]any{"self": self, "ack": ack}
		ref := r.send("realtime:room", "phx_join", "1", p)
		if st, _ := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
			t.Fatalf("join: %s", st)
		}
	}
	join(v1, false, false)
	join(v2, false, false)
	join(selfAck, true, true)

	// v1 sends without ack: no reply; the others receive it.
	v1.send("realtime:room", "broadcast", "1", map[string]any{"type": "broadcast", "event": "hello", "payload": map[string]any{"n": 1}})
	for _, r := range []*rawConn{v2, selfAck} {
		f := r.expect(wait, isEvent("realtime:room", "broadcast"))
		p := payloadOf(t, f)
		if p["event"] != "hello" || p["type"] != "broadcast" || p["payload"].(map[string]any)["n"] != 1.0 {
			t.Fatalf("broadcast payload = %v", p)
		}
	}
	// self+ack: an ok reply with the push's ref, and a copy to itself.
	ref := selfAck.send("realtime:room", "broadcast", "1", map[string]any{"type": "broadcast", "event": "mine", "payload": map[string]any{}})
	gotReply, gotSelf := false, false
	for !gotReply || !gotSelf {
		f := selfAck.expect(wait, func(f frame) bool { return isReply(ref)(f) || isEvent("realtime:room", "broadcast")(f) })
		if f.Event == "phx_reply" {
			gotReply = true
		} else {
			gotSelf = true
		}
	}
	v1.expect(wait, isEvent("realtime:room", "broadcast"))
	v2.expect(wait, isEvent("realtime:room", "broadcast"))

	// A binary broadcast from a vsn 2.0.0 client, as realtime-js sends it.
	bin, err := phoenix.AppendUserBroadcastPush(nil, &phoenix.UserBroadcastPush{JoinRef: "1", Ref: "9", Topic: "realtime:room", Event: "cursor", JSON: true, Payload: []byte(`{"x":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := selfAck.ws.Write(ctx, websocket.MessageBinary, bin); err != nil {
		t.Fatal(err)
	}
	f := v2.expect(wait, func(f frame) bool { return f.binary != nil })
	ub, err := phoenix.DecodeUserBroadcast(f.binary)
	if err != nil || ub.Event != "cursor" || string(ub.Payload) != `{"x":3}` || !ub.JSON || ub.Topic != "realtime:room" {
		t.Fatalf("binary broadcast to vsn 2.0.0 = %+v, %v", ub, err)
	}
	f = v1.expect(wait, isEvent("realtime:room", "broadcast"))
	if p := payloadOf(t, f); p["event"] != "cursor" || p["payload"].(map[string]any)["x"] != 3.0 {
		t.Fatalf("binary broadcast to vsn 1.0.0 = %v", p)
	}
	selfAck.expect(wait, isReply("9"))

	// The HTTP API.
	body := `{"messages":[{"topic":"room","event":"api","payload":{"ok":true}}]}`
	if st, _ := env.postBroadcast(t, env.anon, "", body); st != http.StatusAccepted {
		t.Fatalf("broadcast API status %d", st)
	}
	for _, r := range []*rawConn{v1, v2, selfAck} {
		f := r.expect(wait, isEvent("realtime:room", "broadcast"))
		if p := payloadOf(t, f); p["event"] != "api" {
			t.Fatalf("API broadcast payload = %v", p)
		}
	}
	if st, _ := env.postBroadcast(t, "", "", body); st != http.StatusUnauthorized {
		t.Fatalf("broadcast API without a key: status %d, want 401", st)
	}
}

// TestPresence: a join with presence enabled succeeds and gets the
// presence state; track and leave produce diffs.
func TestPresence(t *testing.T) {
	env := newEnv(t)
	a := env.dialRaw(t, phoenix.V2, env.anon)
	b := env.dialRaw(t, phoenix.V1, env.anon)
	p := joinPayload("")
	p["config"].(map[string]any)["presence"] = map[string]any{"key": "alice", "enabled": true}
	ref := a.send("realtime:lobby", "phx_join", "1", p)
	if st, _ := replyOf(t, a.expect(wait, isReply(ref))); st != "ok" {
		t.Fatalf("presence join: %s", st)
	}
	if st := payloadOf(t, a.expect(wait, isEvent("realtime:lobby", "presence_state"))); len(st) != 0 {
		t.Fatalf("initial presence state = %v, want empty", st)
	}
	ref = a.send("realtime:lobby", "presence", "1", map[string]any{"type": "presence", "event": "track", "payload": map[string]any{"online_at": "now"}})
	a.expect(wait, isReply(ref))
	diff := payloadOf(t, a.expect(wait, isEvent("realtime:lobby", "presence_diff")))
	metas := diff["joins"].(map[string]any)["alice"].(map[string]any)["metas"].([]any)
	if len(metas) != 1 || metas[0].(map[string]any)["online_at"] != "now" || metas[0].(map[string]any)["phx_ref"] == nil {
		t.Fatalf("presence diff = %v", diff)
	}
	p2 := joinPayload("")
	p2["config"].(map[string]any)["presence"] = map[string]any{"key": "bob", "enabled": true}
	ref = b.send("realtime:lobby", "phx_join", "1", p2)
	b.expect(wait, isReply(ref))
	st := payloadOf(t, b.expect(wait, isEvent("realtime:lobby", "presence_state")))
	if _, ok := st["alice"]; !ok {
		t.Fatalf("presence state for a new member = %v, want alice", st)
	}
	ref = a.send("realtime:lobby", "phx_leave", "1", map[string]any{})
	a.expect(wait, isReply(ref))
	diff = payloadOf(t, b.expect(wait, isEvent("realtime:lobby", "presence_diff")))
	if _, ok := diff["leaves"].(map[string]any)["alice"]; !ok {
		t.Fatalf("diff after leave = %v", diff)
	}
}
