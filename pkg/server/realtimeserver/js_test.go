package realtimeserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/jstest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// jsScript subscribes with the official supabase-js through the gateway
// path, as three users (one on vsn 1.0.0), plus a binding on a table
// outside the publication and a broadcast channel talking to a Go client.
// It prints what each subscription received as JSON.
const jsScript = `
import { createClient } from '@supabase/supabase-js'
const { SB_URL, ANON, TOKEN_A, TOKEN_B, TOKEN_C, ALICE } = process.env
// supabase-js hands the access token to Realtime asynchronously; a channel
// joined before that joins with the API key's (anon) claims. Set it first.
const client = async (token, vsn) => {
  const sb = createClient(SB_URL, ANON, { accessToken: async () => token, realtime: vsn ? { vsn } : {} })
  await sb.realtime.setAuth(token)
  return sb
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const until = async (cond, ms, what) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what + ': ' + JSON.stringify(out))
    await sleep(20)
  }
}
const out = { a: [], b: [], c: [], h: [], system: [], hiddenStatus: null, pong: null, subscribed: [] }
const subscribe = (sb, name, filter, key, onSystem) => new Promise((resolve, reject) => {
  let ch = sb.channel(name).on('postgres_changes', filter, (p) => out[key].push(p))
  if (onSystem) ch = ch.on('system', {}, onSystem)
  ch.subscribe((status, err) => {
    if (status === 'SUBSCRIBED') { out.subscribed.push(name + ':' + key); resolve(ch) }
    else if (status !== 'CLOSED') reject(new Error(name + ' ' + status + ' ' + (err && err.message)))
  })
})
const a = await client(TOKEN_A), b = await client(TOKEN_B, '1.0.0'), c = await client(TOKEN_C)
await subscribe(a, 'notes', { event: '*', schema: 'public', table: 'rt_notes', filter: 'owner=eq.' + ALICE }, 'a')
await subscribe(b, 'notes', { event: '*', schema: 'public', table: 'rt_notes' }, 'b')
await subscribe(c, 'spy', { event: '*', schema: 'public', table: 'rt_notes', filter: 'owner=eq.' + ALICE }, 'c')
await subscribe(a, 'hidden', { event: '*', schema: 'public', table: 'rt_hidden' }, 'h', (p) => out.system.push(p))
const room = a.channel('room', { config: { broadcast: { ack: true } } })
room.on('broadcast', { event: 'pong' }, (m) => { out.pong = m })
await new Promise((resolve, reject) => room.subscribe((s) => s === 'SUBSCRIBED' ? resolve() : (s !== 'CLOSED' && reject(new Error('room ' + s)))))
const sent = await room.send({ type: 'broadcast', event: 'ping', payload: { n: 42 } })
if (sent !== 'ok') throw new Error('broadcast send: ' + sent)
await until(() => out.a.length >= 3 && out.b.length >= 1 && out.pong && out.system.length >= 1, 45000, 'changes')
await sleep(300) // lets anything that should not arrive show up
console.log(JSON.stringify(out))
process.exit(0)
`

