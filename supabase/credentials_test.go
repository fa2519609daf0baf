package supabase_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestCredentialsKeyInitialisation(t *testing.T) {
	// No fixture: the fixture creates the key.
	db := pgtest.NewDB(t)
	ctx := context.Background()
	db.Exec(t, `
		insert into auth.users (id, email) values ('`+accA.Owner+`', 'owner.a@example.test');
		insert into public.accounts (id, name, slug) values ('`+accA.Account+`', 'A', 'a');
		insert into public.accounts_memberships values ('`+accA.Account+`', '`+accA.Owner+`', 'owner');
		insert into public.integrations (id, account_id, name, provider, auth_type) values ('`+accA.Integration+`', '`+accA.Account+`', 'gh', 'github', 'token');`)

	// Before the key exists, storing credentials is a clear error, not a
	// silent null.
	for _, c := range []pgtest.Claims{pgtest.Service(), user(accA.Owner)} {
		err := query(t, db, c, nil, `select public.set_integration_credentials($1, '{"token": "x"}')`, accA.Integration)
		wantState(t, c.Role()+" set before key", err, "55000", "init_credentials_key")
	}
	var n int
	adminScan(t, db, &n, `select count(*) from public.integration_credentials`)
	if n != 0 {
		t.Fatal("credentials stored without a key")
	}

	// Only service_role may create the key; anon and authenticated cannot
	// even execute the function.
	for _, c := range []pgtest.Claims{pgtest.Anon(), user(accA.Owner)} {
		wantState(t, c.Role()+" init key", query(t, db, c, nil, `select public.init_credentials_key()`), "42501", "permission denied")
	}
	var created bool
	mustQuery(t, db, pgtest.Service(), &created, `select public.init_credentials_key()`)
	if !created {
		t.Fatal("first init_credentials_key() returned false")
	}
	mustQuery(t, db, pgtest.Service(), &created, `select public.init_credentials_key()`)
	if created {
		t.Fatal("second init_credentials_key() returned true")
	}
	adminScan(t, db, &n, `select count(*) from vault.secrets where name = 'sfp_credentials_key'`)
	if n != 1 {
		t.Fatalf("%d keys in vault, want 1", n)
	}
	// The result is only a boolean: the key is not readable by API roles.
	wantState(t, "service reads key function", query(t, db, pgtest.Service(), nil, `select sfp_private.credentials_key()`), "42501", "")
	mustQuery(t, db, pgtest.Service(), nil, `select public.set_integration_credentials($1, '{"token": "x"}')`, accA.Integration)

	// Two callers racing on a fresh database create exactly one key.
	db2 := pgtest.NewDB(t)
	tx1 := db2.BeginAs(t, pgtest.Service())
	var first bool
	must(t, "first init", tx1.QueryRow(ctx, `select public.init_credentials_key()`).Scan(&first))
	second := make(chan bool, 1)
	errs := make(chan error, 1)
	go func() {
		var b bool
		errs <- query(t, db2, pgtest.Service(), &b, `select public.init_credentials_key()`)
		second <- b
	}()
	waitForLockWait(t, db2)
	must(t, "commit first", tx1.Commit(ctx))
	must(t, "second init", <-errs)
	if s := <-second; !first || s {
		t.Fatalf("racing init_credentials_key() returned %v and %v, want true and false", first, s)
	}
	adminScan(t, db2, &n, `select count(*) from vault.secrets where name = 'sfp_credentials_key'`)
	if n != 1 {
		t.Fatalf("%d keys after the race, want 1", n)
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	db := newFixtureDB(t)
	const plaintext = "ghp_Xq7unmistakable-plaintext-token"
	secret := map[string]any{"token": plaintext, "user": "bot"}
	raw, _ := json.Marshal(secret)

	logCount := func() int {
		var n int
		adminScan(t, db, &n, `select count(*) from public.credential_access_log where integration_id = $1`, accA.Integration)
		return n
	}
	before := logCount()

	// The owner writes, then the owner and a worker read back.
	mustQuery(t, db, user(accA.Owner), nil, `select public.set_integration_credentials($1, $2)`, accA.Integration, string(raw))
	for _, c := range []pgtest.Claims{user(accA.Owner), pgtest.Service()} {
		var got map[string]any
		mustQuery(t, db, c, &got, `select public.get_integration_credentials($1)`, accA.Integration)
		if got["token"] != plaintext || got["user"] != "bot" {
			t.Fatalf("%s read %v, want %v", c.Role(), got, secret)
		}
	}

	// The stored bytes hold neither the plaintext nor the key.
	var sealed []byte
	adminScan(t, db, &sealed, `select ciphertext from public.integration_credentials where integration_id = $1`, accA.Integration)
	var key string
	adminScan(t, db, &key, `select decrypted_secret from vault.decrypted_secrets where name = 'sfp_credentials_key'`)
	for _, needle := range []string{plaintext, "unmistakable", `"token"`, key} {
		if bytes.Contains(sealed, []byte(needle)) {
			t.Fatalf("ciphertext contains %q", needle)
		}
	}
	if len(sealed) < len(raw) {
		t.Fatalf("ciphertext (%d bytes) shorter than the plaintext", len(sealed))
	}

	// Each access was logged with who, what and when.
	type entry struct {
		Actor *string
		Role  string
		What  string
	}
	var entries []entry
	rows, err := db.Admin(t).Query(context.Background(), `select actor::text, actor_role, action from public.credential_access_log
		where integration_id = $1 order by id offset $2`, accA.Integration, before)
	must(t, "read log", err)
	for rows.Next() {
		var e entry
		must(t, "scan", rows.Scan(&e.Actor, &e.Role, &e.What))
		entries = append(entries, e)
	}
	must(t, "read log", rows.Err())
	want := []entry{{&accA.Owner, "authenticated", "write"}, {&accA.Owner, "authenticated", "read"}, {nil, "service_role", "read"}}
	if len(entries) != len(want) {
		t.Fatalf("log entries %+v, want %d", entries, len(want))
	}
	for i, w := range want {
		e := entries[i]
		if (e.Actor == nil) != (w.Actor == nil) || (e.Actor != nil && *e.Actor != *w.Actor) || e.Role != w.Role || e.What != w.What {
			t.Errorf("log entry %d = {%v %s %s}, want {%v %s %s}", i, e.Actor, e.Role, e.What, w.Actor, w.Role, w.What)
		}
	}
	// Owners read the log (RLS); the timestamps are in order.
	var ordered bool
	mustQuery(t, db, user(accA.Owner), &ordered, `select bool_and(created_at >= prev) from (
		select created_at, lag(created_at, 1, '-infinity') over (order by id) prev from public.credential_access_log where integration_id = $1) x`, accA.Integration)
	if !ordered {
		t.Error("log timestamps out of order")
	}

	// Members, viewers, outsiders, another account's owner and anon are
	// refused, and a refused attempt leaves no trace.
	n := logCount()
	refused := []pgtest.Claims{user(accA.Member), user(accA.Viewer), user(outsider), user(accB.Owner), pgtest.Anon()}
	for _, c := range refused {
		for _, stmt := range []string{
			`select public.get_integration_credentials('` + accA.Integration + `')`,
			`select public.set_integration_credentials('` + accA.Integration + `', '{"token": "hijack"}')`,
			`select public.delete_integration_credentials('` + accA.Integration + `')`,
		} {
			wantState(t, c.Role()+" "+stmt, query(t, db, c, nil, stmt), "42501", "")
		}
	}
	// An unknown integration looks the same as a forbidden one to users.
	e1 := wantState(t, "member, existing", query(t, db, user(accA.Member), nil, `select public.get_integration_credentials($1)`, accA.Integration), "42501", "owner role")
	e2 := wantState(t, "member, unknown", query(t, db, user(accA.Member), nil, `select public.get_integration_credentials('00000000-0000-0000-0000-00000000dead')`), "42501", "owner role")
	if e1.Message != e2.Message {
		t.Errorf("refusals differ: %q vs %q", e1.Message, e2.Message)
	}
	if got := logCount(); got != n {
		t.Fatalf("refused attempts wrote %d log entries", got-n)
	}
	wantState(t, "service, unknown", query(t, db, pgtest.Service(), nil, `select public.get_integration_credentials('00000000-0000-0000-0000-00000000dead')`), "PT404", "not found")

	// Validation, replacement, deletion.
	wantState(t, "array credentials", query(t, db, user(accA.Owner), nil, `select public.set_integration_credentials($1, '["x"]')`, accA.Integration), "22023", "JSON object")
	mustQuery(t, db, pgtest.Service(), nil, `select public.set_integration_credentials($1, '{"token": "rotated"}')`, accA.Integration)
	var got map[string]any
	mustQuery(t, db, user(accA.Owner), &got, `select public.get_integration_credentials($1)`, accA.Integration)
	if got["token"] != "rotated" || got["user"] != nil {
		t.Fatalf("after replacement: %v", got)
	}
	var updatedAt *string
	mustQuery(t, db, user(accA.Viewer), &updatedAt, `select credentials_updated_at::text from public.integrations where id = $1`, accA.Integration)
	if updatedAt == nil {
		t.Fatal("integrations.credentials_updated_at not set")
	}
	var removed bool
	mustQuery(t, db, user(accA.Owner), &removed, `select public.delete_integration_credentials($1)`, accA.Integration)
	if !removed {
		t.Fatal("delete_integration_credentials returned false")
	}
	var none *string
	mustQuery(t, db, pgtest.Service(), &none, `select public.get_integration_credentials($1)::text`, accA.Integration)
	if none != nil {
		t.Fatalf("credentials after delete = %s, want null", *none)
	}
	mustQuery(t, db, user(accA.Viewer), &updatedAt, `select credentials_updated_at::text from public.integrations where id = $1`, accA.Integration)
	if updatedAt != nil {
		t.Fatal("credentials_updated_at kept after delete")
	}
	var actions string
	adminScan(t, db, &actions, `select string_agg(action, ',' order by id) from public.credential_access_log where integration_id = $1 and id > (
		select max(id) - 4 from public.credential_access_log where integration_id = $1)`, accA.Integration)
	if actions != "write,read,delete,read" {
		t.Fatalf("last log actions = %s, want write,read,delete,read", actions)
	}
}
