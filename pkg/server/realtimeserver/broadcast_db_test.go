package realtimeserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// privateFixtureSQL gives the private-channel tests their policies: a
// member of a room (rt_rooms) may read the room's topic, which is what a
// private join needs. No INSERT policy: nobody may send.
const privateFixtureSQL = `
create table public.rt_rooms (room text not null, user_id uuid not null, primary key (room, user_id));
grant select on public.rt_rooms to authenticated;
create policy rt_room_read on realtime.messages for select to authenticated
  using (exists (select 1 from public.rt_rooms r where r.room = (select realtime.topic()) and r.user_id = auth.uid()));
`

// rtWritePolicySQL lets room members send broadcasts on their room.
const rtWritePolicySQL = `
create policy rt_room_write on realtime.messages for insert to authenticated
  with check (extension = 'broadcast'
    and exists (select 1 from public.rt_rooms r where r.room = (select realtime.topic()) and r.user_id = auth.uid()))`

func newPrivateEnv(t *testing.T) *testEnv {
	t.Helper()
	db := newTestDB(t, pgtest.Shared())
	db.Exec(t, fixtureSQL+privateFixtureSQL)
	return startEnv(t, db)
}

// join subscribes a channel and returns its events.
func join(t *testing.T, c *realtime.Client, name string, opts ...realtime.ChannelOption) (*realtime.Channel, <-chan realtime.Event) {
	t.Helper()
	ch := c.Channel(name, opts...)
	events := ch.Events(64)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatalf("subscribe %s: %v", name, err)
	}
	return ch, events
}

// nextBroadcast waits for the next broadcast on events.
func nextBroadcast(t *testing.T, events <-chan realtime.Event) *realtime.BroadcastEvent {
	t.Helper()
	return nextEvent[*realtime.BroadcastEvent](t, events, wait, "broadcast")
}

func payloadN(t *testing.T, b *realtime.BroadcastEvent) float64 {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(b.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", b.Payload, err)
	}
	n, _ := p["n"].(float64)
	return n
}

// TestPrivateJoin: a private join is authorised by realtime.messages'
// SELECT policies under the joiner's token and topic: a room member may
// join, someone else or the anon key may not (the official reason).
func TestPrivateJoin(t *testing.T) {
	env := newPrivateEnv(t)
	alice, eve := newID(), newID()
	env.exec(`insert into rt_rooms values ('r1', $1)`, alice)

	join(t, env.client(t, userToken(alice, time.Hour)), "r1", realtime.Private())

	for name, tok := range map[string]string{"outsider": userToken(eve, time.Hour), "anon": ""} {
		ch := env.client(t, tok).Channel("r1", realtime.Private())
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := ch.Subscribe(ctx)
		cancel()
		var se *realtime.ServerError
		if !errors.As(err, &se) || se.Reason != reasonPrivateChannel+"r1" {
			t.Errorf("%s joined a private room it may not read: %v", name, err)
		}
	}
	// A public channel of the same name needs no policy.
	join(t, env.client(t, userToken(eve, time.Hour)), "r1")
}

// TestPrivateChannelRecheckedOnTokenRefresh: a member removed from the
// room keeps the private channel only until its next token: the refresh
// authorises the channel again and closes it with the official reason.
func TestPrivateChannelRecheckedOnTokenRefresh(t *testing.T) {
	env := newPrivateEnv(t)
	alice, bob := newID(), newID()
	env.exec(`insert into rt_rooms values ('r1', $1), ('r1', $2)`, alice, bob)
	var mu sync.Mutex
	tokens := map[string]string{alice: userToken(alice, time.Hour), bob: userToken(bob, time.Hour)}
	clientOf := func(user string) *realtime.Client {
		return env.client(t, "", realtime.WithAccessToken(func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return tokens[user], nil
		}))
	}
	ca, cb := clientOf(alice), clientOf(bob)
	_, aliceEvents := join(t, ca, "r1", realtime.Private())
	_, bobEvents := join(t, cb, "r1", realtime.Private())

	env.exec(`delete from rt_rooms where user_id = $1`, alice)
	mu.Lock()
	tokens[alice], tokens[bob] = userToken(alice, 2*time.Hour), userToken(bob, 2*time.Hour)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, c := range []*realtime.Client{ca, cb} {
		if err := c.RefreshAuth(ctx); err != nil {
			t.Fatal(err)
		}
	}
	se := nextEvent[*realtime.SystemEvent](t, aliceEvents, wait, "system event closing the removed member's private channel after its token refresh")
	if se.Status != "error" || !strings.Contains(se.Message, reasonPrivateChannel+"r1") {
		t.Fatalf("system event %+v, want the private channel refusal", se)
	}
	// Bob, still a member, keeps the channel and receives what is sent.
	env.exec(`select realtime.send('{"n": 1}'::jsonb, 'ev', 'r1', true)`)
	if n := payloadN(t, nextBroadcast(t, bobEvents)); n != 1 {
		t.Errorf("bob received n = %v, want 1", n)
	}
}

