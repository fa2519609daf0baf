package supabase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// rlsSpec is the authorisation model of the tenant schema, cell by cell:
// for every public table and operation, what each caller gets when acting on
// account A's rows (the statements are built from rlsTables).
//
//	ok      select: sees every row of A that exists; insert: the row is
//	        written; update/delete: at least one row changed
//	none    select: sees no row; update/delete: no row matched (RLS hides it)
//	denied  SQLSTATE 42501: no privilege, or the new row violates a policy
//
// Callers: anon (anon key), outsider (signed in, member of no account),
// viewer, member and owner of A, service_role (service key). Every cell runs
// in its own transaction, rolled back afterwards.
const rlsSpec = `
table                    op      anon    outsider  viewer  member  owner   service
accounts                 select  denied  none      ok      ok      ok      ok
accounts                 insert  denied  denied    denied  denied  denied  ok
accounts                 update  denied  none      none    none    ok      ok
accounts                 delete  denied  none      none    none    ok      ok
accounts_memberships     select  denied  none      ok      ok      ok      ok
accounts_memberships     insert  denied  denied    denied  denied  ok      ok
accounts_memberships     update  denied  none      none    none    ok      ok
accounts_memberships     delete  denied  none      none    none    ok      ok
projects                 select  denied  none      ok      ok      ok      ok
projects                 insert  denied  denied    denied  ok      ok      ok
projects                 update  denied  none      none    ok      ok      ok
projects                 delete  denied  none      none    none    ok      ok
environments             select  denied  none      ok      ok      ok      ok
environments             insert  denied  denied    denied  ok      ok      ok
environments             update  denied  none      none    ok      ok      ok
environments             delete  denied  none      none    ok      ok      ok
builds                   select  denied  none      ok      ok      ok      ok
builds                   insert  denied  denied    denied  ok      ok      ok
builds                   update  denied  none      none    ok      ok      ok
builds                   delete  denied  none      none    ok      ok      ok
releases                 select  denied  none      ok      ok      ok      ok
releases                 insert  denied  denied    denied  ok      ok      ok
releases                 update  denied  none      none    ok      ok      ok
releases                 delete  denied  none      none    ok      ok      ok
deployments              select  denied  none      ok      ok      ok      ok
deployments              insert  denied  denied    denied  ok      ok      ok
deployments              update  denied  none      none    ok      ok      ok
deployments              delete  denied  none      none    ok      ok      ok
environment_allocations  select  denied  none      ok      ok      ok      ok
environment_allocations  insert  denied  denied    denied  denied  denied  ok
environment_allocations  update  denied  denied    denied  denied  denied  ok
environment_allocations  delete  denied  denied    denied  denied  denied  ok
task_executions          select  denied  none      ok      ok      ok      ok
task_executions          insert  denied  denied    denied  ok      ok      ok
task_executions          update  denied  none      none    ok      ok      ok
task_executions          delete  denied  none      none    ok      ok      ok
task_events              select  denied  none      ok      ok      ok      ok
task_events              insert  denied  denied    denied  ok      ok      ok
task_events              update  denied  denied    denied  denied  denied  denied
task_events              delete  denied  denied    denied  denied  denied  denied
integrations             select  denied  none      ok      ok      ok      ok
integrations             insert  denied  denied    denied  denied  ok      ok
integrations             update  denied  none      none    none    ok      ok
integrations             delete  denied  none      none    none    ok      ok
integration_credentials  select  denied  denied    denied  denied  denied  denied
integration_credentials  insert  denied  denied    denied  denied  denied  denied
integration_credentials  update  denied  denied    denied  denied  denied  denied
integration_credentials  delete  denied  denied    denied  denied  denied  denied
credential_access_log    select  denied  none      none    none    ok      ok
credential_access_log    insert  denied  denied    denied  denied  denied  denied
credential_access_log    update  denied  denied    denied  denied  denied  denied
credential_access_log    delete  denied  denied    denied  denied  denied  denied
documents                select  denied  none      ok      ok      ok      ok
documents                insert  denied  denied    denied  ok      ok      ok
documents                update  denied  none      none    ok      ok      ok
documents                delete  denied  none      none    ok      ok      ok
build_manifests          select  denied  none      ok      ok      ok      ok
build_manifests          insert  denied  denied    denied  ok      ok      ok
build_manifests          update  denied  none      none    ok      ok      ok
build_manifests          delete  denied  none      none    ok      ok      ok
changelogs               select  denied  none      ok      ok      ok      ok
changelogs               insert  denied  denied    denied  ok      ok      ok
changelogs               update  denied  none      none    ok      ok      ok
changelogs               delete  denied  none      none    ok      ok      ok
document_stores          select  denied  ok        ok      ok      ok      ok
document_stores          insert  denied  denied    denied  denied  denied  ok
document_stores          update  denied  denied    denied  denied  denied  ok
document_stores          delete  denied  denied    denied  denied  denied  ok
`

