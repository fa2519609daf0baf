package supabase_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestCreateAccount(t *testing.T) {
	db := newFixtureDB(t)
	ctx := context.Background()

	// A signed-in user creates an account and becomes its owner.
	var id string
	mustQuery(t, db, user(outsider), &id, `select public.create_account('  My Team ', 'my-team')`)
	var name, role, createdBy string
	mustQuery(t, db, user(outsider), &name, `select name from public.accounts where id = $1`, id)
	if name != "My Team" {
		t.Errorf("name = %q, want trimmed %q", name, "My Team")
	}
	mustQuery(t, db, user(outsider), &role, `select account_role::text from public.accounts_memberships where account_id = $1 and user_id = $2`, id, outsider)
	if role != "owner" {
		t.Errorf("creator's role = %q, want owner", role)
	}
	mustQuery(t, db, user(outsider), &createdBy, `select created_by::text from public.accounts where id = $1`, id)
	if createdBy != outsider {
		t.Errorf("created_by = %q, want the caller %q", createdBy, outsider)
	}
	// Nobody else sees it.
	var n int
	mustQuery(t, db, user(accA.Owner), &n, `select count(*) from public.accounts where id = $1`, id)
	if n != 0 {
		t.Errorf("owner of another account sees the new account")
	}

	cases := []refusal{
		{"slug taken", user(outsider), `select public.create_account('X', 'account-a')`, "23505", "already taken"},
		{"slug uppercase", user(outsider), `select public.create_account('X', 'Bad')`, "22023", "lowercase"},
		{"slug trailing hyphen", user(outsider), `select public.create_account('X', 'bad-')`, "22023", "invalid account slug"},
		{"slug null", user(outsider), `select public.create_account('X', null)`, "22023", "invalid account slug"},
		{"blank name", user(outsider), `select public.create_account('   ', 'blank')`, "22023", "name"},
		{"anon", pgtest.Anon(), `select public.create_account('X', 'anon-team')`, "42501", "permission denied"},
		{"service without owner", pgtest.Service(), `select public.create_account('X', 'svc-team')`, "22023", "owner_id"},
		{"user for someone else", user(outsider), `select public.create_account('X', 'for-other', '` + accA.Owner + `')`, "42501", "service_role"},
		{"unknown owner", pgtest.Service(), `select public.create_account('X', 'ghost', '00000000-0000-0000-0000-00000000dead')`, "23503", ""},
		{"direct insert", user(outsider), `insert into public.accounts (name, slug) values ('X', 'direct')`, "42501", "permission denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantState(t, c.sql, query(t, db, c.claims, nil, c.sql), c.code, c.fragment)
		})
	}

	// service_role creates an account for a user, who becomes its owner.
	mustQuery(t, db, pgtest.Service(), &id, `select public.create_account('Ops', 'ops', $1)`, accA.Viewer)
	var isOwner bool
	mustQuery(t, db, user(accA.Viewer), &isOwner, `select public.has_account_role($1, 'owner')`, id)
	if !isOwner {
		t.Error("service_role-created account: owner_id is not its owner")
	}
	_ = ctx
}

