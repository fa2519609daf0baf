package supabase_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// doc is public.documents, what doc_put, doc_get and doc_list return.
type doc struct {
	AccountID  string
	Collection string
	Key        string
	Data       any
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	CreatedBy  *string
}

const docCols = `account_id::text, collection, key, data, version, created_at, updated_at, created_by::text`

// get returns a field of an object document.
func (d doc) get(field string) any {
	m, _ := d.Data.(map[string]any)
	return m[field]
}

func docRows(t testing.TB, db *pgtest.DB, claims pgtest.Claims, sql string, args ...any) ([]doc, error) {
	t.Helper()
	var out []doc
	err := asRole(t, db, claims, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select `+docCols+` from `+sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[doc])
		return err
	})
	return out, err
}

func docPut(t testing.TB, db *pgtest.DB, claims pgtest.Claims, collection, key string, data any, expected *int64) (doc, error) {
	t.Helper()
	raw, _ := json.Marshal(data)
	docs, err := docRows(t, db, claims, `public.doc_put($1, $2, $3, $4, $5)`, accA.Account, collection, key, string(raw), expected)
	if err != nil {
		return doc{}, err
	}
	return docs[0], nil
}

func ver(v int64) *int64 { return &v }

func TestDocumentsVersions(t *testing.T) {
	db := newFixtureDB(t)
	member := user(accA.Member)
	// The same calls against a collection in documents and the two
	// dedicated ones behave identically.
	for _, coll := range []string{"settings", "build_manifests", "changelogs"} {
		t.Run(coll, func(t *testing.T) {
			d, err := docPut(t, db, member, coll, "k1", map[string]any{"n": 1}, nil)
			must(t, "first put", err)
			if d.Version != 1 || d.get("n") != float64(1) || d.Collection != coll || d.Key != "k1" || d.AccountID != accA.Account {
				t.Fatalf("first put returned %+v", d)
			}
			if d.CreatedBy == nil || *d.CreatedBy != accA.Member {
				t.Errorf("created_by = %v, want the caller", d.CreatedBy)
			}
			d, err = docPut(t, db, member, coll, "k1", map[string]any{"n": 2}, nil)
			must(t, "unconditional put", err)
			if d.Version != 2 {
				t.Fatalf("version after second put = %d, want 2", d.Version)
			}
			d, err = docPut(t, db, member, coll, "k1", map[string]any{"n": 3}, ver(2))
			must(t, "put at version 2", err)
			if d.Version != 3 || d.get("n") != float64(3) {
				t.Fatalf("conditional put returned %+v", d)
			}
			// A writer still holding version 2 is refused with 409.
			_, err = docPut(t, db, user(accA.Owner), coll, "k1", map[string]any{"n": 99}, ver(2))
			e := wantState(t, "stale put", err, "PT409", "not at version 2")
			if e.Detail != "current version is 3" {
				t.Errorf("detail = %q", e.Detail)
			}
			_, err = docPut(t, db, member, coll, "k1", map[string]any{}, ver(0))
			wantState(t, "create-only on an existing document", err, "PT409", "current version is 3")
			_, err = docPut(t, db, member, coll, "absent", map[string]any{}, ver(4))
			wantState(t, "conditional put of a missing document", err, "PT409", "does not exist")
			d, err = docPut(t, db, member, coll, "k2", []any{"any", "json"}, ver(0))
			must(t, "create-only", err)
			if d.Version != 1 {
				t.Fatalf("create-only version %d", d.Version)
			}

			got, err := docRows(t, db, user(accA.Viewer), `public.doc_get($1, $2, 'k1')`, accA.Account, coll)
			must(t, "get", err)
			if len(got) != 1 || got[0].Version != 3 || got[0].get("n") != float64(3) {
				t.Fatalf("doc_get = %+v", got)
			}
			got, err = docRows(t, db, user(accA.Viewer), `public.doc_get($1, $2, 'nope')`, accA.Account, coll)
			must(t, "get missing", err)
			if len(got) != 0 {
				t.Fatalf("doc_get of a missing key = %+v", got)
			}

			var deleted bool
			err = query(t, db, member, &deleted, `select public.doc_delete($1, $2, 'k1', 2)`, accA.Account, coll)
			wantState(t, "stale delete", err, "PT409", "current version is 3")
			mustQuery(t, db, member, &deleted, `select public.doc_delete($1, $2, 'k1', 3)`, accA.Account, coll)
			if !deleted {
				t.Fatal("doc_delete at the current version returned false")
			}
			mustQuery(t, db, member, &deleted, `select public.doc_delete($1, $2, 'k1')`, accA.Account, coll)
			if deleted {
				t.Fatal("deleting a missing document returned true")
			}
			// A direct update through the table follows the same rule.
			err = query(t, db, member, nil, fmt.Sprintf(`update public.%s set data = '{}', version = 5 where account_id = $1 and key = 'k2'`, storeOf(coll)), accA.Account)
			wantState(t, "direct stale update", err, "PT409", "current version is 1")
		})
	}

	// Where each collection lives: invisible to callers, visible to the
	// superuser.
	for coll, table := range map[string]string{"settings": "documents", "build_manifests": "build_manifests", "changelogs": "changelogs"} {
		var where string
		adminScan(t, db, &where, `select string_agg(t, ',') from (
			select 'documents' t from public.documents where collection = $1 and key = 'k2'
			union all select 'build_manifests' from public.build_manifests where collection = $1 and key = 'k2'
			union all select 'changelogs' from public.changelogs where collection = $1 and key = 'k2') x`, coll)
		if where != table {
			t.Errorf("collection %s stored in %q, want %q", coll, where, table)
		}
	}

	// Collections of the account, whichever table holds them.
	type coll struct {
		Name    string
		Count   int64
		Updated time.Time
	}
	var colls []coll
	must(t, "doc_collections", asRole(t, db, user(accA.Viewer), func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select collection, document_count, last_updated_at from public.doc_collections($1)`, accA.Account)
		if err != nil {
			return err
		}
		colls, err = pgx.CollectRows(rows, pgx.RowToStructByPos[coll])
		return err
	}))
	var names []string
	for _, c := range colls {
		names = append(names, fmt.Sprintf("%s:%d", c.Name, c.Count))
	}
	if want := "[build_manifests:2 changelogs:2 notes:1 settings:1]"; fmt.Sprint(names) != want {
		t.Errorf("doc_collections = %v, want %s", names, want)
	}
}