// rlsTable says how the cells of one table address account A's rows; every
// statement has the same skeleton, so a table gives only what differs:
//
//	scope   the where clause of a select: every row of the account
//	row     the where clause of update and delete: the fixture row they aim
//	        at (scope when empty)
//	insert  the columns and values of a new row
//	set     the assignments of an update
//
// {field} is replaced by the target account's fixture id of that name
// (fixtureAccount), {outsider} by the outsider's id.
type rlsTable struct{ scope, row, insert, set string }

// ofAccount is the scope of the tables whose rows carry their account id.
const ofAccount = "account_id = '{Account}'"

var rlsTables = map[string]rlsTable{
	"accounts":                {"id = '{Account}'", "", "(name, slug) values ('New', 'new-account')", "name = 'Renamed'"},
	"accounts_memberships":    {ofAccount, ofAccount + " and user_id = '{Extra}'", "(account_id, user_id, account_role) values ('{Account}', '{outsider}', 'viewer')", "account_role = 'viewer'"},
	"projects":                {ofAccount, "id = '{Project}'", "(account_id, identifier) values ('{Account}', 'org/new-repo')", "description = 'changed'"},
	"environments":            {ofAccount, "id = '{Environment}'", "(account_id, project_id, name) values ('{Account}', '{Project}', 'new-env')", "description = 'changed'"},
	"builds":                  {ofAccount, "id = '{Build}'", "(account_id, project_id, build_number) values ('{Account}', '{Project}', 'new-build')", "url = 'https://ci.example.test/1'"},
	"releases":                {ofAccount, "id = '{Release}'", "(account_id, project_id, name) values ('{Account}', '{Project}', 'new-release')", "description = 'changed'"},
	"deployments":             {ofAccount, "id = '{Deployment}'", "(account_id, project_id, environment_id) values ('{Account}', '{Project}', '{Environment}')", "progress = 50, message = 'half way'"},
	"environment_allocations": {ofAccount, "id = '{Allocation}'", "(account_id, project_id, environment_id, lease) values ('{Account}', '{Project}', '{Environment}', '1 hour')", "reason = 'changed'"},
	"task_executions":         {ofAccount, "id = '{Task}'", "(account_id, resource_type, resource_id, kind) values ('{Account}', 'deployment', '{Deployment}', 'validate')", "progress = 40, message = 'working'"},
	"task_events":             {ofAccount, "", "(account_id, task_id, event, message) values ('{Account}', '{Task}', 'log', 'hello')", "message = 'rewritten'"},
	"integrations":            {ofAccount, "id = '{Integration}'", "(account_id, name, provider, auth_type) values ('{Account}', 'azure', 'azure_devops', 'token')", `metadata = '{"org": "changed"}'`},
	"integration_credentials": {ofAccount, "", `(integration_id, account_id, ciphertext) values ('{Integration}', '{Account}', '\x00')`, `ciphertext = '\x00'`},
	"credential_access_log":   {ofAccount, "", "(account_id, integration_id, actor_role, action) values ('{Account}', '{Integration}', 'forged', 'read')", "action = 'read'"},
	"documents":               {ofAccount, "", "(account_id, collection, key, data) values ('{Account}', 'notes', 'new', '{}')", `data = '{"text": "changed"}'`},
	"build_manifests":         {ofAccount, "", "(account_id, collection, key, data) values ('{Account}', 'build_manifests', 'build-2', '{}')", `data = '{"packages": ["x"]}'`},
	"changelogs":              {ofAccount, "", "(account_id, collection, key, data) values ('{Account}', 'changelogs', 'release-2', '{}')", `data = '{"changes": ["x"]}'`},
	// The routing table is global: the same statements whatever the account.
	"document_stores": {"true", "collection = 'scratch'", "(collection, table_name) values ('more-notes', 'documents')", "description = 'changed'"},
}

