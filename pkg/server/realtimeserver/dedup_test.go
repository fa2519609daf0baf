package realtimeserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// dedupFixture creates a table whose policy reads a membership table, and
// tables whose policies could give two versions with equal columns
// different verdicts (a volatile call, directly or through a view or the
// policy of a table they read).
const dedupFixture = `
create table public.rt_members (account int not null, user_id uuid not null, primary key (account, user_id));
create table public.rt_items (id int primary key, account int not null, title text not null);
alter table public.rt_items enable row level security;
create policy rt_items_members on public.rt_items for select to authenticated
  using (exists (select 1 from public.rt_members m where m.account = rt_items.account and m.user_id = auth.uid()));
create table public.rt_dice (id int primary key, account int not null);
alter table public.rt_dice enable row level security;
create policy rt_dice_random on public.rt_dice for select to authenticated using (account = 1 and random() >= 0);
create view public.rt_lucky_members as select * from public.rt_members where random() >= 0;
create table public.rt_via_view (id int primary key, account int not null);
alter table public.rt_via_view enable row level security;
create policy rt_via_view_members on public.rt_via_view for select to authenticated
  using (exists (select 1 from public.rt_lucky_members m where m.account = rt_via_view.account));
create table public.rt_gate (account int primary key);
alter table public.rt_gate enable row level security;
create policy rt_gate_random on public.rt_gate for select to authenticated using (random() >= 0);
create table public.rt_via_rls (id int primary key, account int not null);
alter table public.rt_via_rls enable row level security;
create policy rt_via_rls_gate on public.rt_via_rls for select to authenticated
  using (exists (select 1 from public.rt_gate g where g.account = rt_via_rls.account));
grant select on public.rt_members, public.rt_items, public.rt_dice, public.rt_lucky_members, public.rt_via_view,
  public.rt_gate, public.rt_via_rls to authenticated;
alter publication supabase_realtime add table public.rt_items;`

// TestPolicyDedup: a policy that calls only stable and immutable
// functions is judged once per distinct value of the columns it reads; one
// that calls a volatile function, or reads a view or a table whose policy
// does, is judged version by version.
func TestPolicyDedup(t *testing.T) {
	env := newEnv(t)
	env.db.Exec(t, dedupFixture)
	ctx := context.Background()
	want := map[string]bool{"rt_items": true, "rt_dice": false, "rt_via_view": false, "rt_via_rls": false}
	for table, dedup := range want {
		var oid uint32
		if err := env.admin.QueryRow(ctx, "select $1::regclass::oid", "public."+table).Scan(&oid); err != nil {
			t.Fatal(err)
		}
		metas, err := env.srv.cat.tablesFor(ctx, []uint32{oid}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pols, err := env.srv.cat.policies(ctx, []privKey{{"authenticated", oid}}, metas, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pol := pols[privKey{"authenticated", oid}]
		if pol == nil || pol.never || pol.bypass {
			t.Fatalf("%s: policy %+v, want one that judges versions", table, pol)
		}
		if pol.dedup != dedup {
			t.Errorf("%s: dedup %v, want %v", table, pol.dedup, dedup)
		}
		if pol.loop == nil {
			t.Errorf("%s: no loop function", table)
		}
	}
}

// TestManyGroupsOneTransaction: many subscribers, each a member of one of
// three accounts, and one transaction interleaving rows of the three: each
// subscriber receives exactly its account's rows, in order. The versions
// are judged once per (subscriber, account) by one call that loops over the
// subscribers, so this checks that each verdict reaches its subscriber and
// its versions.
func TestManyGroupsOneTransaction(t *testing.T) {
	env := newEnv(t)
	env.db.Exec(t, dedupFixture)
	const users = 12
	type sub struct {
		account int
		events  <-chan realtime.Event
	}
	var subs []sub
	for i := 0; i < users; i++ {
		uid, account := newID(), i%3+1
		env.exec(`insert into public.rt_members values ($1, $2)`, account, uid)
		c := env.client(t, userToken(uid, time.Hour))
		subs = append(subs, sub{account, subscribe(t, c, "items", realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_items"})})
	}
	before := env.srv.Stats().VisibilityChecks
	env.exec(`insert into public.rt_items select g, g % 3 + 1, 'item ' || g from generate_series(1, 30) g`)
	for i, s := range subs {
		for id := 1; id <= 30; id++ {
			if id%3+1 != s.account {
				continue
			}
			e := nextChange(t, s.events, wait)
			rec := recordOf(t, e.Record)
			if rec["id"] != float64(id) || rec["account"] != float64(s.account) || rec["title"] != fmt.Sprintf("item %d", id) {
				t.Fatalf("subscriber %d (account %d): got %s, want item %d", i, s.account, e.Record, id)
			}
		}
		noChange(t, s.events, 50*time.Millisecond)
	}
	// One call judged every subscriber (a statement per subscriber
	// would be twelve).
	if n := env.srv.Stats().VisibilityChecks - before; n >= users {
		t.Errorf("%d visibility statements for %d subscribers, want one call looping over them", n, users)
	}
}
