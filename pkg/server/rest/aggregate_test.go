package rest

import (
	"strings"
	"testing"
)

// newEnvWith is newEnv with the server's configuration changed by mod.
func newEnvWith(t testing.TB, mod func(*Config), extraSQL ...string) *env {
	t.Helper()
	db := newPgDB(t)
	db.Exec(t, librarySQL)
	for _, s := range extraSQL {
		db.Exec(t, s)
	}
	return startEnv(t, db, mod)
}

// aggregateFixture: orders with their customer.
func aggregateFixture() *Schema {
	f := newSchemaFixture()
	f.table("customers", []string{"id"}, "id integer", "name text", "country text")
	f.table("orders", []string{"id"}, "id integer", "customer_id integer", "amount numeric", "status text", "data jsonb")
	f.fk("orders_customer_id_fkey", "orders", "customer_id", "customers", "id")
	return f.sc
}

// TestAggregatePlan: what groups, what is aggregated and what is refused,
// without a database.
func TestAggregatePlan(t *testing.T) {
	sc := aggregateFixture()
	plan := func(target string, enabled bool) (*readPlan, *apiError) {
		t.Helper()
		return planTest(planRead, planOpts{maxRows: 100, aggregates: enabled}, sc, "GET", target, "")
	}
	sqlOf := func(target string) string {
		t.Helper()
		p, err := plan(target, true)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return readSQL(p).text()
	}
	for _, target := range []string{"/orders?select=amount.sum()", "/orders?select=count()", "/customers?select=name,orders(amount.max())",
		"/orders?select=status,...customers(name.min())"} {
		if _, err := plan(target, false); err == nil || err.Code != codeAggregates || err.Status != 400 {
			t.Errorf("%s while disabled: %v", target, err)
		}
	}

	// No other value selected: no GROUP BY.
	if s := sqlOf("/orders?select=amount.sum(),count()"); !strings.Contains(s, `pg_catalog.sum("public"."orders"."amount") AS "sum", pg_catalog.count(*) AS "count" FROM`) ||
		strings.Contains(s, "GROUP BY") {
		t.Errorf("plain aggregates: %s", s)
	}
	// Grouped by the other selected values, by position.
	if s := sqlOf("/orders?select=status,total:amount.sum(),customer_id"); !strings.Contains(s, "GROUP BY 1, 3 LIMIT") {
		t.Errorf("grouping: %s", s)
	}
	// Casts before and after.
	if s := sqlOf("/orders?select=amount::int.sum(),amount.avg()::int"); !strings.Contains(s, `pg_catalog.sum(CAST("public"."orders"."amount" AS int)) AS "sum"`) ||
		!strings.Contains(s, `CAST(pg_catalog.avg("public"."orders"."amount") AS int) AS "avg"`) {
		t.Errorf("casts: %s", s)
	}
	// A JSON path, cast, then aggregated.
	if s := sqlOf("/orders?select=data->>n::numeric.sum()"); !strings.Contains(s, `pg_catalog.sum(CAST("public"."orders"."data"->>$1 AS numeric)) AS "sum"`) {
		t.Errorf("json path: %s", s)
	}
	// Grouped by an embed, as jsonb.
	if s := sqlOf("/orders?select=amount.sum(),customers(name)"); !strings.Contains(s, `"pgrst_a1"."pgrst_j"::jsonb AS "customers"`) || !strings.Contains(s, "GROUP BY 2") {
		t.Errorf("grouped by an embed: %s", s)
	}
	// Inside an embed: grouped there, not at the root.
	p, err := plan("/customers?select=name,orders(status,amount.sum())", true)
	if err != nil || p.root.grouped || !p.root.children[0].grouped {
		t.Fatalf("aggregate inside an embed: %v", err)
	}
	if s := readSQL(p).text(); !strings.Contains(s, `"pgrst_1"."customer_id" = "public"."customers"."id" GROUP BY 1`) {
		t.Errorf("embed SQL: %s", s)
	}
	// A to-one spread's aggregates are hoisted to its parent.
	p, err = plan("/orders?select=status,...customers(name.max())", true)
	if err != nil || !p.root.grouped || p.root.children[0].grouped || p.root.children[0].sels[0].hoistAs == "" {
		t.Fatalf("hoisting: %v %+v", err, p)
	}
	if s := readSQL(p).text(); !strings.Contains(s, `pg_catalog.max("pgrst_a1"."pgrst_h2") AS "max"`) || !strings.Contains(s, "GROUP BY 1") {
		t.Errorf("hoisted SQL: %s", s)
	}
	// Errors: an unknown column, a to-many spread's aggregates.
	if _, err := plan("/orders?select=nope.sum()", true); err == nil || err.Code != "42703" {
		t.Errorf("unknown column: %v", err)
	}
	if _, err := plan("/customers?select=...orders(amount.sum())", true); err == nil || err.Code != "PGRST127" {
		t.Errorf("aggregate in a to-many spread: %v", err)
	}
	if _, err := plan("/orders?select=amount.median()", true); err == nil || err.Code != "PGRST100" {
		t.Errorf("unknown aggregate: %v", err)
	}
}