// rlsStatement is the statement of one cell, before expand: selects return a
// count; the others change rows. ok is false for a table rlsTables lacks.
func rlsStatement(table, op string) (stmt string, ok bool) {
	tb, ok := rlsTables[table]
	if !ok {
		return "", false
	}
	row := tb.row
	if row == "" {
		row = tb.scope
	}
	switch op {
	case "select":
		return "select count(*) from public." + table + " where " + tb.scope, true
	case "insert":
		return "insert into public." + table + " " + tb.insert, true
	case "update":
		return "update public." + table + " set " + tb.set + " where " + row, true
	case "delete":
		return "delete from public." + table + " where " + row, true
	}
	return "", false
}

var rlsActors = []string{"anon", "outsider", "viewer", "member", "owner", "service"}

type rlsCell struct {
	table, op string
	want      map[string]string // actor -> ok | none | denied
}

// statement is the cell's statement, before expand.
func (c rlsCell) statement() string {
	stmt, _ := rlsStatement(c.table, c.op)
	return stmt
}

func parseRLSSpec(t *testing.T) []rlsCell {
	t.Helper()
	var cells []rlsCell
	for i, line := range strings.Split(strings.TrimSpace(rlsSpec), "\n") {
		f := strings.Fields(line)
		if i == 0 {
			if strings.Join(f[2:], " ") != strings.Join(rlsActors, " ") {
				t.Fatalf("rlsSpec header %q does not list %v", line, rlsActors)
			}
			continue
		}
		if len(f) != 2+len(rlsActors) {
			t.Fatalf("rlsSpec line %d has %d fields: %q", i+1, len(f), line)
		}
		c := rlsCell{table: f[0], op: f[1], want: map[string]string{}}
		for j, a := range rlsActors {
			switch f[2+j] {
			case "ok", "none", "denied":
				c.want[a] = f[2+j]
			default:
				t.Fatalf("rlsSpec line %d: unknown outcome %q", i+1, f[2+j])
			}
		}
		cells = append(cells, c)
	}
	return cells
}

func (f fixtureAccount) expand(stmt string) string {
	return strings.NewReplacer(
		"{Account}", f.Account, "{Project}", f.Project, "{Environment}", f.Environment, "{Build}", f.Build,
		"{Release}", f.Release, "{Deployment}", f.Deployment, "{Allocation}", f.Allocation, "{Task}", f.Task,
		"{Integration}", f.Integration, "{Extra}", f.Extra, "{outsider}", outsider,
	).Replace(stmt)
}

// claimsOf returns the claims of an actor, whose account memberships are
// those of account f.
func (f fixtureAccount) claimsOf(actor string) pgtest.Claims {
	switch actor {
	case "anon":
		return pgtest.Anon()
	case "service":
		return pgtest.Service()
	case "outsider":
		return pgtest.User(outsider)
	case "viewer":
		return pgtest.User(f.Viewer)
	case "member":
		return pgtest.User(f.Member)
	case "owner":
		return pgtest.User(f.Owner)
	}
	panic("unknown actor " + actor)
}

