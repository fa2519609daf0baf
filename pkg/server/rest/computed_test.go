package rest

import (
	"strings"
	"testing"
)

// TestComputedFieldPlan: a function of the row is accepted where a column
// is (select, filters, order) and a column of the same name shadows it,
// as PostgreSQL's attribute notation does.
func TestComputedFieldPlan(t *testing.T) {
	f := newSchemaFixture()
	people := f.table("people", []string{"id"}, "id integer", "first_name text", "name text")
	people.Computed = map[string]*Function{
		"full_name": {Schema: "public", Name: "full_name", ReturnType: "text"},
		"name":      {Schema: "public", Name: "name", ReturnType: "text"},
		"doc":       {Schema: "public", Name: "doc", ReturnType: "jsonb"},
	}
	sc := f.sc
	plan := func(target string) (*readPlan, *apiError) {
		return planTest(planRead, planOpts{maxRows: 10}, sc, "GET", target, "")
	}
	p, err := plan("/people?select=id,full_name,name,doc->>a&full_name=like.A*&order=full_name.desc")
	if err != nil {
		t.Fatal(err)
	}
	sels := p.root.sels
	if !sels[1].f.computed || sels[2].f.computed {
		t.Errorf("full_name is computed, name is the column: %+v", sels)
	}
	if sels[3].f.toJSON {
		t.Errorf("a jsonb computed field needs no to_jsonb: %+v", sels[3])
	}
	if len(p.root.where) != 1 || !p.root.where[0].leaf.f.computed || !p.root.order[0].f.computed {
		t.Errorf("filter and order on the computed field: %+v %+v", p.root.where, p.root.order)
	}
	sql := readSQL(p).text()
	if !strings.Contains(sql, `"public"."people"."full_name" like`) || !strings.Contains(sql, `ORDER BY "public"."people"."full_name" DESC`) {
		t.Errorf("SQL: %s", sql)
	}
	if _, err := plan("/people?select=nope"); err == nil || err.Code != "42703" {
		t.Errorf("unknown name: %v", err)
	}
	// select=* lists the columns only, as PostgREST.
	p, _ = plan("/people")
	var names []string
	for _, c := range p.root.spreadCols() {
		names = append(names, c.name)
	}
	if strings.Join(names, ",") != "id,first_name,name" {
		t.Errorf("star: %v", names)
	}
}

// TestComputedFields: through the server, against real functions.
func TestComputedFields(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/people?select=id,full_name,initials,name&order=id", e.anon, "").expect(t, "select", 200, `[
		{"id":1,"full_name":"Ada Lovelace","initials":"AL","name":"ada"},
		{"id":2,"full_name":"Alan Turing","initials":"AT","name":"alan"}]`)
	e.do("GET", "/people?select=id&full_name=eq.Alan%20Turing", e.anon, "").expect(t, "filter", 200, `[{"id":2}]`)
	e.do("GET", "/people?select=id&or=(full_name.like.*Love*,id.eq.0)", e.anon, "").expect(t, "logic tree", 200, `[{"id":1}]`)
	e.do("GET", "/people?select=id,fn:full_name&order=full_name.desc", e.anon, "").expect(t, "order and alias", 200,
		`[{"id":2,"fn":"Alan Turing"},{"id":1,"fn":"Ada Lovelace"}]`)
	e.do("GET", "/people?select=id&name=eq.computed", e.anon, "").expect(t, "the column shadows name(people)", 200, `[]`)
	e.do("GET", "/people", e.anon, "", "Range", "0-0").expect(t, "star lists columns only", 200,
		`[{"id":1,"first_name":"Ada","last_name":"Lovelace","name":"ada"}]`)
}

// TestComputedRelationships: functions of a row returning rows of a
// table embed by their name, to-one with ROWS 1, and override a detected
// relationship of the same name.
func TestComputedRelationships(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/actors?select=last_name,first_film(title)&id=in.(2,5)&order=id", e.anon, "").expect(t, "to-one", 200,
		`[{"last_name":"Ford","first_film":{"title":"Blade Runner"}},{"last_name":"Cast","first_film":null}]`)
	e.do("GET", "/films?select=id,same_year(id,title)&id=eq.1", e.anon, "").expect(t, "to-many", 200,
		`[{"id":1,"same_year":[{"id":2,"title":"Blade Runner"}]}]`)
	e.do("GET", "/films?select=id,near:same_year(id)&near.id=gt.100&id=eq.1", e.anon, "").expect(t, "alias and filter", 200,
		`[{"id":1,"near":[]}]`)
	e.do("GET", "/films?select=id,same_year!inner(id)&order=id", e.anon, "").expect(t, "!inner", 200,
		`[{"id":1,"same_year":[{"id":2}]},{"id":2,"same_year":[{"id":1}]}]`)
	e.do("GET", "/shelves?select=name,shelf_items(id)", e.anon, "").expect(t, "overrides the foreign key", 200,
		`[{"name":"top","shelf_items":[{"id":1}]}]`)
	e.do("GET", "/actors?select=id,first_film(title,actors(id))&id=eq.3", e.anon, "").expect(t, "nested embed", 200,
		`[{"id":3,"first_film":{"title":"Blade Runner","actors":[{"id":2},{"id":3}]}}]`)
	e.do("POST", "/films?select=id,same_year(id)", e.svc, `{"id":9,"title":"Near Alien","year":1980}`, "Prefer", "return=representation").
		expect(t, "in a write's representation", 201, `[{"id":9,"same_year":[{"id":1},{"id":2}]}]`)
}