// TestBroadcastFromDatabase: realtime.send and realtime.broadcast_changes
// reach the channels of their topic whose private flag matches, with the
// official payload shape, in commit order.
func TestBroadcastFromDatabase(t *testing.T) {
	env := newPrivateEnv(t)
	alice := newID()
	env.exec(`insert into rt_rooms values ('r1', $1)`, alice)
	_, priv := join(t, env.client(t, userToken(alice, time.Hour)), "r1", realtime.Private())
	_, pub := join(t, env.client(t, ""), "r1")
	// realtime.messages is in the publication, but not for postgres_changes,
	// even to a binding on every table.
	all := env.client(t, "").Channel("everything").OnPostgresChanges(realtime.PostgresChangesFilter{Schema: "*", Table: "*"}, nil)
	allEvents := all.Events(64)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := all.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}

	env.exec(`select realtime.send('{"n":1}', 'ping', 'r1', true)`)
	env.exec(`select realtime.send('{"n":2}', 'ping', 'r1', false)`)
	env.exec(`select realtime.send('{"n":3}', 'ping', 'r1')`) // private by default

	b := nextBroadcast(t, priv)
	var meta, body struct{ ID string }
	if b.Event != "ping" || payloadN(t, b) != 1 || json.Unmarshal(b.Meta, &meta) != nil || meta.ID == "" ||
		json.Unmarshal(b.Payload, &body) != nil || body.ID != meta.ID {
		t.Fatalf("private channel got %s %s meta %s, want ping n=1 with the message id in payload and meta", b.Event, b.Payload, b.Meta)
	}
	if n := payloadN(t, nextBroadcast(t, priv)); n != 3 {
		t.Fatalf("private channel got n=%v after n=1, want 3 (the public message is not for it)", n)
	}
	if n := payloadN(t, nextBroadcast(t, pub)); n != 2 {
		t.Fatalf("public channel got n=%v first, want 2 (private messages are not for it)", n)
	}

	env.exec(`create function public.rt_open_broadcast() returns trigger language plpgsql as $$
		begin
		  perform realtime.broadcast_changes('r1', tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
		  return null;
		end $$;
		create trigger rt_open_broadcast after insert or update on public.rt_open
		  for each row execute function public.rt_open_broadcast()`)
	env.exec(`insert into rt_open values (7, 'seven', 1)`)
	env.exec(`update rt_open set n = 2 where id = 7`)
	if c := nextChange(t, allEvents, wait); c.Schema != "public" || c.Table != "rt_open" {
		t.Fatalf("a binding on every table got a change of %s.%s first, want public.rt_open", c.Schema, c.Table)
	}
	for _, want := range []string{"INSERT", "UPDATE"} {
		b := nextBroadcast(t, priv)
		var p struct {
			Operation, Table, Schema, ID string
			Record, OldRecord            map[string]any `json:"-"`
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b.Payload, &raw); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(b.Payload, &p)
		_ = json.Unmarshal(raw["record"], &p.Record)
		_ = json.Unmarshal(raw["old_record"], &p.OldRecord)
		if b.Event != want || p.Operation != want || p.Table != "rt_open" || p.Schema != "public" || p.ID == "" || p.Record["label"] != "seven" {
			t.Fatalf("broadcast_changes %s: %s %s", want, b.Event, b.Payload)
		}
		if want == "INSERT" && string(raw["old_record"]) != "null" || want == "UPDATE" && p.OldRecord["n"] != 1.0 {
			t.Fatalf("broadcast_changes %s old_record: %s", want, raw["old_record"])
		}
	}
	if st := env.srv.Stats(); st.Broadcasts < 5 {
		t.Errorf("Stats.Broadcasts = %d, want at least 5", st.Broadcasts)
	}
}

