package supabase_test

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// lease is public.environment_lease.
type lease struct {
	Ticket        string
	EnvironmentID string
	Status        string
	Position      *int32
	Lease         time.Duration
	Reason        *string
	RequestedAt   time.Time
	GrantedAt     *time.Time
	ExpiresAt     *time.Time
	ReleasedAt    *time.Time
}

const leaseCols = `ticket::text, environment_id::text, status, queue_position, lease, reason, requested_at, granted_at, expires_at, released_at`

func scanLease(row pgx.Row) (lease, error) {
	var l lease
	err := row.Scan(&l.Ticket, &l.EnvironmentID, &l.Status, &l.Position, &l.Lease, &l.Reason, &l.RequestedAt, &l.GrantedAt, &l.ExpiresAt, &l.ReleasedAt)
	return l, err
}

func pos(l lease) int {
	if l.Position == nil {
		return -1
	}
	return int(*l.Position)
}

func leaseCall(t testing.TB, db *pgtest.DB, claims pgtest.Claims, sql string, args ...any) (lease, error) {
	t.Helper()
	var l lease
	err := asRole(t, db, claims, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		l, err = scanLease(tx.QueryRow(ctx, `select `+leaseCols+` from `+sql, args...))
		return err
	})
	return l, err
}

func mustLease(t testing.TB, db *pgtest.DB, claims pgtest.Claims, sql string, args ...any) lease {
	t.Helper()
	l, err := leaseCall(t, db, claims, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return l
}

// newEnvironment adds an environment of A's project with an empty queue.
func newEnvironment(t testing.TB, db *pgtest.DB, name string) string {
	t.Helper()
	var id string
	adminScan(t, db, &id, `insert into public.environments (account_id, project_id, name) values ($1, $2, $3) returning id::text`,
		accA.Account, accA.Project, name)
	return id
}

func queue(t testing.TB, db *pgtest.DB, claims pgtest.Claims, env string) []lease {
	t.Helper()
	var out []lease
	must(t, "environment_queue", asRole(t, db, claims, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+leaseCols+` from public.environment_queue($1)`, env)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanLease(rows)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	}))
	return out
}

// TestLeaseConcurrentRequesters: the first requester's transaction holds the
// environment while a second requester arrives on another connection; the
// second waits for the row lock, then queues behind the first.
func TestLeaseConcurrentRequesters(t *testing.T) {
	db := newFixtureDB(t)
	ctx := context.Background()
	env := newEnvironment(t, db, "concurrent")

	tx1 := db.BeginAs(t, user(accA.Member))
	first, err := scanLease(tx1.QueryRow(ctx, `select `+leaseCols+` from public.request_environment($1, '1 hour', 'first')`, env))
	must(t, "first request", err)

	type result struct {
		l   lease
		err error
	}
	second := make(chan result, 1)
	go func() {
		l, err := leaseCall(t, db, user(accA.Owner), `public.request_environment($1, '2 hours', 'second')`, env)
		second <- result{l, err}
	}()
	waitForLockWait(t, db)
	must(t, "commit first", tx1.Commit(ctx))
	r := <-second
	must(t, "second request", r.err)

	if first.Status != "active" || pos(first) != 0 || first.ExpiresAt == nil || first.GrantedAt == nil {
		t.Fatalf("first requester: %+v, want active at position 0 with an expiry", first)
	}
	if got := first.ExpiresAt.Sub(*first.GrantedAt); got != time.Hour {
		t.Errorf("first lease runs %v, want 1h", got)
	}
	if r.l.Status != "queued" || pos(r.l) != 1 || r.l.ExpiresAt != nil {
		t.Fatalf("second requester: %+v, want queued at position 1", r.l)
	}

	// Release promotes the second ticket, with its own lease length.
	released := mustLease(t, db, user(accA.Member), `public.release_environment($1)`, first.Ticket)
	if released.Status != "released" || released.Position != nil || released.ReleasedAt == nil {
		t.Fatalf("released ticket: %+v", released)
	}
	q := queue(t, db, user(accA.Viewer), env)
	if len(q) != 1 || q[0].Ticket != r.l.Ticket || q[0].Status != "active" || pos(q[0]) != 0 {
		t.Fatalf("queue after release: %+v, want the second ticket active", q)
	}
	if got := q[0].ExpiresAt.Sub(*q[0].GrantedAt); got != 2*time.Hour {
		t.Errorf("promoted lease runs %v, want 2h", got)
	}
	// Releasing again changes nothing.
	again := mustLease(t, db, user(accA.Member), `public.release_environment($1)`, first.Ticket)
	if again.Status != "released" || !again.ReleasedAt.Equal(*released.ReleasedAt) {
		t.Fatalf("second release changed the ticket: %+v", again)
	}
}

