package supabase_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestProjectVersionConflict(t *testing.T) {
	db := newFixtureDB(t)
	member := user(accA.Member)

	// Two clients read version 1.
	var v int64
	mustQuery(t, db, member, &v, `select version from public.projects where id = $1`, accA.Project)
	if v != 1 {
		t.Fatalf("initial version = %d, want 1", v)
	}
	// The first update, sending the version it read, wins and bumps it.
	mustQuery(t, db, member, &v, `update public.projects set settings = '{"a": 1}', version = 1 where id = $1 returning version`, accA.Project)
	if v != 2 {
		t.Fatalf("version after update = %d, want 2", v)
	}
	// The second, with the stale version, is refused with PT409 (HTTP 409)
	// naming the current version; nothing changes.
	err := query(t, db, user(accA.Owner), nil, `update public.projects set settings = '{"b": 2}', version = 1 where id = $1`, accA.Project)
	e := wantState(t, "stale update", err, "PT409", "stale")
	if e.Detail != "current version is 2" {
		t.Errorf("detail = %q, want %q", e.Detail, "current version is 2")
	}
	var settings map[string]any
	mustQuery(t, db, member, &settings, `select settings from public.projects where id = $1`, accA.Project)
	if settings["a"] != float64(1) || settings["b"] != nil {
		t.Errorf("settings after refused update = %v", settings)
	}
	// A future version is as wrong as a past one.
	wantState(t, "future version", query(t, db, member, nil, `update public.projects set version = 7 where id = $1`, accA.Project), "PT409", "")
	// An update that does not send a version still bumps it.
	mustQuery(t, db, member, &v, `update public.projects set description = 'x' where id = $1 returning version`, accA.Project)
	if v != 3 {
		t.Fatalf("version after unversioned update = %d, want 3", v)
	}

	// Other project rules.
	cases := []struct{ name, sql, code, fragment string }{
		{"identifier without slash", `insert into public.projects (account_id, identifier) values ('` + accA.Account + `', 'repo')`, "23514", "projects_identifier_format"},
		{"identifier empty segment", `insert into public.projects (account_id, identifier) values ('` + accA.Account + `', 'org//repo')`, "23514", "projects_identifier_format"},
		{"identifier duplicate", `insert into public.projects (account_id, identifier) values ('` + accA.Account + `', 'org-a/repo')`, "23505", "projects_account_identifier_key"},
		{"bad platform", `insert into public.projects (account_id, identifier, platform) values ('` + accA.Account + `', 'o/r', 'gitlab')`, "22P02", "project_platform"},
		{"settings not an object", `insert into public.projects (account_id, identifier, settings) values ('` + accA.Account + `', 'o/r', '[]')`, "23514", "projects_settings_object"},
		{"bad remote url", `insert into public.projects (account_id, identifier, remote_url) values ('` + accA.Account + `', 'o/r', 'not a url')`, "23514", "projects_remote_url_format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantState(t, c.sql, query(t, db, member, nil, c.sql), c.code, c.fragment)
		})
	}
	mustQuery(t, db, member, nil, `insert into public.projects (account_id, identifier, platform, remote_url) values ($1, 'org/project/repo', 'azure_devops', 'git@ssh.dev.azure.com:v3/org/project/repo')`, accA.Account)
	// The same identifier in another account is fine.
	mustQuery(t, db, user(accB.Member), nil, `insert into public.projects (account_id, identifier) values ($1, 'org-a/repo')`, accB.Account)
}