// TestPrivateSendNeedsInsertPolicy: a client's broadcast on a private
// channel is relayed only when realtime.messages' INSERT policies let the
// sender write the topic; otherwise it is dropped. The same holds for the
// broadcast API's private messages.
func TestPrivateSendNeedsInsertPolicy(t *testing.T) {
	env := newPrivateEnv(t)
	alice, bob := newID(), newID()
	env.exec(`insert into rt_rooms values ('r2', $1), ('r2', $2)`, alice, bob)
	_, bobEvents := join(t, env.client(t, userToken(bob, time.Hour)), "r2", realtime.Private())
	sender, _ := join(t, env.client(t, userToken(alice, time.Hour)), "r2", realtime.Private())

	send := func(ch *realtime.Channel, n int) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := ch.Send(ctx, "chat", map[string]int{"n": n}); err != nil {
			t.Fatal(err)
		}
	}
	post := func(token string, n int) {
		body, _ := json.Marshal(map[string]any{"messages": []map[string]any{{"topic": "r2", "event": "chat", "payload": map[string]int{"n": n}, "private": true}}})
		if st, resp := env.postBroadcast(t, env.anon, token, string(body)); st != http.StatusAccepted {
			t.Fatalf("POST /api/broadcast: %d %s", st, resp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var se *realtime.ServerError
	if err := sender.Track(ctx, map[string]string{"who": "alice"}); !errors.As(err, &se) || !strings.Contains(se.Reason, reasonPrivateWrite+"r2") {
		t.Fatalf("presence track without an INSERT policy: %v", err)
	}
	send(sender, 1)
	post(userToken(alice, time.Hour), 2)
	env.exec(`select realtime.send('{"n":3}', 'chat', 'r2')`) // a marker from the database
	if n := payloadN(t, nextBroadcast(t, bobEvents)); n != 3 {
		t.Fatalf("bob got n=%v first, want the marker 3: sends without an INSERT policy must be dropped", n)
	}

	env.exec(rtWritePolicySQL)
	sender2, _ := join(t, env.client(t, userToken(alice, time.Hour)), "r2", realtime.Private()) // permissions are read at join
	send(sender2, 4)
	if n := payloadN(t, nextBroadcast(t, bobEvents)); n != 4 {
		t.Fatalf("bob got n=%v, want 4 once the INSERT policy allows alice", n)
	}
	post(userToken(alice, time.Hour), 5)
	if n := payloadN(t, nextBroadcast(t, bobEvents)); n != 5 {
		t.Fatalf("bob got n=%v, want 5 from the broadcast API", n)
	}
	eve := newID()
	post(userToken(eve, time.Hour), 6) // not a member: refused by the policy
	env.exec(`select realtime.send('{"n":7}', 'chat', 'r2')`)
	if n := payloadN(t, nextBroadcast(t, bobEvents)); n != 7 {
		t.Fatalf("bob got n=%v, want the marker 7 (eve's post is refused)", n)
	}
}

// TestMessagePartitions: maintenance creates the coming days' partitions
// of realtime.messages and drops those past the retention.
func TestMessagePartitions(t *testing.T) {
	env := newPrivateEnv(t)
	// One transaction: the server's own maintenance may run at any time.
	env.exec(`set role supabase_realtime_admin;
		create table realtime.messages_2020_01_01 partition of realtime.messages
		for values from ('2020-01-01') to ('2020-01-02');
		reset role;
		insert into realtime.messages (topic, extension, inserted_at)
		values ('old', 'broadcast', '2020-01-01 10:00'), ('older', 'broadcast', '2019-06-01 10:00')`)
	// The server runs maintenance at start too, concurrently: either run
	// may drop the old partition.
	if _, err := env.admin.Exec(context.Background(), `select realtime.sfp_maintain_messages('3 days')`); err != nil {
		t.Fatal(err)
	}
	var old, days int
	err := env.admin.QueryRow(context.Background(), `select
		(select count(*) from pg_class where relname = 'messages_2020_01_01')
		  + (select count(*) from realtime.messages where inserted_at < '2020-01-02'),
		(select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where n.nspname = 'realtime' and c.relname in (
		   'messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD'),
		   'messages_' || to_char((now() at time zone 'utc') + interval '2 days', 'YYYY_MM_DD')))`).Scan(&old, &days)
	if err != nil {
		t.Fatal(err)
	}
	if old != 0 || days != 2 {
		t.Fatalf("old partitions and rows left %d, today's and +2's partitions %d of 2", old, days)
	}
	if _, err := env.admin.Exec(context.Background(), `select realtime.sfp_maintain_messages('1 minute')`); err == nil {
		t.Fatal("a retention under an hour was accepted")
	}
}
