package realtimeserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

const wait = 15 * time.Second

// subscribe joins a channel with one postgres_changes binding and returns
// its events.
func subscribe(t testing.TB, c *realtime.Client, name string, f realtime.PostgresChangesFilter) <-chan realtime.Event {
	t.Helper()
	ch := c.Channel(name).OnPostgresChanges(f, nil)
	events := ch.Events(1024)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatalf("subscribe %s: %v", name, err)
	}
	return events
}

// TestGoClientChangesThroughGateway: owners receive INSERT and UPDATE of
// their rows with typed values; a user RLS does not let see the rows
// receives nothing, even filtering on them, nor of their deletes; a DELETE
// whose old row is only its key (default replica identity) reaches nobody
// subject to row-level security, since the policy cannot be judged.
func TestGoClientChangesThroughGateway(t *testing.T) {
	env := newEnv(t)
	alice, bob, eve := newID(), newID(), newID()

	aliceEv := subscribe(t, env.client(t, userToken(alice, time.Hour)), "notes", realtime.PostgresChangesFilter{Table: "rt_notes", Filter: "owner=eq." + alice})
	bobEv := subscribe(t, env.client(t, userToken(bob, time.Hour)), "notes", realtime.PostgresChangesFilter{Table: "rt_notes"})
	eveEv := subscribe(t, env.client(t, userToken(eve, time.Hour)), "spy", realtime.PostgresChangesFilter{Table: "rt_notes", Filter: "owner=eq." + alice})

	// Each write waits for the previous change to arrive, so the test
	// reads the changes one at a time.
	env.exec(`insert into rt_notes (id, owner, title, qty, price, ratio, tags, meta, done, at, body)
		values (1, $1, 'first', 3, 12.5, 0.25, '{a,"b c",NULL}', '{"k": [1, 2]}', true, '2024-05-01 10:00:00.5+00', '\x0102')`, alice)
	ins := nextChange(t, aliceEv, wait)
	if ins.Type != realtime.Insert || ins.Schema != "public" || ins.Table != "rt_notes" {
		t.Fatalf("first change = %s %s.%s, want INSERT public.rt_notes", ins.Type, ins.Schema, ins.Table)
	}
	rec := recordOf(t, ins.Record)
	want := map[string]any{"id": 1.0, "owner": alice, "title": "first", "qty": 3.0, "price": 12.5, "ratio": 0.25,
		"tags": []any{"a", "b c", nil}, "meta": map[string]any{"k": []any{1.0, 2.0}}, "done": true,
		"at": "2024-05-01T10:00:00.5+00:00", "body": "0102"}
	for k, v := range want {
		if !reflect.DeepEqual(rec[k], v) { // both decoded JSON: nil, bool, float64, string, []any, map[string]any
			t.Errorf("record[%s] = %#v, want %#v", k, rec[k], v)
		}
	}
	if ins.OldRecord != nil {
		t.Errorf("INSERT has old_record %s", ins.OldRecord)
	}
	types := map[string]string{}
	for _, c := range ins.Columns {
		types[c.Name] = c.Type
	}
	for col, typ := range map[string]string{"id": "int8", "owner": "uuid", "qty": "int4", "price": "numeric", "tags": "_text", "meta": "jsonb", "at": "timestamptz", "body": "bytea"} {
		if types[col] != typ {
			t.Errorf("column %s type = %q, want %q (columns %v)", col, types[col], typ, ins.Columns)
		}
	}
	if ins.CommitTimestamp.IsZero() || time.Since(ins.CommitTimestamp) > time.Hour {
		t.Errorf("commit timestamp = %v", ins.CommitTimestamp)
	}

	env.exec(`update rt_notes set title = 'second', qty = 4 where id = 1`)
	upd := nextChange(t, aliceEv, wait)
	if upd.Type != realtime.Update || recordOf(t, upd.Record)["title"] != "second" {
		t.Fatalf("second change = %s %s", upd.Type, upd.Record)
	}
	if old := recordOf(t, upd.OldRecord); len(old) != 1 || old["id"] != 1.0 {
		t.Errorf("UPDATE old_record = %s, want the primary key only (default replica identity)", upd.OldRecord)
	}

	env.exec(`insert into rt_notes (id, owner, title) values (2, $1, 'bob''s')`, bob)
	b1 := nextChange(t, bobEv, wait)
	if b1.Type != realtime.Insert || recordOf(t, b1.Record)["id"] != 2.0 {
		t.Fatalf("bob's first change = %s %s, want his own INSERT of note 2", b1.Type, b1.Record)
	}

	env.exec(`delete from rt_notes where id = 1`)
	// Bob could not see Alice's note, so he hears nothing of its delete
	// (the official server would send it to him, reduced to its key).
	// Alice filters on owner, which the old row of a default replica
	// identity does not carry: without it the policy cannot be judged
	// either, so nobody subject to RLS receives the delete.

	// Eve, filtering on Alice's rows, got nothing: RLS hid the insert and
	// the update, and the delete. Later changes reaching Alice and Bob
	// show the stream went past them.
	env.exec(`insert into rt_notes (id, owner, title) values (3, $1, 'third')`, alice)
	if a := nextChange(t, aliceEv, wait); a.Type != realtime.Insert || recordOf(t, a.Record)["id"] != 3.0 {
		t.Fatalf("alice's third change = %s %s, want INSERT of note 3", a.Type, a.Record)
	}
	env.exec(`insert into rt_notes (id, owner, title) values (4, $1, 'fourth')`, bob)
	if b2 := nextChange(t, bobEv, wait); b2.Type != realtime.Insert || recordOf(t, b2.Record)["id"] != 4.0 {
		t.Fatalf("bob's second change = %s record %s old %s, want his INSERT of note 4 (nothing of Alice's delete)", b2.Type, b2.Record, b2.OldRecord)
	}
	noChange(t, eveEv, 200*time.Millisecond)
}