func TestRowsStayInTheirAccount(t *testing.T) {
	db := newFixtureDB(t)
	// A row of A cannot reference B's parent rows, even for service_role:
	// foreign keys include account_id.
	refs := []struct{ name, sql string }{
		{"environment of B's project", `insert into public.environments (account_id, project_id, name) values ('` + accA.Account + `', '` + accB.Project + `', 'x')`},
		{"deployment to B's environment", `insert into public.deployments (account_id, project_id, environment_id) values ('` + accA.Account + `', '` + accA.Project + `', '` + accB.Environment + `')`},
		{"deployment of B's build", `insert into public.deployments (account_id, project_id, environment_id, build_id) values ('` + accA.Account + `', '` + accA.Project + `', '` + accA.Environment + `', '` + accB.Build + `')`},
		{"event on B's task", `insert into public.task_events (account_id, task_id, event) values ('` + accA.Account + `', '` + accB.Task + `', 'log')`},
		{"integration limited to B's project", `insert into public.integrations (account_id, name, provider, auth_type, scope, project_ids) values ('` + accA.Account + `', 'x', 'github', 'token', 'projects', '{` + accB.Project + `}')`},
	}
	for _, r := range refs {
		t.Run(r.name, func(t *testing.T) {
			wantState(t, r.sql, query(t, db, pgtest.Service(), nil, r.sql), "23503", "")
		})
	}
	// Nor can a row move to another account.
	e := wantState(t, "move project", query(t, db, pgtest.Service(), nil, `update public.projects set account_id = $1 where id = $2`, accB.Account, accA.Project), "23514", "account_id cannot change")
	if e.ConstraintName != "projects_account_id_immutable" {
		t.Errorf("constraint = %q", e.ConstraintName)
	}
	// A user cannot attribute a row to someone else.
	var createdBy string
	mustQuery(t, db, user(accA.Member), &createdBy, `insert into public.builds (account_id, project_id, build_number, created_by) values ($1, $2, '9', $3) returning created_by::text`,
		accA.Account, accA.Project, accA.Owner)
	if createdBy != accA.Member {
		t.Errorf("created_by = %s, want the caller %s", createdBy, accA.Member)
	}
	mustQuery(t, db, user(accA.Member), &createdBy, `update public.builds set created_by = $1 where build_number = '9' returning created_by::text`, accA.Owner)
	if createdBy != accA.Member {
		t.Errorf("created_by after update = %s, want it kept as %s", createdBy, accA.Member)
	}
}