// TestLeaseManyRequesters: eight requesters at once, each on its own
// connection; exactly one holds the environment, the others are queued at
// distinct positions, and releasing walks the queue in order.
func TestLeaseManyRequesters(t *testing.T) {
	db := newFixtureDB(t)
	env := newEnvironment(t, db, "crowded")

	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]lease, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			who := []string{accA.Member, accA.Owner, accA.Extra}[i%3]
			results[i], errs[i] = leaseCall(t, db, user(who), `public.request_environment($1, '30 minutes', 'crowd')`, env)
		}(i)
	}
	close(start)
	wg.Wait()
	active := 0
	var positions []int
	for i := range results {
		must(t, "request", errs[i])
		if results[i].Status == "active" {
			active++
		}
		positions = append(positions, pos(results[i]))
	}
	sort.Ints(positions)
	for i, p := range positions {
		if p != i {
			t.Fatalf("positions %v, want 0..%d once each", positions, n-1)
		}
	}
	if active != 1 {
		t.Fatalf("%d active tickets, want 1", active)
	}
	var dbActive int
	adminScan(t, db, &dbActive, `select count(*) from public.environment_allocations where environment_id = $1 and status = 'active'`, env)
	if dbActive != 1 {
		t.Fatalf("database holds %d active tickets", dbActive)
	}
	// Release the holder n-1 times: the queue advances one by one in order.
	for round := 0; round < n-1; round++ {
		q := queue(t, db, user(accA.Viewer), env)
		if len(q) != n-round {
			t.Fatalf("round %d: queue length %d", round, len(q))
		}
		for i, l := range q {
			if pos(l) != i {
				t.Fatalf("round %d: queue positions out of order: %+v", round, q)
			}
		}
		mustLease(t, db, user(accA.Member), `public.release_environment($1)`, q[0].Ticket)
		next := queue(t, db, user(accA.Viewer), env)
		if next[0].Ticket != q[1].Ticket || next[0].Status != "active" {
			t.Fatalf("round %d: %s was next in line, %s (%s) holds the environment", round, q[1].Ticket, next[0].Ticket, next[0].Status)
		}
	}
}

func TestLeaseExpiry(t *testing.T) {
	db := newFixtureDB(t)
	env := newEnvironment(t, db, "expiring")
	holder := mustLease(t, db, user(accA.Member), `public.request_environment($1, '10 minutes', 'holder')`, env)
	waiter := mustLease(t, db, user(accA.Owner), `public.request_environment($1, '10 minutes', 'waiter')`, env)
	if holder.Status != "active" || waiter.Status != "queued" {
		t.Fatalf("holder %s, waiter %s", holder.Status, waiter.Status)
	}
	// Extending an active lease moves its expiry by exactly the extension.
	ext := mustLease(t, db, user(accA.Member), `public.extend_environment($1, '5 minutes')`, holder.Ticket)
	if got := ext.ExpiresAt.Sub(*holder.ExpiresAt); got != 5*time.Minute {
		t.Fatalf("extension moved expiry by %v, want 5m", got)
	}
	// Extending a queued ticket lengthens the lease it will get.
	w := mustLease(t, db, user(accA.Owner), `public.extend_environment($1, '20 minutes')`, waiter.Ticket)
	if w.Lease != 30*time.Minute || w.Status != "queued" {
		t.Fatalf("extended queued ticket: %+v, want lease 30m", w)
	}

	// Time passes: the holder's lease runs out (moved into the past rather
	// than waited for).
	db.Exec(t, `update public.environment_allocations set granted_at = now() - interval '1 hour', expires_at = now() - interval '1 second' where id = $1`, holder.Ticket)
	// The row still says active until something looks; the next RPC applies
	// expiry and promotes the waiter.
	q := queue(t, db, user(accA.Viewer), env)
	if len(q) != 1 || q[0].Ticket != waiter.Ticket || q[0].Status != "active" {
		t.Fatalf("after expiry: %+v, want the waiter active", q)
	}
	if got := q[0].ExpiresAt.Sub(*q[0].GrantedAt); got != 30*time.Minute {
		t.Errorf("promoted lease %v, want 30m", got)
	}
	var status string
	var releasedAt, expiresAt time.Time
	must(t, "read expired", db.Admin(t).QueryRow(context.Background(),
		`select status, released_at, expires_at from public.environment_allocations where id = $1`, holder.Ticket).Scan(&status, &releasedAt, &expiresAt))
	if status != "expired" || !releasedAt.Equal(expiresAt) {
		t.Fatalf("old holder: %s released %v expires %v, want expired at its expiry", status, releasedAt, expiresAt)
	}
	// An expired ticket cannot be extended.
	_, err := leaseCall(t, db, user(accA.Member), `public.extend_environment($1, '5 minutes')`, holder.Ticket)
	wantState(t, "extend expired", err, "PT409", "expired")

	// Expiry also happens when the holder itself looks, and through the
	// periodic job.
	db.Exec(t, `update public.environment_allocations set expires_at = now() - interval '1 second' where id = $1`, waiter.Ticket)
	third := mustLease(t, db, user(accA.Member), `public.request_environment($1, '10 minutes', 'third')`, env)
	if third.Status != "active" {
		t.Fatalf("request after the holder expired: %+v, want active at once", third)
	}
	db.Exec(t, `update public.environment_allocations set expires_at = now() - interval '1 second' where id = $1`, third.Ticket)
	var changed int
	mustQuery(t, db, pgtest.Service(), &changed, `select public.expire_environment_allocations()`)
	if changed != 1 {
		t.Fatalf("expire_environment_allocations() = %d, want 1", changed)
	}
	wantState(t, "member runs the job", query(t, db, user(accA.Owner), nil, `select public.expire_environment_allocations()`), "42501", "")
	adminScan(t, db, &status, `select status from public.environment_allocations where id = $1`, third.Ticket)
	if status != "expired" {
		t.Fatalf("after the job: %s, want expired", status)
	}
}