// runCell executes one statement as claims in a transaction that is rolled
// back, and classifies the outcome. adminCount is what supabase_admin sees
// for a select.
func runCell(db *pgtest.DB, claims pgtest.Claims, op, stmt string, adminCount int64) (string, error) {
	ctx := context.Background()
	var outcome string
	err := db.AsRole(ctx, claims, func(tx pgx.Tx) error {
		if op == "select" {
			var n int64
			if err := tx.QueryRow(ctx, stmt).Scan(&n); err != nil {
				return err
			}
			switch {
			case n == 0:
				outcome = "none"
			case n == adminCount:
				outcome = "ok"
			default:
				outcome = fmt.Sprintf("partial (%d of %d rows)", n, adminCount)
			}
			return errRollback
		}
		tag, err := tx.Exec(ctx, stmt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			outcome = "ok"
		} else {
			outcome = "none"
		}
		return errRollback
	})
	switch {
	case errors.Is(err, errRollback):
		return outcome, nil
	case sqlState(err) == "42501":
		return "denied", nil
	default:
		return "", err
	}
}

func TestRLSMatrix(t *testing.T) {
	db := newFixtureDB(t)
	ctx := context.Background()
	cells := parseRLSSpec(t)

	// Every public table is in the spec, and every spec table has statements.
	var tables []string
	rows, err := db.Admin(t).Query(ctx, `select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1`)
	must(t, "list tables", err)
	for rows.Next() {
		var name string
		must(t, "scan", rows.Scan(&name))
		tables = append(tables, name)
	}
	must(t, "list tables", rows.Err())
	specOps := map[string]int{}
	for _, c := range cells {
		specOps[c.table]++
		if _, ok := rlsStatement(c.table, c.op); !ok {
			t.Fatalf("no statement for %s %s", c.table, c.op)
		}
	}
	for _, tbl := range tables {
		if specOps[tbl] != 4 {
			t.Errorf("public.%s has %d of 4 operations in rlsSpec: every public table needs its row of expectations", tbl, specOps[tbl])
		}
	}
	if len(specOps) != len(tables) {
		t.Errorf("rlsSpec covers %d tables, the schema has %d: %v", len(specOps), len(tables), tables)
	}

	adminCounts := func(f fixtureAccount, c rlsCell) int64 {
		if c.op != "select" {
			return 0
		}
		var n int64
		adminScan(t, db, &n, f.expand(c.statement()))
		if n == 0 {
			t.Fatalf("fixture has no %s row for account %s: the select cells would prove nothing", c.table, f.Account)
		}
		return n
	}

	for _, c := range cells {
		t.Run(c.table+"/"+c.op, func(t *testing.T) {
			stmt := accA.expand(c.statement())
			n := adminCounts(accA, c)
			for _, actor := range rlsActors {
				got, err := runCell(db, accA.claimsOf(actor), c.op, stmt, n)
				if err != nil {
					t.Errorf("%-8s %s: unexpected error: %v\n  %s", actor, c.op, err, stmt)
					continue
				}
				if got != c.want[actor] {
					t.Errorf("%-8s %s on %s: got %s, want %s\n  %s", actor, c.op, c.table, got, c.want[actor], stmt)
				}
			}
			// Cross-account: viewer, member and owner of A acting on B's
			// rows get exactly what a user outside B gets.
			stmtB := accB.expand(c.statement())
			nB := adminCounts(accB, c)
			for _, actor := range []string{"viewer", "member", "owner"} {
				got, err := runCell(db, accA.claimsOf(actor), c.op, stmtB, nB)
				if err != nil {
					t.Errorf("%s of A on B: unexpected error: %v\n  %s", actor, err, stmtB)
					continue
				}
				if want := c.want["outsider"]; got != want {
					t.Errorf("%s of A, %s on account B's %s: got %s, want %s (as for a non-member)\n  %s", actor, c.op, c.table, got, want, stmtB)
				}
			}
		})
	}

	// The cells rolled back: the fixture is intact.
	var n int64
	adminScan(t, db, &n, `select count(*) from public.accounts`)
	if n != 2 {
		t.Fatalf("after the matrix: %d accounts, want the fixture's 2", n)
	}
}