func storeOf(collection string) string {
	if collection == "build_manifests" || collection == "changelogs" {
		return collection
	}
	return "documents"
}

func TestDocumentsAccessAndValidation(t *testing.T) {
	db := newFixtureDB(t)
	cases := []refusal{
		{"viewer writes", user(accA.Viewer), `select public.doc_put('` + accA.Account + `', 'notes', 'x', '{}')`, "42501", "member role"},
		{"viewer deletes", user(accA.Viewer), `select public.doc_delete('` + accA.Account + `', 'notes', 'hello')`, "42501", "member role"},
		{"outsider reads", user(outsider), `select * from public.doc_get('` + accA.Account + `', 'notes', 'hello')`, "42501", "viewer role"},
		{"owner of B lists A", user(accB.Owner), `select * from public.doc_list('` + accA.Account + `', 'notes')`, "42501", "viewer role"},
		{"owner of B collections of A", user(accB.Owner), `select * from public.doc_collections('` + accA.Account + `')`, "42501", "viewer role"},
		{"anon reads", pgtest.Anon(), `select * from public.doc_get('` + accA.Account + `', 'notes', 'hello')`, "42501", "permission denied"},
		{"bad collection", user(accA.Member), `select public.doc_put('` + accA.Account + `', 'Bad Name', 'x', '{}')`, "22023", "collection"},
		{"empty key", user(accA.Member), `select public.doc_put('` + accA.Account + `', 'notes', '', '{}')`, "22023", "key"},
		{"null data", user(accA.Member), `select public.doc_put('` + accA.Account + `', 'notes', 'x', null)`, "22023", "doc_delete"},
		{"negative version", user(accA.Member), `select public.doc_put('` + accA.Account + `', 'notes', 'x', '{}', -1)`, "22023", "expected_version"},
		{"limit zero", user(accA.Member), `select * from public.doc_list('` + accA.Account + `', 'notes', null, null, 0)`, "22023", "limit"},
		{"limit too big", user(accA.Member), `select * from public.doc_list('` + accA.Account + `', 'notes', null, null, 1001)`, "22023", "limit"},
		{"null account", user(accA.Member), `select * from public.doc_get(null, 'notes', 'hello')`, "22023", "account_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantState(t, c.sql, query(t, db, c.claims, nil, c.sql), c.code, c.fragment)
		})
	}
	// service_role reads and writes every account's documents.
	got, err := docRows(t, db, pgtest.Service(), `public.doc_get($1, 'notes', 'hello')`, accB.Account)
	must(t, "service get", err)
	if len(got) != 1 || got[0].get("text") != "b" {
		t.Fatalf("service_role doc_get = %+v", got)
	}
}