func TestDeploymentStateMachine(t *testing.T) {
	db := newFixtureDB(t)
	member := user(accA.Member)
	newDeployment := func(t *testing.T) string {
		t.Helper()
		var id string
		mustQuery(t, db, member, &id, `insert into public.deployments (account_id, project_id, environment_id) values ($1, $2, $3) returning id::text`,
			accA.Account, accA.Project, accA.Environment)
		return id
	}
	setStatus := func(id, status string) error {
		return query(t, db, member, nil, `update public.deployments set status = $1 where id = $2`, status, id)
	}
	// Transitions from each status, the path that reaches it first.
	paths := map[string][]string{
		"queued":    nil,
		"running":   {"running"},
		"succeeded": {"running", "succeeded"},
		"failed":    {"running", "failed"},
		"cancelled": {"cancelled"},
	}
	allowed := map[string]bool{
		"queued>running": true, "queued>cancelled": true,
		"running>succeeded": true, "running>failed": true, "running>cancelled": true,
	}
	statuses := []string{"queued", "running", "succeeded", "failed", "cancelled"}
	for _, from := range statuses {
		for _, to := range statuses {
			if from == to {
				continue
			}
			t.Run(from+">"+to, func(t *testing.T) {
				id := newDeployment(t)
				for _, s := range paths[from] {
					must(t, "reach "+from, setStatus(id, s))
				}
				err := setStatus(id, to)
				if allowed[from+">"+to] {
					must(t, from+" -> "+to, err)
					return
				}
				e := wantState(t, from+" -> "+to, err, "23514", fmt.Sprintf("from %s to %s", from, to))
				if e.ConstraintName != "deployments_status_transition" {
					t.Errorf("constraint = %q", e.ConstraintName)
				}
			})
		}
	}

	// Timestamps and progress follow the status.
	id := newDeployment(t)
	type row struct {
		Status            string
		Progress          int16
		Started, Finished *time.Time
	}
	read := func() row {
		var r row
		must(t, "read", asRole(t, db, member, func(ctx context.Context, tx pgx.Tx) error {
			return tx.QueryRow(ctx, `select status, progress, started_at, finished_at from public.deployments where id = $1`, id).
				Scan(&r.Status, &r.Progress, &r.Started, &r.Finished)
		}))
		return r
	}
	if r := read(); r.Started != nil || r.Finished != nil {
		t.Fatalf("queued deployment has timestamps: %+v", r)
	}
	must(t, "start", query(t, db, member, nil, `update public.deployments set status = 'running', progress = 10 where id = $1`, id))
	if r := read(); r.Started == nil || r.Finished != nil {
		t.Fatalf("running deployment: %+v, want started_at only", r)
	}
	must(t, "progress", query(t, db, member, nil, `update public.deployments set progress = 70, message = 'installing' where id = $1`, id))
	must(t, "finish", query(t, db, member, nil, `update public.deployments set status = 'succeeded' where id = $1`, id))
	if r := read(); r.Finished == nil || r.Progress != 100 {
		t.Fatalf("succeeded deployment: %+v, want finished_at and progress 100", r)
	}
	// Details may still be recorded on a final deployment.
	must(t, "details after success", query(t, db, member, nil, `update public.deployments set details = '{"log": "url"}' where id = $1`, id))

	for _, c := range []struct{ name, sql, code, fragment string }{
		{"progress above 100", `update public.deployments set progress = 101 where id = '` + accA.Deployment + `'`, "23514", "deployments_progress_range"},
		{"negative progress", `update public.deployments set progress = -1 where id = '` + accA.Deployment + `'`, "23514", "deployments_progress_range"},
		{"unknown status", `update public.deployments set status = 'paused' where id = '` + accA.Deployment + `'`, "23514", "deployments_status_check"},
		{"insert as succeeded", `insert into public.deployments (account_id, project_id, environment_id, status) values ('` + accA.Account + `', '` + accA.Project + `', '` + accA.Environment + `', 'succeeded')`, "23514", "must start as queued or running"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantState(t, c.sql, query(t, db, member, nil, c.sql), c.code, c.fragment)
		})
	}
	// Starting directly as running is allowed.
	mustQuery(t, db, member, nil, `insert into public.deployments (account_id, project_id, environment_id, status) values ($1, $2, $3, 'running')`,
		accA.Account, accA.Project, accA.Environment)
}

