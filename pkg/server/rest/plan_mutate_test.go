package rest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMutatePlanRules: each write rule, decided from the request and the
// schema cache alone.
func TestMutatePlanRules(t *testing.T) {
	sc := libraryFixture()
	const cat = `{"id":1,"name":"x"}`
	cases := []planCase[mutatePlan]{
		// PUT: all and only the primary key, with eq.
		{name: "PUT by key", method: "PUT", target: "/categories?id=eq.1", body: cat, check: func(t *testing.T, p *mutatePlan) {
			if p.kind != mutatePut || !slicesEqual(p.putKey, "1") || !slicesEqual(p.conflict, "id") || !p.merge() || !p.checks.putRow {
				t.Errorf("plan %+v", p)
			}
		}},
		{name: "PUT by a composite key in key order", method: "PUT", target: "/shelf_books?book_id=eq.7&shelf=eq.top", body: `{"shelf":"top","book_id":7,"position":1}`,
			check: func(t *testing.T, p *mutatePlan) {
				if !slicesEqual(p.putKey, "top", "7") || !slicesEqual(p.conflict, "shelf", "book_id") {
					t.Errorf("key %q conflict %q", p.putKey, p.conflict)
				}
			}},
		{name: "PUT without the key filter", method: "PUT", target: "/categories?name=eq.x", body: cat, status: 405, code: "PGRST105"},
		{name: "PUT with a non-eq key filter", method: "PUT", target: "/categories?id=gt.1", body: cat, status: 405, code: "PGRST105"},
		{name: "PUT with not.eq", method: "PUT", target: "/categories?id=not.eq.1", body: cat, status: 405, code: "PGRST105"},
		{name: "PUT with the key twice", method: "PUT", target: "/categories?id=eq.1&id=eq.1", body: cat, status: 405, code: "PGRST105"},
		{name: "PUT with part of a composite key", method: "PUT", target: "/shelf_books?shelf=eq.top", body: `{"shelf":"top","book_id":7}`, status: 405, code: "PGRST105"},
		{name: "PUT with a logic filter", method: "PUT", target: "/categories?id=eq.1&or=(id.eq.1)", body: cat, status: 405, code: "PGRST105"},
		{name: "PUT on a table without a key", method: "PUT", target: "/logs?msg=eq.x", body: `{"msg":"x"}`, status: 405, code: "PGRST105"},
		{name: "PUT with limit", method: "PUT", target: "/categories?id=eq.1&limit=1", body: cat, status: 400, code: "PGRST114"},
		{name: "PUT with offset", method: "PUT", target: "/categories?id=eq.1&offset=1", body: cat, status: 400, code: "PGRST114"},
		{name: "PUT with many rows", method: "PUT", target: "/categories?id=eq.1", body: `[` + cat + `,` + cat + `]`, status: 400, code: "PGRST115"},
		{name: "PUT without the key in the body", method: "PUT", target: "/categories?id=eq.1", body: `{"name":"x"}`, status: 400, code: "PGRST115"},
		// Limited PATCH and DELETE: tables only.
		{name: "limited delete", method: "DELETE", target: "/books?order=id&limit=2&offset=1", check: func(t *testing.T, p *mutatePlan) {
			if !p.limited() || p.limit.Limit != 2 || p.limit.Offset != 1 || len(p.tree.order) != 1 {
				t.Errorf("limit %+v order %d", p.limit, len(p.tree.order))
			}
		}},
		{name: "unlimited delete", method: "DELETE", target: "/books?id=eq.1", check: func(t *testing.T, p *mutatePlan) {
			if p.limited() || len(p.filters) != 1 || len(p.tree.where) != 0 {
				t.Errorf("limited %v, %d filters, %d on the response", p.limited(), len(p.filters), len(p.tree.where))
			}
		}},
		{name: "limited update of a view", method: "PATCH", target: "/book_summaries?limit=1", body: `{"pages":1}`, status: 400, code: "PGRST127"},
		{name: "delete with offset on a view", method: "DELETE", target: "/book_summaries?offset=1", status: 400, code: "PGRST127"},
		{name: "unlimited update of a view", method: "PATCH", target: "/book_summaries?id=eq.1", body: `{"pages":1}`},
		// Upsert: the conflict target and the resolution.
		{name: "on_conflict with an unknown column", method: "POST", target: "/books?on_conflict=nope", body: `{"title":"x"}`,
			headers: []string{"Prefer", "resolution=merge-duplicates"}, status: 400, code: "42703"},
		{name: "on_conflict unknown even without a resolution", method: "POST", target: "/books?on_conflict=nope", body: `{"title":"x"}`, status: 400, code: "42703"},
		{name: "merge on the primary key", method: "POST", target: "/books", body: `{"id":1,"title":"x"}`,
			headers: []string{"Prefer", "resolution=merge-duplicates"}, check: func(t *testing.T, p *mutatePlan) {
				if p.resolution != "merge-duplicates" || !slicesEqual(p.conflict, "id") || p.applied.resolution != "merge-duplicates" {
					t.Errorf("resolution %q conflict %q applied %q", p.resolution, p.conflict, p.applied.header())
				}
			}},
		{name: "ignore on on_conflict", method: "POST", target: "/books?on_conflict=isbn", body: `{"isbn":"1","title":"x"}`,
			headers: []string{"Prefer", "resolution=ignore-duplicates"}, check: func(t *testing.T, p *mutatePlan) {
				if p.resolution != "ignore-duplicates" || !slicesEqual(p.conflict, "isbn") || p.merge() {
					t.Errorf("resolution %q conflict %q", p.resolution, p.conflict)
				}
			}},
		{name: "resolution ignored without a conflict target", method: "POST", target: "/logs", body: `{"msg":"x"}`,
			headers: []string{"Prefer", "resolution=merge-duplicates"}, check: func(t *testing.T, p *mutatePlan) {
				if p.resolution != "" || p.conflict != nil || p.applied.header() != "" {
					t.Errorf("resolution %q conflict %q applied %q", p.resolution, p.conflict, p.applied.header())
				}
			}},
		{name: "on_conflict gives a keyless table a target", method: "POST", target: "/logs?on_conflict=msg", body: `{"msg":"x"}`,
			headers: []string{"Prefer", "resolution=merge-duplicates"}, check: func(t *testing.T, p *mutatePlan) {
				if p.resolution != "merge-duplicates" || p.applied.header() != "resolution=merge-duplicates" {
					t.Errorf("resolution %q applied %q", p.resolution, p.applied.header())
				}
			}},
		// missing=default.
		{name: "missing=default on insert", method: "POST", target: "/books?columns=title,genres", body: `{"title":"x"}`,
			headers: []string{"Prefer", "missing=default"}, check: func(t *testing.T, p *mutatePlan) {
				if !p.defaults || p.applied.header() != "missing=default" || len(p.columns) != 2 {
					t.Errorf("defaults %v applied %q columns %d", p.defaults, p.applied.header(), len(p.columns))
				}
			}},
		{name: "missing=default on update", method: "PATCH", target: "/books?id=eq.1", body: `{"title":"x"}`,
			headers: []string{"Prefer", "missing=default"}, check: func(t *testing.T, p *mutatePlan) {
				if !p.defaults || p.applied.header() != "missing=default" {
					t.Errorf("defaults %v applied %q", p.defaults, p.applied.header())
				}
			}},
		{name: "missing=default not reported by PUT", method: "PUT", target: "/categories?id=eq.1", body: cat,
			headers: []string{"Prefer", "missing=default"}, check: func(t *testing.T, p *mutatePlan) {
				if p.applied.header() != "" {
					t.Errorf("applied %q", p.applied.header())
				}
			}},
		// return=headers-only: the key makes Location.
		{name: "headers-only returns the key", method: "POST", target: "/books", body: `{"title":"x"}`,
			headers: []string{"Prefer", "return=headers-only"}, check: func(t *testing.T, p *mutatePlan) {
				if !slicesEqual(p.location, "id") || p.returning.all || !slicesEqual(p.returning.columns, "id") || p.representation() {
					t.Errorf("location %q returning %+v body %v", p.location, p.returning, p.body)
				}
			}},
		{name: "headers-only without a key", method: "POST", target: "/logs", body: `{"msg":"x"}`,
			headers: []string{"Prefer", "return=headers-only"}, check: func(t *testing.T, p *mutatePlan) {
				if p.location != nil {
					t.Errorf("location %q", p.location)
				}
			}},
		{name: "no Location for PUT", method: "PUT", target: "/categories?id=eq.1", body: cat,
			headers: []string{"Prefer", "return=headers-only"}, check: func(t *testing.T, p *mutatePlan) {
				if p.location != nil || len(p.returning.columns) != 0 {
					t.Errorf("location %q returning %+v", p.location, p.returning)
				}
			}},
		{name: "representation returns what the response selects and embeds join on", method: "POST",
			target: "/books?select=title,author:authors(name)", body: `{"title":"x","author_id":1}`,
			headers: []string{"Prefer", "return=representation"}, check: func(t *testing.T, p *mutatePlan) {
				if !slicesEqual(p.returning.columns, "title", "author_id") || p.body != bodyArray {
					t.Errorf("returning %+v body %v", p.returning, p.body)
				}
			}},
		// columns=.
		{name: "columns= with an unknown column", method: "POST", target: "/books?columns=title,nope", body: `{"title":"x"}`, status: 400, code: "PGRST204"},
		{name: "body with an unknown column", method: "PATCH", target: "/books?id=eq.1", body: `{"nope":1}`, status: 400, code: "PGRST204"},
		{name: "columns= picks the columns", method: "POST", target: "/books?columns=title", body: `{"title":"x","extra":1}`, check: func(t *testing.T, p *mutatePlan) {
			if len(p.columns) != 1 || p.columns[0].Name != "title" {
				t.Errorf("columns %v", p.columns)
			}
		}},
		// max-affected: a constraint only with handling=strict.
		{name: "max-affected with strict", method: "PATCH", target: "/books?author_id=eq.1", body: `{"pages":1}`,
			headers: []string{"Prefer", "handling=strict, max-affected=1"}, check: func(t *testing.T, p *mutatePlan) {
				if p.checks.maxAffected != 1 || p.applied.header() != "handling=strict, max-affected=1" {
					t.Errorf("max-affected %d applied %q", p.checks.maxAffected, p.applied.header())
				}
			}},
		{name: "max-affected without strict", method: "DELETE", target: "/books?author_id=eq.1",
			headers: []string{"Prefer", "max-affected=1"}, check: func(t *testing.T, p *mutatePlan) {
				if p.checks.maxAffected != -1 || p.applied.header() != "" {
					t.Errorf("max-affected %d applied %q", p.checks.maxAffected, p.applied.header())
				}
			}},
		{name: "max-affected does not bound an insert", method: "POST", target: "/books", body: `{"title":"x"}`,
			headers: []string{"Prefer", "handling=strict, max-affected=1"}, check: func(t *testing.T, p *mutatePlan) {
				if p.checks.maxAffected != -1 || p.applied.header() != "handling=strict" {
					t.Errorf("max-affected %d applied %q", p.checks.maxAffected, p.applied.header())
				}
			}},
		{name: "an invalid preference with strict", method: "PATCH", target: "/books?id=eq.1", body: `{"pages":1}`,
			headers: []string{"Prefer", "handling=strict, bogus"}, status: 400, code: "PGRST122"},
		// Singular.
		{name: "singular", method: "DELETE", target: "/books?id=eq.1", headers: []string{"Accept", "application/vnd.pgrst.object+json"},
			check: func(t *testing.T, p *mutatePlan) {
				if !p.checks.singular {
					t.Errorf("not singular")
				}
			}},
	}
	runPlanCases(t, sc, planMutate, planOpts{}, cases)
}