// TestSubscribeErrorsCarryTheServerReason: a table outside the
// publication, a missing table and a bad filter make Subscribe fail with
// the official server's wording.
func TestSubscribeErrorsCarryTheServerReason(t *testing.T) {
	env := newEnv(t)
	c := env.client(t, userToken(newID(), time.Hour))
	cases := []struct {
		name   string
		filter realtime.PostgresChangesFilter
		reason string
	}{
		{"hidden", realtime.PostgresChangesFilter{Table: "rt_hidden"}, "Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: rt_hidden, filters: [], select: nil]"},
		{"missing", realtime.PostgresChangesFilter{Table: "no_such_table"}, "Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: no_such_table"},
		{"badop", realtime.PostgresChangesFilter{Table: "rt_open", Filter: "id=foo.1"}, "Error parsing `filter` params: [\"foo\", \"1\"]"},
		{"badvalue", realtime.PostgresChangesFilter{Table: "rt_open", Filter: "id=eq.abc"}, `invalid input syntax for type integer: "abc"`},
		{"badcolumn", realtime.PostgresChangesFilter{Table: "rt_open", Filter: "nope=eq.1"}, "invalid column for filter nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.Channel(tc.name).OnPostgresChanges(tc.filter, nil)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err := ch.Subscribe(ctx)
			var se *realtime.ServerError
			if !errors.As(err, &se) {
				t.Fatalf("Subscribe error = %v, want a *realtime.ServerError", err)
			}
			if !strings.Contains(se.Reason, tc.reason) {
				t.Fatalf("reason = %q, want it to contain %q", se.Reason, tc.reason)
			}
		})
	}
}

// TestTaskExecutionsByResource: the tenant schema's task_executions, watched
// by resource_id as `sfp task watch` does: a member of the task's account
// sees every progress update in order; a user of another account sees
// nothing.
func TestTaskExecutionsByResource(t *testing.T) {
	env := newEnv(t)
	member, outsider := newID(), newID()
	env.exec(`insert into auth.users (id, email) values ($1, 'member@example.test'), ($2, 'outsider@example.test')`, member, outsider)
	var account string
	if err := env.admin.QueryRow(context.Background(), `select public.create_account('Acme', 'acme', $1)`, member).Scan(&account); err != nil {
		t.Fatalf("create account: %v", err)
	}
	resource := newID()
	var task string
	if err := env.admin.QueryRow(context.Background(), `insert into public.task_executions (account_id, resource_type, resource_id, kind)
		values ($1, 'deployment', $2, 'deploy') returning id`, account, resource).Scan(&task); err != nil {
		t.Fatalf("insert task: %v", err)
	}
	f := realtime.PostgresChangesFilter{Event: realtime.Update, Table: "task_executions", Filter: "resource_id=eq." + resource}
	mine := subscribe(t, env.client(t, userToken(member, time.Hour)), "task", f)
	theirs := subscribe(t, env.client(t, userToken(outsider, time.Hour)), "task", f)

	env.exec(`update public.task_executions set status = 'running' where id = $1`, task)
	for p := 10; p <= 100; p += 10 {
		status := "running"
		if p == 100 {
			status = "succeeded"
		}
		env.exec(`update public.task_executions set progress = $2, status = $3, message = $4 where id = $1`, task, p, status, fmt.Sprintf("step %d", p))
	}
	var last float64
	for i := 0; i <= 10; i++ {
		e := nextChange(t, mine, wait)
		rec := recordOf(t, e.Record)
		if rec["id"] != task || rec["resource_id"] != resource {
			t.Fatalf("change for another task: %s", e.Record)
		}
		p := rec["progress"].(float64)
		if p < last {
			t.Fatalf("progress went back from %v to %v: changes out of commit order", last, p)
		}
		last = p
		if old := recordOf(t, e.OldRecord); old["status"] == nil {
			t.Errorf("old_record of a REPLICA IDENTITY FULL table lacks columns: %s", e.OldRecord)
		}
	}
	if last != 100 {
		t.Fatalf("last progress = %v, want 100", last)
	}
	noChange(t, theirs, 200*time.Millisecond)
}

// TestAccessTokenRefreshChangesVisibility: a token pushed with
// access_token replaces the claims visibility is checked under, and a new
// role re-subscribes the bindings.
func TestAccessTokenRefreshChangesVisibility(t *testing.T) {
	env := newEnv(t)
	alice, bob := newID(), newID()
	var tok atomic.Value
	tok.Store(userToken(alice, time.Hour))
	c, err := realtime.New(env.baseURL(), env.anon, realtime.WithAccessToken(func(context.Context) (string, error) { return tok.Load().(string), nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	ch := c.Channel("notes", realtime.BroadcastAck()).OnPostgresChanges(realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_notes"}, nil)
	events := ch.Events(64)
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	// sync makes sure the server handled what the client sent before.
	sync := func() {
		if err := ch.Send(ctx, "sync", map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	env.exec(`insert into rt_notes (id, owner) values (1, $1)`, bob)
	env.exec(`insert into rt_notes (id, owner) values (2, $1)`, alice)
	if e := nextChange(t, events, wait); recordOf(t, e.Record)["id"] != 2.0 {
		t.Fatalf("as alice: got row %s first, want her row 2 (bob's row 1 is hidden)", e.Record)
	}

	tok.Store(userToken(bob, time.Hour))
	if err := c.RefreshAuth(ctx); err != nil {
		t.Fatal(err)
	}
	sync()
	env.exec(`insert into rt_notes (id, owner) values (3, $1)`, alice)
	env.exec(`insert into rt_notes (id, owner) values (4, $1)`, bob)
	if e := nextChange(t, events, wait); recordOf(t, e.Record)["id"] != 4.0 {
		t.Fatalf("as bob: got row %s first, want his row 4", e.Record)
	}

	tok.Store(signToken(map[string]any{"role": "service_role", "iss": "supabase"}, time.Hour))
	if err := c.RefreshAuth(ctx); err != nil {
		t.Fatal(err)
	}
	sync()
	env.exec(`insert into rt_notes (id, owner) values (5, $1)`, alice)
	if e := nextChange(t, events, wait); recordOf(t, e.Record)["id"] != 5.0 {
		t.Fatalf("as service_role: got row %s, want row 5 (no RLS for service_role)", e.Record)
	}
}

// TestPayloadColumnsAndErrors: payloads carry only the columns the role
// may select (and those a binding selects, plus the key); tables without a
// primary key, or whose key the role may not select, get the official
// error payloads; rows over 1 MB keep only their short values.
func TestPayloadColumnsAndErrors(t *testing.T) {
	env := newEnv(t)
	env.exec(`
		create table public.rt_cols (id int primary key, label text, secret text);
		revoke all on public.rt_cols from anon, authenticated;
		grant select (id, label) on public.rt_cols to authenticated;
		create table public.rt_nokey (v text);
		grant select on public.rt_nokey to authenticated;
		create table public.rt_hiddenkey (id int primary key, label text);
		revoke all on public.rt_hiddenkey from anon, authenticated;
		grant select (label) on public.rt_hiddenkey to authenticated;
		alter publication supabase_realtime add table public.rt_cols, public.rt_nokey, public.rt_hiddenkey`)
	c := env.client(t, userToken(newID(), time.Hour))
	cols := subscribe(t, c, "cols", realtime.PostgresChangesFilter{Table: "rt_cols"})
	sel := subscribe(t, c, "sel", realtime.PostgresChangesFilter{Table: "rt_open", Select: []string{"label"}})
	nokey := subscribe(t, c, "nokey", realtime.PostgresChangesFilter{Table: "rt_nokey"})
	hidden := subscribe(t, c, "hidden", realtime.PostgresChangesFilter{Table: "rt_hiddenkey"})

	env.exec(`insert into rt_cols values (1, 'shown', 'not for you')`)
	e := nextChange(t, cols, wait)
	if rec := recordOf(t, e.Record); len(rec) != 2 || rec["label"] != "shown" || rec["secret"] != nil {
		t.Errorf("record with column privileges = %s, want id and label only", e.Record)
	}
	if len(e.Columns) != 2 {
		t.Errorf("columns = %v, want id and label", e.Columns)
	}

	env.exec(`insert into rt_open values (7, 'seven', 7)`)
	e = nextChange(t, sel, wait)
	if rec := recordOf(t, e.Record); len(rec) != 2 || rec["label"] != "seven" || rec["id"] != 7.0 {
		t.Errorf("record with select [label] = %s, want label and the key", e.Record)
	}

	env.exec(`insert into rt_nokey values ('x')`)
	e = nextChange(t, nokey, wait)
	if len(e.Errors) != 1 || e.Errors[0] != "Error 400: Bad Request, no primary key" || e.Record != nil {
		t.Errorf("table without a key: errors %v record %s", e.Errors, e.Record)
	}

	env.exec(`insert into rt_hiddenkey values (1, 'x')`)
	e = nextChange(t, hidden, wait)
	if len(e.Errors) != 1 || e.Errors[0] != "Error 401: Unauthorized" || e.Record != nil {
		t.Errorf("key the role may not select: errors %v record %s", e.Errors, e.Record)
	}

	env.exec(`insert into rt_cols values (2, repeat('x', 1100000), 's')`)
	env.exec(`insert into rt_cols values (3, 'small', 's')`)
	e = nextChange(t, cols, wait)
	if len(e.Errors) != 1 || e.Errors[0] != "Error 413: Payload Too Large" {
		t.Fatalf("1 MB row: errors %v", e.Errors)
	}
	if rec := recordOf(t, e.Record); rec["id"] != 2.0 || rec["label"] != nil {
		t.Errorf("1 MB row record = %.200s, want the id without the long label", e.Record)
	}
	if e = nextChange(t, cols, wait); e.Errors != nil || recordOf(t, e.Record)["label"] != "small" {
		t.Errorf("next row: errors %v record %s", e.Errors, e.Record)
	}
}

// TestFailingPolicyHidesOnlyItsGroup: a policy that raises for one user
// makes that user miss the change, not the others, and later batches work.
func TestFailingPolicyHidesOnlyItsGroup(t *testing.T) {
	env := newEnv(t)
	good, bad := newID(), newID()
	env.exec(`
		create table public.rt_boom (id int primary key, label text);
		alter table public.rt_boom enable row level security;
		create function public.rt_boom_check() returns boolean language plpgsql stable as $$
		begin
		  if auth.uid() = '` + bad + `'::uuid then raise exception 'policy failure for this user'; end if;
		  return true;
		end $$;
		create policy rt_boom_read on public.rt_boom for select to authenticated using (public.rt_boom_check());
		grant select on public.rt_boom to authenticated;
		alter publication supabase_realtime add table public.rt_boom`)
	goodEv := subscribe(t, env.client(t, userToken(good, time.Hour)), "boom", realtime.PostgresChangesFilter{Table: "rt_boom"})
	badEv := subscribe(t, env.client(t, userToken(bad, time.Hour)), "boom", realtime.PostgresChangesFilter{Table: "rt_boom"})
	for i := 1; i <= 3; i++ {
		env.exec(`insert into rt_boom values ($1, 'x')`, i)
		if e := nextChange(t, goodEv, wait); recordOf(t, e.Record)["id"] != float64(i) {
			t.Fatalf("good user: change %d is %s", i, e.Record)
		}
	}
	noChange(t, badEv, 200*time.Millisecond)
}

// TestAwaitVisibleWaitsForRunningTransactions: the visibility check waits
// for transactions new snapshots still see as running (it cannot return
// early: the wait ends only after the commit).
func TestAwaitVisibleWaitsForRunningTransactions(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	tx, err := env.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var xid int64
	if err := tx.QueryRow(ctx, `insert into rt_open values (1, 'x', 1) returning (pg_current_xact_id()::text::bigint % 4294967296)`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- env.srv.disp.awaitVisible(ctx, []int64{xid}) }()
	select {
	case err := <-done:
		t.Fatalf("returned while transaction %d is running: %v", xid, err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("still waiting after the commit")
	}
	// Finished transactions, and ids from an earlier epoch, do not wait.
	if err := env.srv.disp.awaitVisible(ctx, []int64{xid, 3}); err != nil {
		t.Fatal(err)
	}
}