func TestLeaseRules(t *testing.T) {
	db := newFixtureDB(t)
	env := newEnvironment(t, db, "rules")
	held := mustLease(t, db, user(accA.Member), `public.request_environment($1)`, env)
	if held.Lease != time.Hour {
		t.Errorf("default lease %v, want 1h", held.Lease)
	}
	cases := []refusal{
		{"viewer requests", user(accA.Viewer), `public.request_environment('` + env + `')`, "42501", "member role"},
		{"outsider requests", user(outsider), `public.request_environment('` + env + `')`, "PT404", "not found"},
		{"owner of B requests", user(accB.Owner), `public.request_environment('` + env + `')`, "PT404", "not found"},
		{"anon requests", pgtest.Anon(), `public.request_environment('` + env + `')`, "42501", "permission denied"},
		{"unknown environment", user(accA.Member), `public.request_environment('00000000-0000-0000-0000-00000000dead')`, "PT404", "not found"},
		{"zero lease", user(accA.Member), `public.request_environment('` + env + `', '0 seconds')`, "22023", "lease"},
		{"negative lease", user(accA.Member), `public.request_environment('` + env + `', '-1 hour')`, "22023", "lease"},
		{"lease too long", user(accA.Member), `public.request_environment('` + env + `', '31 days')`, "22023", "30 days"},
		{"viewer releases", user(accA.Viewer), `public.release_environment('` + held.Ticket + `')`, "42501", "member role"},
		{"outsider releases", user(outsider), `public.release_environment('` + held.Ticket + `')`, "PT404", "not found"},
		{"unknown ticket", user(accA.Member), `public.extend_environment('00000000-0000-0000-0000-00000000dead', '1 hour')`, "PT404", "not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := leaseCall(t, db, c.claims, c.sql)
			wantState(t, c.sql, err, c.code, c.fragment)
		})
	}
	// An inactive environment cannot be requested.
	db.Exec(t, `update public.environments set active = false where id = $1`, env)
	_, err := leaseCall(t, db, user(accA.Member), `public.request_environment($1)`, env)
	wantState(t, "inactive environment", err, "PT409", "inactive")
	// The database itself refuses a second active holder, even from the
	// superuser.
	_, err = db.Admin(t).Exec(context.Background(), `insert into public.environment_allocations
		(account_id, project_id, environment_id, status, lease, granted_at, expires_at) values ($1, $2, $3, 'active', '1 hour', now(), now() + interval '1 hour')`,
		accA.Account, accA.Project, env)
	wantState(t, "second active holder", err, "23505", "environment_allocations_one_active_idx")
	// service_role may request on behalf of workers.
	mustLease(t, db, pgtest.Service(), `public.request_environment($1)`, accA.Environment)
}

// TestLeaseStartAndEndFromOneInstant grants 300 leases in a row, each one
// promoted from the queue as its predecessor is released, and requires every
// granted lease to run exactly its length. Reading the clock once for
// granted_at and again for expires_at made about one grant in 25 run a
// microsecond long; over 300 grants that fails almost surely.
func TestLeaseStartAndEndFromOneInstant(t *testing.T) {
	db := newFixtureDB(t)
	env := newEnvironment(t, db, "one-instant")
	const n = 300
	must(t, "request and release", asRole(t, db, pgtest.Service(), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `do $$
declare
  prev uuid;
  cur uuid;
begin
  for i in 1..`+strconv.Itoa(n)+` loop
    cur := (public.request_environment('`+env+`'::uuid, interval '17 minutes')).ticket;
    if prev is not null then
      perform public.release_environment(prev);
    end if;
    prev := cur;
  end loop;
end $$`)
		return err
	}))
	var granted, exact int
	must(t, "read grants", db.Admin(t).QueryRow(context.Background(),
		`select count(*), count(*) filter (where expires_at - granted_at = lease)
		 from public.environment_allocations where environment_id = $1 and granted_at is not null`, env).Scan(&granted, &exact))
	if granted != n || exact != n {
		t.Fatalf("%d of %d requests granted, %d of them running exactly their lease", granted, n, exact)
	}
}
