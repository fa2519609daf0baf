package rest

import (
	"strings"
	"testing"
)

// fkCols adds a (possibly composite) many-to-one foreign key, seen from
// both sides, as loadSchema adds it.
func (f *schemaFixture) fkCols(constraint, from string, fromCols []string, to string, toCols []string) {
	o, t := f.sc.Table("public", from), f.sc.Table("public", to)
	var pairs, rpairs [][2]string
	for i := range fromCols {
		pairs = append(pairs, [2]string{fromCols[i], toCols[i]})
		rpairs = append(rpairs, [2]string{toCols[i], fromCols[i]})
	}
	f.sc.addRel(&Relationship{Table: o, Foreign: t, Constraint: constraint, Columns: pairs, Card: ManyToOne, IsSelf: o == t})
	f.sc.addRel(&Relationship{Table: t, Foreign: o, Constraint: constraint, Columns: rpairs, Card: OneToMany, IsSelf: o == t})
}

// junctionFixture: films and actors through roles; films and a
// composite-keyed directors through film_directors; teams and players
// through two junctions; a log table whose foreign keys are not in its
// key (no junction).
func junctionFixture() *Schema {
	f := newSchemaFixture()
	f.table("films", []string{"id"}, "id integer", "title text")
	f.table("actors", []string{"id"}, "id integer", "name text")
	f.table("roles", []string{"film_id", "actor_id"}, "film_id integer", "actor_id integer", "character text")
	f.fk("roles_film_id_fkey", "roles", "film_id", "films", "id")
	f.fk("roles_actor_id_fkey", "roles", "actor_id", "actors", "id")
	f.table("directors", []string{"first", "last"}, "first text", "last text")
	f.table("film_directors", []string{"film_id", "first", "last"}, "film_id integer", "first text", "last text")
	f.fk("fd_film_fkey", "film_directors", "film_id", "films", "id")
	f.fkCols("fd_director_fkey", "film_directors", []string{"first", "last"}, "directors", []string{"first", "last"})
	f.table("teams", []string{"id"}, "id integer")
	f.table("players", []string{"id"}, "id integer")
	for _, j := range []string{"members", "tryouts"} {
		f.table(j, []string{"team_id", "player_id"}, "team_id integer", "player_id integer")
		f.fk(j+"_team_fkey", j, "team_id", "teams", "id")
		f.fk(j+"_player_fkey", j, "player_id", "players", "id")
	}
	f.table("watch_log", []string{"id"}, "id integer", "film_id integer", "actor_id integer")
	f.fk("watch_log_film_fkey", "watch_log", "film_id", "films", "id")
	f.fk("watch_log_actor_fkey", "watch_log", "actor_id", "actors", "id")
	f.sc.addJunctions()
	return f.sc
}