// TestDocumentRouting: which table serves a collection is data. Adding a
// route sends a new collection to a dedicated table without any change to
// the functions; routes are validated.
func TestDocumentRouting(t *testing.T) {
	db := newFixtureDB(t)
	service := pgtest.Service()
	mustQuery(t, db, service, nil, `insert into public.document_stores (collection, table_name, description) values ('release-notes', 'changelogs', 'notes per release')`)
	_, err := docPut(t, db, user(accA.Member), "release-notes", "v1.0", map[string]any{"notes": "first"}, nil)
	must(t, "put routed", err)
	var n int
	adminScan(t, db, &n, `select count(*) from public.changelogs where collection = 'release-notes'`)
	if n != 1 {
		t.Fatal("routed collection not stored in changelogs")
	}
	adminScan(t, db, &n, `select count(*) from public.documents where collection = 'release-notes'`)
	if n != 0 {
		t.Fatal("routed collection also stored in documents")
	}
	got, err := docRows(t, db, user(accA.Viewer), `public.doc_list($1, 'release-notes')`, accA.Account)
	must(t, "list routed", err)
	if len(got) != 1 || got[0].Key != "v1.0" {
		t.Fatalf("doc_list of routed collection = %+v", got)
	}

	for _, c := range []struct{ name, sql, code, fragment string }{
		{"re-route with documents", `update public.document_stores set table_name = 'build_manifests' where collection = 'release-notes'`, "23514", "still has documents"},
		{"route a collection that has documents", `insert into public.document_stores (collection, table_name) values ('notes', 'changelogs')`, "23514", "still has documents"},
		{"unroute with documents", `delete from public.document_stores where collection = 'release-notes'`, "23514", "still has documents"},
		{"missing table", `insert into public.document_stores (collection, table_name) values ('x', 'no_such_table')`, "23503", "does not exist"},
		{"table of another shape", `insert into public.document_stores (collection, table_name) values ('x', 'projects')`, "23514", "lacks document columns"},
		{"bad table name", `insert into public.document_stores (collection, table_name) values ('x', 'public.documents; drop')`, "23514", "document_stores_table_name_format"},
		{"authenticated changes routes", `insert into public.document_stores (collection, table_name) values ('y', 'changelogs')`, "42501", "permission denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			claims := service
			if c.name == "authenticated changes routes" {
				claims = user(accA.Owner)
			}
			wantState(t, c.sql, query(t, db, claims, nil, c.sql), c.code, c.fragment)
		})
	}
	// Moving the documents and the route in one transaction is allowed.
	must(t, "move collection", asRole(t, db, service, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `insert into public.build_manifests select * from public.changelogs where collection = 'release-notes'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `delete from public.changelogs where collection = 'release-notes'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `update public.document_stores set table_name = 'build_manifests' where collection = 'release-notes'`)
		return err
	}))
	got, err = docRows(t, db, user(accA.Viewer), `public.doc_get($1, 'release-notes', 'v1.0')`, accA.Account)
	must(t, "get after move", err)
	if len(got) != 1 || got[0].get("notes") != "first" {
		t.Fatalf("after moving the collection: %+v", got)
	}
}