// TestAggregates: through the server.
func TestAggregates(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.AggregatesEnabled = true }, filmsSQL)
	e.do("GET", "/orders?select=amount.sum(),count()", e.anon, "").expect(t, "totals", 200, `[{"sum":143.50,"count":5}]`)
	e.do("GET", "/orders?select=status,total:amount.sum(),n:id.count()&order=status", e.anon, "").expect(t, "grouped", 200,
		`[{"status":"open","total":105.25,"n":2},{"status":"paid","total":38.25,"n":3}]`)
	e.do("GET", "/orders?select=amount.avg()::int,amount::int.max()&status=eq.paid", e.anon, "").expect(t, "casts and a filter", 200,
		`[{"avg":13,"max":20}]`)
	r := e.do("GET", "/orders?select=amount.sum(),customers(country)", e.anon, "")
	got := map[string]float64{}
	for _, x := range r.json(t).([]any) {
		m := x.(map[string]any)
		got[m["customers"].(map[string]any)["country"].(string)] = m["sum"].(float64)
	}
	if len(got) != 2 || got["FR"] != 30.5 || got["US"] != 113 {
		t.Errorf("grouped by an embed: %s", r.body)
	}
	e.do("GET", "/customers?select=name,orders(status,amount.sum())&id=eq.2&orders.order=status", e.anon, "").expect(t, "inside an embed", 200,
		`[{"name":"Globex","orders":[{"status":"open","sum":5.25},{"status":"paid","sum":7.75}]}]`)
	e.do("GET", "/orders?select=status,...customers(first:name.min(),n:count())&order=status", e.anon, "").expect(t, "hoisted from a to-one spread", 200,
		`[{"status":"open","first":"Globex","n":2},{"status":"paid","first":"Acme","n":3}]`)
	e.do("GET", "/rpc/books_by_author?author=1&select=pages.sum()", e.anon, "").expect(t, "on a function's rows", 200, `[{"sum":469}]`)
	e.do("GET", "/orders?select=amount.sum()", e.anon, "", "Accept", "application/vnd.pgrst.object+json").expect(t, "singular", 200, `{"sum":143.50}`)

	off := newEnv(t, filmsSQL)
	m := off.do("GET", "/orders?select=amount.sum()", off.anon, "").expectErr(t, "disabled", 400, codeAggregates)
	if m["message"] != "Use of aggregate functions is not allowed" {
		t.Errorf("message: %v", m["message"])
	}
}

// TestAggregatesInWrites: a write's representation may aggregate what
// it wrote.
func TestAggregatesInWrites(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.AggregatesEnabled = true }, filmsSQL)
	e.do("POST", "/orders?select=amount.sum(),count()", e.svc, `[{"id":10,"customer_id":1,"amount":1.25,"status":"new"},{"id":11,"customer_id":2,"amount":2,"status":"new"}]`,
		"Prefer", "return=representation").expect(t, "insert", 201, `[{"sum":3.25,"count":2}]`)
	e.do("PATCH", "/orders?status=eq.new&select=status,n:count()", e.svc, `{"status":"paid"}`,
		"Prefer", "return=representation").expect(t, "update, grouped", 200, `[{"status":"paid","n":2}]`)
	e.do("DELETE", "/orders?id=in.(10,11)&select=count()", e.svc, "", "Prefer", "return=representation").expect(t, "delete", 200, `[{"count":2}]`)
	off := newEnv(t, filmsSQL)
	off.do("POST", "/orders?select=amount.sum()", off.svc, `{"id":12,"customer_id":1,"amount":1,"status":"new"}`,
		"Prefer", "return=representation").expectErr(t, "disabled", 400, codeAggregates)
}
