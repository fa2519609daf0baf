package realtimeserver

import (
	"context"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// tenantAccount is an account of the tenant schema with a project and an
// environment deployments can go to.
type tenantAccount struct {
	id, project, environment string
}

func newTenantAccount(t *testing.T, env *testEnv, slug, owner string) tenantAccount {
	t.Helper()
	ctx := context.Background()
	var a tenantAccount
	if err := env.admin.QueryRow(ctx, `select public.create_account($1, $1, $2)`, slug, owner).Scan(&a.id); err != nil {
		t.Fatalf("create account %s: %v", slug, err)
	}
	if err := env.admin.QueryRow(ctx, `insert into public.projects (account_id, identifier) values ($1, $2) returning id`,
		a.id, slug+"/app").Scan(&a.project); err != nil {
		t.Fatalf("create project: %v", err)
	}
	if err := env.admin.QueryRow(ctx, `insert into public.environments (account_id, project_id, name) values ($1, $2, 'prod') returning id`,
		a.id, a.project).Scan(&a.environment); err != nil {
		t.Fatalf("create environment: %v", err)
	}
	return a
}

func (a tenantAccount) deploy(t *testing.T, env *testEnv, message string, progress int) string {
	t.Helper()
	var id string
	if err := env.admin.QueryRow(context.Background(), `insert into public.deployments (account_id, project_id, environment_id, message, progress)
		values ($1, $2, $3, $4, $5) returning id`, a.id, a.project, a.environment, message, progress).Scan(&id); err != nil {
		t.Fatalf("insert deployment: %v", err)
	}
	return id
}

// TestDeleteReachesOnlyThoseWhoCouldSeeTheRow is the hardening finding: a
// user of account B listening for DELETEs on deployments, with filters that
// probe values (eq on a guessed message, neq on its own account, a range on
// progress) or none, must learn nothing when account A's deployments are
// deleted — one at a time or all at once by deleting the account — while a
// viewer of A, who could see them, still receives the deletes.
func TestDeleteReachesOnlyThoseWhoCouldSeeTheRow(t *testing.T) {
	env := newEnv(t)
	ownerA, viewerA, ownerB := newID(), newID(), newID()
	env.exec(`insert into auth.users (id, email) values ($1, 'a@example.test'), ($2, 'viewer@example.test'), ($3, 'b@example.test')`, ownerA, viewerA, ownerB)
	a := newTenantAccount(t, env, "acme", ownerA)
	b := newTenantAccount(t, env, "bolt", ownerB)
	env.exec(`insert into public.accounts_memberships (account_id, user_id, account_role) values ($1, $2, 'viewer')`, a.id, viewerA)
	const guess = "deploying secret-project"
	doomed := a.deploy(t, env, guess, 50)
	later := []string{a.deploy(t, env, guess, 60), a.deploy(t, env, "other", 90)}

	del := func(filter string) realtime.PostgresChangesFilter {
		return realtime.PostgresChangesFilter{Event: realtime.Delete, Table: "deployments", Filter: filter}
	}
	outsider := env.client(t, userToken(ownerB, time.Hour))
	probes := map[string]<-chan realtime.Event{
		"eq":   subscribe(t, outsider, "eq", del("message=eq."+guess)),
		"neq":  subscribe(t, outsider, "neq", del("account_id=neq."+b.id)),
		"gt":   subscribe(t, outsider, "gt", del("progress=gt.40")),
		"none": subscribe(t, outsider, "none", del("")),
		"all":  subscribe(t, outsider, "all", realtime.PostgresChangesFilter{Event: realtime.AllChanges, Table: "deployments"}),
	}
	viewer := env.client(t, userToken(viewerA, time.Hour))
	viewerAll := subscribe(t, viewer, "none", del(""))
	viewerEq := subscribe(t, viewer, "eq", del("message=eq."+guess))

	env.exec(`delete from public.deployments where id = $1`, doomed)
	for name, ch := range map[string]<-chan realtime.Event{"unfiltered": viewerAll, "eq": viewerEq} {
		e := nextChange(t, ch, wait)
		if e.Type != realtime.Delete || recordOf(t, e.OldRecord)["id"] != doomed {
			t.Fatalf("viewer of A (%s): got %s %s, want the DELETE of %s", name, e.Type, e.OldRecord, doomed)
		}
		if old := recordOf(t, e.OldRecord); len(old) != 1 {
			t.Errorf("viewer of A (%s): old_record %s, want the primary key only (RLS table)", name, e.OldRecord)
		}
	}

	// Account A goes, and its deployments with it, in one transaction.
	env.exec(`delete from public.accounts where id = $1`, a.id)

	// B's own deployment, inserted and deleted, reaches B's channels. They
	// share one connection, on which messages keep commit order, so when
	// it has arrived anything about A's rows would have arrived before it.
	// (The delete waits for the insert: a row already gone when its INSERT
	// is dispatched is not shown.)
	mine := b.deploy(t, env, guess, 50)
	if e := nextChange(t, probes["all"], wait); e.Type != realtime.Insert || recordOf(t, e.Record)["id"] != mine {
		t.Fatalf("outsider (all events): first change %s %s %s, want the INSERT of its own deployment %s (A's: %s %v)", e.Type, e.Record, e.OldRecord, mine, doomed, later)
	}
	env.exec(`delete from public.deployments where id = $1`, mine)
	for _, name := range []string{"eq", "gt", "none", "all"} {
		e := nextChange(t, probes[name], wait)
		if e.Type != realtime.Delete || recordOf(t, e.OldRecord)["id"] != mine {
			t.Fatalf("outsider (%s): got %s %s, want only the DELETE of its own deployment %s (A's were %s, %v)", name, e.Type, e.OldRecord, mine, doomed, later)
		}
	}
	for name, ch := range probes {
		noChange(t, ch, 100*time.Millisecond)
		_ = name
	}
	noChange(t, viewerEq, 100*time.Millisecond) // the viewer lost sight with the account
}

// TestUpdateAcrossSight: an UPDATE that moves a row from one user's sight
// to another's tells each only what it could see. The new owner receives
// the UPDATE with old_record reduced to the key (the old values were not
// its to see); the old owner receives it with its old values and a record
// reduced to the key (the row left its view); a third user whose filter
// matches the new values receives nothing. A row inserted for one user and
// moved to another in the same transaction shows the new owner nothing of
// its first version, and the first owner its version, then the move.
func TestUpdateAcrossSight(t *testing.T) {
	env := newEnv(t)
	env.exec(`alter table rt_notes replica identity full`)
	alice, bob, eve := newID(), newID(), newID()
	upd := realtime.PostgresChangesFilter{Event: realtime.AllChanges, Table: "rt_notes"}
	aliceEv := subscribe(t, env.client(t, userToken(alice, time.Hour)), "notes", upd)
	// Alice's note, received before anyone else listens (changes are
	// dispatched a moment after they commit).
	env.exec(`insert into rt_notes (id, owner, title) values (1, $1, 'draft')`, alice)
	if e := nextChange(t, aliceEv, wait); e.Type != realtime.Insert || recordOf(t, e.Record)["id"] != 1.0 {
		t.Fatalf("alice: %s %s, want the INSERT of her note 1", e.Type, e.Record)
	}
	bobEv := subscribe(t, env.client(t, userToken(bob, time.Hour)), "notes", upd)
	eveEv := subscribe(t, env.client(t, userToken(eve, time.Hour)), "notes",
		realtime.PostgresChangesFilter{Event: realtime.AllChanges, Table: "rt_notes", Filter: "title=eq.secret"})

	env.exec(`update rt_notes set owner = $1, title = 'secret' where id = 1`, bob)
	e := nextChange(t, bobEv, wait)
	if rec, old := recordOf(t, e.Record), recordOf(t, e.OldRecord); e.Type != realtime.Update ||
		rec["title"] != "secret" || rec["owner"] != bob || len(old) != 1 || old["id"] != 1.0 {
		t.Fatalf("new owner: %s record %s old %s, want the new row and old_record {id: 1}", e.Type, e.Record, e.OldRecord)
	}
	e = nextChange(t, aliceEv, wait)
	if rec, old := recordOf(t, e.Record), recordOf(t, e.OldRecord); e.Type != realtime.Update ||
		len(rec) != 1 || rec["id"] != 1.0 || old["title"] != "draft" || old["owner"] != alice {
		t.Fatalf("old owner: %s record %s old %s, want record {id: 1} and the old row", e.Type, e.Record, e.OldRecord)
	}

	// One transaction: inserted as Alice's, then given to Bob.
	tx, err := env.admin.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `insert into rt_notes (id, owner, title) values (2, $1, 'alice only')`, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `update rt_notes set owner = $1, title = 'for bob' where id = 2`, bob); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = nextChange(t, bobEv, wait)
	if rec, old := recordOf(t, e.Record), recordOf(t, e.OldRecord); e.Type != realtime.Update ||
		rec["title"] != "for bob" || len(old) != 1 {
		t.Fatalf("bob: %s record %s old %s, want only the UPDATE giving him note 2, old_record {id: 2}", e.Type, e.Record, e.OldRecord)
	}
	// Alice could see the version she inserted, and then the row left her
	// view: she receives both, in order, and nothing of the new version.
	e = nextChange(t, aliceEv, wait)
	if rec := recordOf(t, e.Record); e.Type != realtime.Insert || rec["id"] != 2.0 || rec["title"] != "alice only" {
		t.Fatalf("alice: %s record %s, want the INSERT of her version of note 2", e.Type, e.Record)
	}
	e = nextChange(t, aliceEv, wait)
	if rec, old := recordOf(t, e.Record), recordOf(t, e.OldRecord); e.Type != realtime.Update ||
		len(rec) != 1 || rec["id"] != 2.0 || old["title"] != "alice only" {
		t.Fatalf("alice: %s record %s old %s, want the UPDATE moving note 2 out of her view", e.Type, e.Record, e.OldRecord)
	}

	// Eve, whose filter matched note 1's new title, saw neither version.
	env.exec(`insert into rt_notes (id, owner, title) values (3, $1, 'secret')`, eve)
	if e := nextChange(t, eveEv, wait); e.Type != realtime.Insert || recordOf(t, e.Record)["id"] != 3.0 {
		t.Fatalf("eve: first change %s %s, want her own INSERT of note 3", e.Type, e.Record)
	}
	noChange(t, bobEv, 100*time.Millisecond)
}