// TestJunctionDetection: which tables are junctions, and what a
// many-to-many embed resolves to, without a database.
func TestJunctionDetection(t *testing.T) {
	sc := junctionFixture()
	pl := &planner{sc: sc, schema: "public"}
	rel := func(from, to, hint string) (*Relationship, *apiError) {
		return pl.findRel(sc.Table("public", from), to, hint)
	}
	r, err := rel("films", "actors", "")
	if err != nil || r.Card != ManyToMany || r.Junction.Table.Name != "roles" {
		t.Fatalf("films → actors: %+v %v", r, err)
	}
	if got := relDescription(r); got != "roles using roles_film_id_fkey(film_id) and roles_actor_id_fkey(actor_id)" {
		t.Errorf("description: %s", got)
	}
	if r, err = rel("actors", "films", ""); err != nil || r.Junction.Source[0] != [2]string{"id", "actor_id"} || r.Junction.Target[0] != [2]string{"id", "film_id"} {
		t.Fatalf("actors → films: %+v %v", r, err)
	}
	r, err = rel("films", "directors", "")
	if err != nil || r.Card != ManyToMany || len(r.Junction.Target) != 2 || r.Junction.Target[1] != [2]string{"last", "last"} {
		t.Fatalf("composite key: %+v %v", r, err)
	}
	if r, err = rel("directors", "films", "film_directors"); err != nil || r.Junction.Constraint1 != "fd_director_fkey" {
		t.Fatalf("composite key, reverse, junction hint: %+v %v", r, err)
	}
	// watch_log's foreign keys are not part of its primary key.
	for _, x := range sc.Rels[[2]string{"public", "films"}] {
		if x.Junction != nil && x.Junction.Table.Name == "watch_log" {
			t.Errorf("watch_log taken for a junction")
		}
	}
	_, err = rel("teams", "players", "")
	if err == nil || err.Status != 300 || err.Code != codeAmbiguousRel {
		t.Fatalf("two junctions: %v", err)
	}
	if err.Hint == nil || !strings.Contains(*err.Hint, "'players!members', 'players!tryouts'") {
		t.Errorf("hint lists both junctions: %v", err.Hint)
	}
	if r, err = rel("teams", "players", "tryouts"); err != nil || r.Junction.Table.Name != "tryouts" {
		t.Errorf("junction hint: %+v %v", r, err)
	}
	if _, err = rel("teams", "players", "members_team_fkey"); err == nil || err.Code != codeNoRel {
		t.Errorf("a junction's foreign key is no hint for the many-to-many: %v", err)
	}

	// The embed is to-many and rendered through the junction.
	p, aerr := planTest(planRead, planOpts{maxRows: 1000}, sc, "GET", "/films?select=title,actors(name)", "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	if c := p.root.children[0]; c.toOne || c.rel.Card != ManyToMany {
		t.Errorf("many-to-many embed is to-many: %+v", c)
	}
	sql := readSQL(p).text()
	if !strings.Contains(sql, `INNER JOIN "public"."roles" AS "pgrst_1_j" ON "pgrst_1_j"."actor_id" = "pgrst_1"."id"`) ||
		!strings.Contains(sql, `WHERE "pgrst_1_j"."film_id" = "public"."films"."id"`) {
		t.Errorf("SQL: %s", sql)
	}
}

// TestSelfReferenceByConstraint: the foreign key's name of a
// self-reference picks the one-to-many side.
func TestSelfReferenceByConstraint(t *testing.T) {
	f := newSchemaFixture()
	f.table("emp", []string{"id"}, "id integer", "boss_id integer")
	f.fk("emp_boss_id_fkey", "emp", "boss_id", "emp", "id")
	pl := &planner{sc: f.sc, schema: "public"}
	r, err := pl.findRel(f.sc.Table("public", "emp"), "emp", "emp_boss_id_fkey")
	if err != nil || r.Card != OneToMany {
		t.Fatalf("by constraint: %+v %v", r, err)
	}
	if r, err = pl.findRel(f.sc.Table("public", "emp"), "boss_id", ""); err != nil || r.Card != ManyToOne {
		t.Fatalf("by column: %+v %v", r, err)
	}
}

// TestComputedRelationshipPlan: a computed relationship is found by its
// function's name only, overrides a foreign key's relationship of that
// name, and renders as a call of the parent's row.
func TestComputedRelationshipPlan(t *testing.T) {
	sc := junctionFixture()
	films, actors := sc.Table("public", "films"), sc.Table("public", "actors")
	fn := &Function{Schema: "public", Name: "actors", ReturnsSet: true, RetTable: actors}
	top := &Function{Schema: "public", Name: "top_billed", RetTable: actors}
	sc.addRel(&Relationship{Table: films, Foreign: actors, Card: OneToMany, Function: fn})
	sc.addRel(&Relationship{Table: films, Foreign: actors, Card: ManyToOne, Function: top})
	pl := &planner{sc: sc, schema: "public"}
	if r, err := pl.findRel(films, "actors", ""); err != nil || r.Function != fn {
		t.Fatalf("override: %+v %v", r, err)
	}
	if r, err := pl.findRel(films, "top_billed", ""); err != nil || r.Function != top {
		t.Fatalf("by name: %+v %v", r, err)
	}
	p, aerr := planTest(planRead, planOpts{maxRows: 10}, sc, "GET", "/films?select=id,top_billed(name)", "")
	if aerr != nil {
		t.Fatal(aerr)
	}
	if !p.root.children[0].toOne {
		t.Errorf("a function returning one row is to-one")
	}
	if s := readSQL(p).text(); !strings.Contains(s, `FROM "public"."top_billed"("public"."films".*) AS "pgrst_1" WHERE TRUE`) {
		t.Errorf("SQL: %s", s)
	}
}