func TestTaskExecutionsAppendEvents(t *testing.T) {
	db := newFixtureDB(t)
	member := user(accA.Member)
	var task string
	mustQuery(t, db, member, &task, `insert into public.task_executions (account_id, project_id, resource_type, resource_id, kind, input)
		values ($1, $2, 'deployment', $3, 'deploy', '{"package": "core"}') returning id::text`, accA.Account, accA.Project, accA.Deployment)
	// The worker (service_role) reports progress the way `sfp task report`
	// does: update the task; the events follow.
	steps := []string{
		`update public.task_executions set status = 'running', worker = 'w1', progress = 5 where id = $1`,
		`update public.task_executions set progress = 50 where id = $1`,
		`update public.task_executions set message = 'installing core' where id = $1`,
		`update public.task_executions set worker = 'w2' where id = $1`, // no event: nothing watched changed
		`update public.task_executions set status = 'succeeded', output = '{"ok": true}' where id = $1`,
	}
	for _, s := range steps {
		mustQuery(t, db, pgtest.Service(), nil, s, task)
	}
	// A member appends an event of their own.
	mustQuery(t, db, member, nil, `insert into public.task_events (account_id, task_id, event, message, data) values ($1, $2, 'log', 'hello', '{"level": "info"}')`, accA.Account, task)

	type event struct {
		Event     string
		Status    *string
		Progress  *int16
		Message   *string
		CreatedBy *string
	}
	var events []event
	must(t, "read events", asRole(t, db, user(accA.Viewer), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select event, status, progress, message, created_by::text from public.task_events where task_id = $1 order by id`, task)
		if err != nil {
			return err
		}
		events, err = pgx.CollectRows(rows, pgx.RowToStructByPos[event])
		return err
	}))
	want := []struct {
		event, status string
		progress      int16
		message       string
		by            string
	}{
		{"created", "queued", 0, "", accA.Member},
		{"status", "running", 5, "", accA.Member},
		{"progress", "running", 50, "", accA.Member},
		{"message", "running", 50, "installing core", accA.Member},
		{"status", "succeeded", 100, "installing core", accA.Member},
		{"log", "", 0, "hello", accA.Member},
	}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(events), len(want), events)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for i, w := range want {
		e := events[i]
		p := int16(0)
		if e.Progress != nil {
			p = *e.Progress
		}
		if e.Event != w.event || str(e.Status) != w.status || p != w.progress || str(e.Message) != w.message || str(e.CreatedBy) != w.by {
			t.Errorf("event %d = {%s %s %d %q by %s}, want %+v", i, e.Event, str(e.Status), p, str(e.Message), str(e.CreatedBy), w)
		}
	}

	// The log is append-only for every API role, and even the superuser
	// cannot rewrite an event.
	for _, c := range []pgtest.Claims{member, user(accA.Owner), pgtest.Service()} {
		wantState(t, c.Role()+" update event", query(t, db, c, nil, `update public.task_events set message = 'x' where task_id = $1`, task), "42501", "")
		wantState(t, c.Role()+" delete event", query(t, db, c, nil, `delete from public.task_events where task_id = $1`, task), "42501", "")
	}
	_, err := db.Admin(t).Exec(context.Background(), `update public.task_events set message = 'x' where task_id = $1`, task)
	wantState(t, "superuser update event", err, "42501", "append-only")

	// The task machine matches the deployments'.
	wantState(t, "restart a finished task", query(t, db, member, nil, `update public.task_executions set status = 'running' where id = $1`, task), "23514", "from succeeded to running")
	wantState(t, "bad resource type", query(t, db, member, nil, `insert into public.task_executions (account_id, resource_type, resource_id, kind) values ($1, 'Deployment!', gen_random_uuid(), 'x')`, accA.Account), "23514", "resource_type_format")

	// Deleting the task removes its events.
	mustQuery(t, db, member, nil, `delete from public.task_executions where id = $1`, task)
	var n int
	adminScan(t, db, &n, `select count(*) from public.task_events where task_id = $1`, task)
	if n != 0 {
		t.Fatalf("%d events left after their task was deleted", n)
	}
}

func TestRealtimePublication(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	rows, err := db.Admin(t).Query(ctx, `select c.relname::text, c.relreplident::text,
			exists (select 1 from pg_publication_tables p where p.pubname = 'supabase_realtime' and p.schemaname = 'public' and p.tablename = c.relname)
		from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`)
	must(t, "query", err)
	type info struct {
		identity string
		inPub    bool
	}
	got := map[string]info{}
	for rows.Next() {
		var name, ident string
		var in bool
		must(t, "scan", rows.Scan(&name, &ident, &in))
		got[name] = info{ident, in}
	}
	must(t, "rows", rows.Err())
	want := map[string]info{
		"deployments":             {"f", true},
		"task_executions":         {"f", true},
		"environment_allocations": {"f", true},
		"builds":                  {"f", true},
		"task_events":             {"f", true},
	}
	for name, g := range got {
		w, watched := want[name]
		if !watched {
			w = info{"d", false}
		}
		if g != w {
			t.Errorf("%s: replica identity %s, in supabase_realtime %v; want %s, %v", name, g.identity, g.inPub, w.identity, w.inPub)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("table %s missing", name)
		}
	}
}