// TestDeleteWithoutWholeOldRow: with the default replica identity, a
// DELETE carries only the key, so a policy on another column cannot be
// judged and no subscriber under row-level security receives it; roles
// that bypass row-level security still do, and so does a policy that
// reads the key alone.
func TestDeleteWithoutWholeOldRow(t *testing.T) {
	env := newEnv(t)
	alice := newID()
	env.exec(`create table public.rt_keyed (id int primary key, label text);
		alter table public.rt_keyed enable row level security;
		create policy rt_keyed_even on public.rt_keyed for select to authenticated using (id % 2 = 0);
		grant select on public.rt_keyed to authenticated, service_role;
		alter publication supabase_realtime add table public.rt_keyed`)
	env.exec(`insert into rt_notes (id, owner, title) values (1, $1, 'x')`, alice)
	env.exec(`insert into rt_keyed (id, label) values (1, 'odd'), (2, 'even')`)
	del := func(table string) realtime.PostgresChangesFilter {
		return realtime.PostgresChangesFilter{Event: realtime.Delete, Table: table}
	}
	aliceC := env.client(t, userToken(alice, time.Hour))
	aliceNotes := subscribe(t, aliceC, "notes", del("rt_notes"))
	aliceKeyed := subscribe(t, aliceC, "keyed", del("rt_keyed"))
	service := subscribe(t, env.client(t, signToken(map[string]any{"role": "service_role"}, time.Hour)), "notes", del("rt_notes"))

	env.exec(`delete from rt_notes where id = 1`)
	if e := nextChange(t, service, wait); e.Type != realtime.Delete || string(e.OldRecord) != `{"id":1}` {
		t.Fatalf("service_role: %s %s, want the DELETE of note 1", e.Type, e.OldRecord)
	}
	env.exec(`delete from rt_keyed where id in (1, 2)`)
	if e := nextChange(t, aliceKeyed, wait); e.Type != realtime.Delete || string(e.OldRecord) != `{"id":2}` {
		t.Fatalf("alice on rt_keyed: %s %s, want the DELETE of row 2 only", e.Type, e.OldRecord)
	}
	noChange(t, aliceKeyed, 100*time.Millisecond)
	noChange(t, aliceNotes, 100*time.Millisecond)
}