// TestRealtimeJS: the official client receives INSERT/UPDATE/DELETE for
// matching filters with the payloads it expects, on both protocol
// versions; users RLS hides a row from receive nothing about it, its
// delete included; broadcasts flow between realtime-js (binary frames) and
// the Go client.
func TestRealtimeJS(t *testing.T) {
	env := newEnv(t)
	// The whole old row is what lets a DELETE be judged by the policy.
	env.exec(`alter table rt_notes replica identity full`)
	alice, bob, eve := newID(), newID(), newID()

	goClient := env.client(t, "")
	pongs := make(chan *realtime.BroadcastEvent, 4)
	room := goClient.Channel("room").OnBroadcast("ping", func(e *realtime.BroadcastEvent) { pongs <- e })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := room.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}

	writes := make(chan error, 1)
	go func() {
		err := jsWrites(env, alice, bob, room, pongs)
		if err != nil {
			t.Log(err) // shown if the script fails too
		}
		writes <- err
	}()
	out := jstest.Run(t, jsScript, map[string]string{
		"NODE_OPTIONS": "--experimental-websocket --no-warnings",
		"SB_URL":       env.baseURL(),
		"ANON":         env.anon,
		"TOKEN_A":      userToken(alice, time.Hour),
		"TOKEN_B":      userToken(bob, time.Hour),
		"TOKEN_C":      userToken(eve, time.Hour),
		"ALICE":        alice,
	})
	var got struct {
		A, B, C []struct {
			EventType       string         `json:"eventType"`
			Schema          string         `json:"schema"`
			Table           string         `json:"table"`
			CommitTimestamp string         `json:"commit_timestamp"`
			New             map[string]any `json:"new"`
			Old             map[string]any `json:"old"`
			Errors          any            `json:"errors"`
		}
		System []map[string]any
		Pong   map[string]any
	}
	if err := <-writes; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("decode script output %q: %v", out, err)
	}
	if len(got.A) != 3 || got.A[0].EventType != "INSERT" || got.A[1].EventType != "UPDATE" || got.A[2].EventType != "DELETE" {
		t.Fatalf("alice received %+v, want INSERT, UPDATE, DELETE", got.A)
	}
	ins := got.A[0]
	if ins.Schema != "public" || ins.Table != "rt_notes" || ins.New["title"] != "first" || ins.New["qty"] != 3.0 ||
		ins.New["owner"] != alice || len(ins.Old) != 0 || ins.Errors != nil || !strings.HasSuffix(ins.CommitTimestamp, "Z") {
		t.Errorf("alice's INSERT = %+v", ins)
	}
	if tags, _ := ins.New["tags"].([]any); len(tags) != 2 || tags[1] != "b" {
		t.Errorf("alice's INSERT tags = %#v", ins.New["tags"])
	}
	if upd := got.A[1]; upd.New["title"] != "second" || upd.Old["id"] != 1.0 || upd.Old["title"] != "first" {
		t.Errorf("alice's UPDATE = %+v, want new title and the whole old row (she could see it)", upd)
	}
	if del := got.A[2]; len(del.New) != 0 || len(del.Old) != 1 || del.Old["id"] != 1.0 {
		t.Errorf("alice's DELETE = %+v, want old {id: 1} only (RLS table)", del)
	}
	if len(got.B) != 1 || got.B[0].EventType != "INSERT" || got.B[0].New["id"] != 2.0 {
		t.Fatalf("bob received %+v, want his INSERT only (nothing of alice's note, its delete included)", got.B)
	}
	if len(got.C) != 0 {
		t.Errorf("eve, whom RLS hides the rows from, received %+v", got.C)
	}
	if len(got.System) == 0 || got.System[0]["status"] != "error" || !strings.Contains(got.System[0]["message"].(string), "rt_hidden") {
		t.Errorf("system messages for the unpublished table = %v", got.System)
	}
	if got.Pong["event"] != "pong" || got.Pong["payload"].(map[string]any)["n"] != 43.0 {
		t.Errorf("broadcast from Go to realtime-js = %v", got.Pong)
	}
}

// jsWrites waits for the script's subscriptions, answers its ping, and
// writes one change at a time (each is checked against RLS when
// dispatched, so the next waits for it).
func jsWrites(env *testEnv, alice, bob string, room *realtime.Channel, pongs chan *realtime.BroadcastEvent) error {
	waitFor := func(what string, cond func(Stats) bool) error {
		deadline := time.Now().Add(20 * time.Second) // less than the script waits
		for !cond(env.srv.Stats()) {
			if time.Now().After(deadline) {
				return &testError{"timed out waiting for " + what}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	if err := waitFor("the script's subscriptions", func(s Stats) bool { return s.Subscriptions >= 3 && s.Channels >= 6 }); err != nil {
		return err
	}
	select {
	case p := <-pongs:
		var body struct{ N int }
		if json.Unmarshal(p.Payload, &body) != nil || body.N != 42 {
			return &testError{"ping payload " + string(p.Payload)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := room.Send(ctx, "pong", map[string]int{"n": body.N + 1})
		cancel()
		if err != nil {
			return err
		}
	case <-time.After(20 * time.Second):
		return &testError{"no ping from realtime-js"}
	}
	steps := []struct {
		sql  string
		args []any
	}{
		{`insert into rt_notes (id, owner, title, qty, tags) values (1, $1, 'first', 3, '{a,b}')`, []any{alice}},
		{`update rt_notes set title = 'second' where id = 1`, nil},
		{`insert into rt_notes (id, owner, title) values (2, $1, 'bob''s')`, []any{bob}},
		{`delete from rt_notes where id = 1`, nil},
	}
	for _, s := range steps {
		before := env.srv.Stats()
		if _, err := env.admin.Exec(context.Background(), s.sql, s.args...); err != nil {
			return err
		}
		if err := waitFor("dispatch of "+s.sql, func(st Stats) bool { return st.Changes > before.Changes }); err != nil {
			return err
		}
		// Every step has at least one recipient.
		if err := waitFor("delivery of "+s.sql, func(st Stats) bool { return st.Delivered > before.Delivered }); err != nil {
			return fmt.Errorf("%w; channels: %s", err, hubState(env.srv))
		}
	}
	return nil
}

// hubState describes the joined channels, for failure messages.
func hubState(s *Server) string {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	var out []string
	for topic, m := range s.hub.topics {
		for ch := range m {
			a := ch.auth.Load()
			var claims struct {
				Sub string `json:"sub"`
			}
			_ = json.Unmarshal(a.claims, &claims)
			out = append(out, fmt.Sprintf("%s(vsn %s, role %s, sub %s, %d subscriptions)", topic, ch.conn.vsn, a.role, claims.Sub, len(ch.subs)))
		}
	}
	return strings.Join(out, "; ")
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }
