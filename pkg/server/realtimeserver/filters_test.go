package realtimeserver

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// TestFilters: each operator selects the rows PostgreSQL's own operators
// would, on several column types, and comma-separated conditions are
// AND-ed.
func TestFilters(t *testing.T) {
	env := newEnv(t)
	env.exec(`create table public.rt_filt (id int primary key, n int, label text, price numeric(8,2), at timestamptz, flag boolean, tag uuid);
		grant select on public.rt_filt to anon, authenticated;
		alter publication supabase_realtime add table public.rt_filt`)
	const u2 = "6f1c1a4e-7c1b-4b65-9a3e-0c2a7e0b9d11"
	cases := []struct {
		filter string
		want   []int
	}{
		{"n=eq.5", []int{3}},
		{"n=neq.5", []int{1, 2, 4}},
		{"n=lt.3", []int{1}},
		{"n=lte.3", []int{1, 2}},
		{"n=gt.3", []int{3, 4}},
		{"n=gte.3", []int{2, 3, 4}},
		{"n=in.(1,5,9)", []int{1, 3}},
		{"n=gt.1,n=lt.7", []int{2, 3}},
		{"n=gt.1, label=eq.x", []int{3}},
		{"n=not.eq.5", []int{1, 2, 4}},
		{"n=not.in.(1,5)", []int{2, 4}},
		{"n=isdistinct.5", []int{1, 2, 4, 5}},
		{"label=eq.hello world", []int{1}},
		{`label=eq."a,b"`, []int{2}},
		{`label=in.(x,"a,b")`, []int{2, 3}},
		{"label=is.null", []int{4}},
		{"label=not.is.null", []int{1, 2, 3, 5}},
		{"label=like.he%", []int{1}},
		{"label=ilike.he%", []int{1, 5}},
		{"label=match.^[a-z]$", []int{3}},
		{"price=gt.10.5", []int{3, 4}},
		{"price=eq.10.5", []int{2}},
		{"at=gte.2024-01-02T00:00:00Z", []int{2, 3, 5}},
		{"at=lt.2024-01-02 01:00:00+01", []int{1}},
		{"flag=is.true", []int{1, 4}},
		{"flag=eq.false", []int{2}},
		{"tag=eq." + "6F1C1A4E-7C1B-4B65-9A3E-0C2A7E0B9D11", []int{2}},
	}
	c := env.client(t, "")
	type sub struct {
		events <-chan realtime.Event
	}
	subs := make([]sub, len(cases))
	for i, tc := range cases {
		ch := c.Channel(fmt.Sprintf("f%d", i)).
			OnPostgresChanges(realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_filt", Filter: tc.filter}, nil).
			OnPostgresChanges(realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_open"}, nil)
		subs[i].events = ch.Events(256)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		if err := ch.Subscribe(ctx); err != nil {
			cancel()
			t.Fatalf("subscribe %q: %v", tc.filter, err)
		}
		cancel()
	}
	env.exec(`insert into rt_filt values
		(1, 1, 'hello world', 1.5, '2024-01-01 12:00:00+00', true, null),
		(2, 3, 'a,b', 10.50, '2024-01-02 00:00:00+00', false, $1),
		(3, 5, 'x', 10.51, '2024-01-03 00:00:00+00', null, null),
		(4, 7, null, 100, null, true, null),
		(5, null, 'HELLO', null, '2024-01-02 00:00:00+00', null, null)`, u2)
	env.exec(`insert into rt_open values (1000, 'marker', 0)`) // after the rows, in commit order
	for i, tc := range cases {
		var got []int
	collect:
		for {
			e := nextChange(t, subs[i].events, wait)
			if e.Table == "rt_open" {
				break collect
			}
			got = append(got, int(recordOf(t, e.Record)["id"].(float64)))
		}
		sort.Ints(got)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("filter %q delivered rows %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// TestFilterOnOldRowAndEvents: an UPDATE is filtered on its new row, a
// DELETE on its old row (complete with REPLICA IDENTITY FULL), and the
// event of a binding selects the change types.
func TestFilterOnOldRowAndEvents(t *testing.T) {
	env := newEnv(t)
	c := env.client(t, "")
	all := subscribe(t, c, "all", realtime.PostgresChangesFilter{Table: "rt_full", Filter: "label=eq.keep"})
	dels := subscribe(t, c, "dels", realtime.PostgresChangesFilter{Event: realtime.Delete, Table: "rt_full"})
	env.exec(`insert into rt_full values (1, 'keep', 1), (2, 'drop', 2)`)
	env.exec(`update rt_full set label = 'drop' where id = 1`)
	env.exec(`update rt_full set label = 'keep', n = 20 where id = 2`)
	env.exec(`delete from rt_full where id = 2`)
	env.exec(`delete from rt_full where id = 1`)

	type seen struct {
		typ realtime.ChangeType
		id  float64
	}
	var got []seen
	for len(got) < 3 {
		e := nextChange(t, all, wait)
		rec := e.Record
		if e.Type == realtime.Delete {
			rec = e.OldRecord
		}
		got = append(got, seen{e.Type, recordOf(t, rec)["id"].(float64)})
	}
	want := []seen{{realtime.Insert, 1}, {realtime.Update, 2}, {realtime.Delete, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("label=eq.keep delivered %v, want %v", got, want)
	}
	d1 := nextChange(t, dels, wait)
	d2 := nextChange(t, dels, wait)
	if d1.Type != realtime.Delete || d2.Type != realtime.Delete {
		t.Fatalf("DELETE binding got %s, %s", d1.Type, d2.Type)
	}
	old := recordOf(t, d1.OldRecord)
	if old["id"] != 2.0 || old["label"] != "keep" || old["n"] != 20.0 {
		t.Fatalf("DELETE old_record with REPLICA IDENTITY FULL = %s, want the whole row", d1.OldRecord)
	}
	// An UPDATE on a REPLICA IDENTITY FULL table carries the old row.
	env.exec(`insert into rt_full values (3, 'keep', 3)`)
	env.exec(`update rt_full set n = 4 where id = 3`)
	nextChange(t, all, wait)
	u := nextChange(t, all, wait)
	if u.Type != realtime.Update || recordOf(t, u.OldRecord)["n"] != 3.0 || recordOf(t, u.Record)["n"] != 4.0 {
		t.Fatalf("UPDATE = %s old %s new %s, want old n 3 and new n 4", u.Type, u.OldRecord, u.Record)
	}
	noChange(t, dels, 100*time.Millisecond)
}