func TestMemberManagement(t *testing.T) {
	db := newFixtureDB(t)

	// Lookup by email: owners only, case-insensitive, null when unknown.
	var found *string
	mustQuery(t, db, user(accA.Owner), &found, `select public.find_user_by_email($1, ' OUTSIDER@example.TEST ')`, accA.Account)
	if found == nil || *found != outsider {
		t.Fatalf("find_user_by_email as owner = %v, want %s", found, outsider)
	}
	mustQuery(t, db, user(accA.Owner), &found, `select public.find_user_by_email($1, 'nobody@example.test')`, accA.Account)
	if found != nil {
		t.Fatalf("find_user_by_email of an unknown address = %v, want null", *found)
	}
	// Non-owners get the same refusal whether or not the address exists.
	for _, who := range []string{accA.Member, accA.Viewer, outsider, accB.Owner} {
		e1 := wantState(t, "lookup existing", query(t, db, user(who), nil, `select public.find_user_by_email($1, 'owner.b@example.test')`, accA.Account), "42501", "")
		e2 := wantState(t, "lookup unknown", query(t, db, user(who), nil, `select public.find_user_by_email($1, 'nobody@example.test')`, accA.Account), "42501", "")
		if e1.Message != e2.Message || e1.Detail != e2.Detail || e1.Hint != e2.Hint {
			t.Errorf("%s: refusal differs for an existing (%q) and an unknown (%q) address", who, e1.Message, e2.Message)
		}
	}
	wantState(t, "anon lookup", query(t, db, pgtest.Anon(), nil, `select public.find_user_by_email($1, 'x@example.test')`, accA.Account), "42501", "")

	// The owner adds the outsider as a viewer; the outsider then sees A.
	var role string
	mustQuery(t, db, user(accA.Owner), &role, `select (public.add_account_member($1, $2, 'viewer')).account_role::text`, accA.Account, outsider)
	if role != "viewer" {
		t.Fatalf("add_account_member role = %q", role)
	}
	var n int
	mustQuery(t, db, user(outsider), &n, `select count(*) from public.projects where account_id = $1`, accA.Account)
	if n != 1 {
		t.Fatalf("new viewer sees %d projects of A, want 1", n)
	}
	// Re-role; members and viewers may not.
	mustQuery(t, db, user(accA.Owner), &role, `select (public.set_account_member_role($1, $2, 'member')).account_role::text`, accA.Account, outsider)
	if role != "member" {
		t.Fatalf("set_account_member_role role = %q", role)
	}
	for _, who := range []string{accA.Member, accA.Viewer, accB.Owner} {
		wantState(t, "non-owner re-roles", query(t, db, user(who), nil, `select public.set_account_member_role($1, $2, 'owner')`, accA.Account, outsider), "42501", "owner role")
		wantState(t, "non-owner adds", query(t, db, user(who), nil, `select public.add_account_member($1, $2, 'owner')`, accA.Account, accB.Viewer), "42501", "owner role")
		wantState(t, "non-owner removes", query(t, db, user(who), nil, `select public.remove_account_member($1, $2)`, accA.Account, outsider), "42501", "owner role")
	}
	wantState(t, "re-role a non-member", query(t, db, user(accA.Owner), nil, `select public.set_account_member_role($1, $2, 'viewer')`, accA.Account, accB.Viewer), "PT404", "not a member")
	wantState(t, "add an unknown user", query(t, db, user(accA.Owner), nil, `select public.add_account_member($1, '00000000-0000-0000-0000-00000000dead', 'viewer')`, accA.Account), "PT404", "no user")

	// Members list each other with emails; outsiders may not.
	type member struct {
		UserID, Email, Role string
		CreatedAt           time.Time
	}
	var members []member
	must(t, "list members", asRole(t, db, user(accA.Viewer), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select user_id::text, email, account_role::text, created_at from public.list_account_members($1)`, accA.Account)
		if err != nil {
			return err
		}
		members, err = pgx.CollectRows(rows, pgx.RowToStructByPos[member])
		return err
	}))
	if len(members) != 5 || members[0].Role != "owner" || members[0].Email != "owner.a@example.test" {
		t.Fatalf("list_account_members = %+v, want 5 members, the owner first", members)
	}
	wantState(t, "outsider lists", query(t, db, user(accB.Owner), nil, `select * from public.list_account_members($1)`, accA.Account), "42501", "")

	// The owner removes the member; a viewer leaves on their own.
	var removed bool
	mustQuery(t, db, user(accA.Owner), &removed, `select public.remove_account_member($1, $2)`, accA.Account, outsider)
	if !removed {
		t.Fatal("remove_account_member returned false")
	}
	mustQuery(t, db, user(outsider), &n, `select count(*) from public.projects where account_id = $1`, accA.Account)
	if n != 0 {
		t.Fatal("removed member still sees the account's projects")
	}
	mustQuery(t, db, user(accA.Viewer), &removed, `select public.remove_account_member($1, $2)`, accA.Account, accA.Viewer)
	if !removed {
		t.Fatal("a viewer could not leave")
	}
	mustQuery(t, db, user(accA.Viewer), &n, `select count(*) from public.accounts where id = $1`, accA.Account)
	if n != 0 {
		t.Fatal("a viewer who left still sees the account")
	}
}

func TestLastOwnerProtection(t *testing.T) {
	db := newFixtureDB(t)
	ctx := context.Background()

	// The only owner can neither leave, be removed, nor be demoted, by
	// anyone, through the RPCs or directly.
	attempts := []struct {
		name   string
		claims pgtest.Claims
		sql    string
	}{
		{"owner demotes self", user(accA.Owner), `select public.set_account_member_role('` + accA.Account + `', '` + accA.Owner + `', 'member')`},
		{"owner leaves", user(accA.Owner), `select public.remove_account_member('` + accA.Account + `', '` + accA.Owner + `')`},
		{"owner deletes own row", user(accA.Owner), `delete from public.accounts_memberships where account_id = '` + accA.Account + `' and user_id = '` + accA.Owner + `'`},
		{"owner updates own row", user(accA.Owner), `update public.accounts_memberships set account_role = 'viewer' where account_id = '` + accA.Account + `' and user_id = '` + accA.Owner + `'`},
		{"service_role removes", pgtest.Service(), `delete from public.accounts_memberships where account_id = '` + accA.Account + `' and account_role = 'owner'`},
		{"service_role moves the owner row", pgtest.Service(), `update public.accounts_memberships set account_id = '` + accB.Account + `' where account_id = '` + accA.Account + `' and user_id = '` + accA.Owner + `'`},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			e := wantState(t, a.name, query(t, db, a.claims, nil, a.sql), "23514", "last owner")
			if e.ConstraintName != "accounts_memberships_last_owner" && e.ConstraintName != "accounts_memberships_account_id_immutable" {
				t.Errorf("constraint = %q, want accounts_memberships_last_owner", e.ConstraintName)
			}
		})
	}

	// With a second owner, either may go, but not both: two owners demoting
	// each other at the same time, exactly one succeeds.
	mustQuery(t, db, user(accA.Owner), nil, `select public.set_account_member_role($1, $2, 'owner')`, accA.Account, accA.Extra)
	tx1 := db.BeginAs(t, user(accA.Owner))
	_, err := tx1.Exec(ctx, `select public.set_account_member_role($1, $2, 'member')`, accA.Account, accA.Extra)
	must(t, "owner demotes the other owner", err)
	second := make(chan error, 1)
	go func() {
		second <- query(t, db, user(accA.Extra), nil, `select public.set_account_member_role($1, $2, 'member')`, accA.Account, accA.Owner)
	}()
	waitForLockWait(t, db)
	must(t, "commit first demotion", tx1.Commit(ctx))
	wantState(t, "the other owner's concurrent demotion", <-second, "23514", "last owner")
	var owners int
	adminScan(t, db, &owners, `select count(*) from public.accounts_memberships where account_id = $1 and account_role = 'owner'`, accA.Account)
	if owners != 1 {
		t.Fatalf("%d owners after concurrent demotions, want 1", owners)
	}

	// Deleting the account removes the last owner's membership with it.
	var deleted int64
	must(t, "owner deletes the account", asRole(t, db, user(accA.Owner), func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `delete from public.accounts where id = $1`, accA.Account)
		deleted = tag.RowsAffected()
		return err
	}))
	if deleted != 1 {
		t.Fatalf("deleted %d accounts", deleted)
	}
	adminScan(t, db, &owners, `select count(*) from public.projects where account_id = $1`, accA.Account)
	if owners != 0 {
		t.Fatal("the account's projects survived its deletion")
	}
	// Deleting a user (auth admin) who is the last owner of B is allowed;
	// what they created stays, with created_by cleared.
	mustQuery(t, db, user(accB.Owner), nil, `insert into public.projects (account_id, identifier) values ($1, 'org-b/second')`, accB.Account)
	mustQuery(t, db, user(accB.Owner), nil, `select public.doc_put($1, 'notes', 'by-owner', '{}')`, accB.Account)
	_, err = db.Pool(t, "supabase_auth_admin").Exec(ctx, `delete from auth.users where id = $1`, accB.Owner)
	must(t, "delete the last owner's user", err)
	var orphans int
	adminScan(t, db, &orphans, `select (select count(*) from public.projects where identifier = 'org-b/second' and created_by is null)
		+ (select count(*) from public.documents where key = 'by-owner' and created_by is null)
		+ (select count(*) from public.accounts where id = $1 and created_by is null)`, accB.Account)
	if orphans != 3 {
		t.Fatalf("%d of 3 rows created by the deleted user kept with created_by null", orphans)
	}
}

// waitForLockWait waits until some session of db waits for a lock, i.e. a
// concurrent transaction is blocked behind one the test holds.
func waitForLockWait(t testing.TB, db *pgtest.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		adminScan(t, db, &n, `select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no session started waiting for a lock within 30s")
}