// TestDocListKeysetPagination pages through 10,000 documents while another
// connection keeps inserting new ones between, before and after them. Every
// original document is returned exactly once, in key order.
func TestDocListKeysetPagination(t *testing.T) {
	for _, coll := range []string{"build_manifests", "inventory"} {
		t.Run(coll, func(t *testing.T) { testKeysetPagination(t, coll) })
	}
}

func testKeysetPagination(t *testing.T, coll string) {
	db := newFixtureDB(t)
	ctx := context.Background()
	const total = 10000
	// Originals: k00000, k00002, ... (even numbers); concurrent inserts use
	// odd numbers, keys before the first ("a…") and after the last ("z…").
	db.Exec(t, fmt.Sprintf(`insert into public.%s (account_id, collection, key, data)
		select $1, $2, 'k' || lpad((2 * i)::text, 5, '0'), jsonb_build_object('i', i)
		from generate_series(0, $3 - 1) i`, storeOf(coll)), accA.Account, coll, total)
	// Also some documents with another prefix, which the prefix filter skips.
	db.Exec(t, fmt.Sprintf(`insert into public.%s (account_id, collection, key, data)
		select $1, $2, 'other-' || i, '{}' from generate_series(1, 50) i`, storeOf(coll)), accA.Account, coll)

	var inserted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var key string
			switch i % 3 {
			case 0:
				key = fmt.Sprintf("k%05d", 2*r.IntN(total)+1)
			case 1:
				key = fmt.Sprintf("k%05d-late", 2*r.IntN(total))
			default:
				key = fmt.Sprintf("k99999-%d", i)
			}
			if _, err := docPut(t, db, user(accA.Member), coll, key, map[string]any{"new": true}, nil); err != nil {
				t.Errorf("concurrent insert: %v", err)
				return
			}
			inserted.Add(1)
		}
	}()

	seen := make(map[string]int, total)
	last := ""
	pages := 0
	var after *string
	for {
		page, err := docRows(t, db, user(accA.Viewer), `public.doc_list($1, $2, 'k', $3, 250)`, accA.Account, coll, after)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, d := range page {
			if d.Key <= last {
				close(stop)
				wg.Wait()
				t.Fatalf("page %d: key %q after %q: not in order", pages, d.Key, last)
			}
			last = d.Key
			seen[d.Key]++
		}
		k := page[len(page)-1].Key
		after = &k
		// Let the writer get ahead a little between pages.
		if pages%5 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()

	missing, dup := 0, 0
	for i := 0; i < total; i++ {
		switch seen[fmt.Sprintf("k%05d", 2*i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 {
		t.Fatalf("%d originals missing, %d seen twice", missing, dup)
	}
	if inserted.Load() == 0 {
		t.Fatal("no concurrent insert happened during the pagination")
	}
	for k := range seen {
		if k[0] != 'k' {
			t.Fatalf("prefix filter let %q through", k)
		}
	}
	t.Logf("%s: %d pages, %d keys seen, %d concurrent inserts", coll, pages, len(seen), inserted.Load())

	// Each page is an index range scan in key order: no sort, no full scan.
	db.Exec(t, `analyze`)
	rows, err := db.Admin(t).Query(ctx, fmt.Sprintf(`explain select * from public.%s d
		where d.account_id = $1 and d.collection = $2 and d.key ^@ 'k' and d.key > 'k05000' order by d.key limit 250`, storeOf(coll)), accA.Account, coll)
	must(t, "explain", err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, "explain", err)
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, storeOf(coll)+"_pkey") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") {
		t.Errorf("doc_list's page query does not use the primary key range:\n%s", plan)
	}
}