func slicesEqual(got []string, want ...string) bool {
	return cmp.Equal(got, want) || (len(got) == 0 && len(want) == 0)
}

// TestMutateSQL: the statements PUT, an upsert and a limited delete
// render, so the plan's fields reach the SQL.
func TestMutateSQL(t *testing.T) {
	sc := libraryFixture()
	cases := []struct {
		method, target, body string
		headers              []string
		want                 []string
		args                 []string
	}{
		{"PUT", "/shelf_books?book_id=eq.7&shelf=eq.top", `{"shelf":"top","book_id":7}`, nil, []string{
			`INSERT INTO "public"."shelf_books"("book_id", "shelf") SELECT "pgrst_body"."book_id", "pgrst_body"."shelf" FROM `,
			` WHERE ` + insertedPlus + ` AND "pgrst_body"."shelf" = $2 AND "pgrst_body"."book_id" = $3 ON CONFLICT ("shelf", "book_id") DO UPDATE SET "book_id" = EXCLUDED."book_id", "shelf" = EXCLUDED."shelf" WHERE ` + insertedMinus,
			`nullif(current_setting('pgrst.inserted', true), '')::bigint AS response_inserted`,
		}, []string{`[{"shelf":"top","book_id":7}]`, "top", "7"}},
		{"POST", "/books?columns=title,genres", `{"title":"x"}`, []string{"Prefer", "missing=default, return=headers-only"}, []string{
			`jsonb_build_object('genres', '{}'::text[])`, ` RETURNING "public"."books"."id")`,
			`j.key = ANY($2)`,
		}, []string{`[{"title":"x"}]`, `{"id"}`}},
		{"DELETE", "/books?author_id=eq.1&order=id.desc&limit=2", "", []string{"Prefer", "return=minimal"}, []string{
			`DELETE FROM "public"."books" WHERE "public"."books".ctid = ANY(ARRAY(SELECT "public"."books".ctid FROM "public"."books" WHERE "public"."books"."author_id" = $1 ORDER BY "public"."books"."id" DESC LIMIT $2)) RETURNING 1)`,
		}, []string{"1", "2"}},
	}
	for _, c := range cases {
		p, err := planTest(planMutate, planOpts{}, sc, c.method, c.target, c.body, c.headers...)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.target, err)
		}
		s := mutateSQL(p)
		text := s.text()
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s %s: SQL lacks %s\n%s", c.method, c.target, w, text)
			}
		}
		if d := cmp.Diff(c.args, sqlArgs(s)); d != "" {
			t.Errorf("%s %s: args (-want +got):\n%s", c.method, c.target, d)
		}
		s.release()
	}
}

// TestResultChecks: the checks a result must pass before commit, in
// PostgREST's order.
func TestResultChecks(t *testing.T) {
	none := resultChecks{maxAffected: -1}
	cases := []struct {
		name   string
		checks resultChecks
		rows   int64
		code   string
	}{
		{"nothing to check", none, 5, ""},
		{"PUT wrote its row", resultChecks{putRow: true, maxAffected: -1}, 1, ""},
		{"PUT wrote nothing (key mismatch)", resultChecks{putRow: true, maxAffected: -1, singular: true}, 0, "PGRST115"},
		{"within max-affected", resultChecks{maxAffected: 2}, 2, ""},
		{"over max-affected", resultChecks{maxAffected: 2, singular: true}, 3, "PGRST124"},
		{"max-affected on a function without a set", resultChecks{maxAffectedNeedsSet: true, maxAffected: -1}, 1, "PGRST128"},
		{"singular", resultChecks{maxAffected: -1, singular: true}, 1, ""},
		{"singular with two rows", resultChecks{maxAffected: -1, singular: true}, 2, "PGRST116"},
		{"singular with none", resultChecks{maxAffected: -1, singular: true}, 0, "PGRST116"},
	}
	for _, c := range cases {
		err := c.checks.check(&result{pageTotal: c.rows})
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code != "" && (err == nil || err.Code != c.code):
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if err := (resultChecks{maxAffected: 1}).check(&result{pageTotal: 2}); err == nil || *err.Details != "The query affects 2 rows" {
		t.Errorf("max-affected details: %v", err)
	}
}
