package rest

import (
	_ "embed"
	"testing"
)

//go:embed testdata/films.sql
var filmsSQL string

// TestManyToMany embeds through junction tables detected from their
// foreign keys, in both directions, with a composite key, !inner,
// embedded filters and top-level null filtering, as PostgREST does.
func TestManyToMany(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/films?select=title,actors(first_name)&order=id", e.anon, "").expect(t, "films with actors", 200, `[
		{"title":"Alien","actors":[{"first_name":"Sigourney"}]},
		{"title":"Blade Runner","actors":[{"first_name":"Harrison"},{"first_name":"Rutger"}]},
		{"title":"Heat","actors":[{"first_name":"Al"}]},
		{"title":"Unseen","actors":[]}]`)
	e.do("GET", "/actors?select=last_name,films(title)&id=in.(2,5)&order=id", e.anon, "").expect(t, "the reverse direction", 200, `[
		{"last_name":"Ford","films":[{"title":"Blade Runner"}]},
		{"last_name":"Cast","films":[]}]`)
	e.do("GET", "/films?select=title,directors(last_name)&order=id", e.anon, "").expect(t, "composite key", 200, `[
		{"title":"Alien","directors":[{"last_name":"Scott"}]},
		{"title":"Blade Runner","directors":[{"last_name":"Scott"}]},
		{"title":"Heat","directors":[{"last_name":"Mann"}]},
		{"title":"Unseen","directors":[]}]`)
	e.do("GET", "/directors?select=last_name,films(id)&order=last_name", e.anon, "").expect(t, "composite key, reverse", 200, `[
		{"last_name":"Mann","films":[{"id":3}]},
		{"last_name":"Scott","films":[{"id":1},{"id":2}]}]`)
	e.do("GET", "/films?select=id,actors!inner(id)&actors.last_name=eq.Hauer", e.anon, "").expect(t, "!inner with an embedded filter", 200,
		`[{"id":2,"actors":[{"id":3}]}]`)
	e.do("GET", "/films?select=id,actors(id)&actors=not.is.null&order=id", e.anon, "").expect(t, "top-level filtering", 200,
		`[{"id":1,"actors":[{"id":1}]},{"id":2,"actors":[{"id":2},{"id":3}]},{"id":3,"actors":[{"id":4}]}]`)
	e.do("GET", "/films?select=id,actors()&actors=is.null", e.anon, "").expect(t, "films without actors", 200, `[{"id":4}]`)
	e.do("GET", "/films?select=id,cast:actors!roles(last_name)&actors.order=last_name.desc&id=eq.2", e.anon, "").expect(t, "junction hint, alias, order", 200,
		`[{"id":2,"cast":[{"last_name":"Hauer"},{"last_name":"Ford"}]}]`)
	e.do("GET", "/films?select=id,roles(character,actors(last_name))&id=eq.2&roles.order=character", e.anon, "").expect(t, "through the junction itself", 200,
		`[{"id":2,"roles":[{"character":"Batty","actors":{"last_name":"Hauer"}},{"character":"Deckard","actors":{"last_name":"Ford"}}]}]`)
	r := e.do("GET", "/films?select=id,actors(id)&actors=not.is.null", e.anon, "", "Prefer", "count=exact")
	if got := r.header.Get("Content-Range"); got != "0-2/3" {
		t.Errorf("count with top-level filtering: Content-Range %q", got)
	}

	m := e.do("GET", "/teams?select=players(name)", e.anon, "").expectErr(t, "two junctions", 300, codeAmbiguousRel)
	if m["hint"] != "Try changing 'players' to one of the following: 'players!team_members', 'players!team_tryouts'. Find the desired relationship in the 'details' key." {
		t.Errorf("hint: %v", m["hint"])
	}
	want := `[{"cardinality":"many-to-many","embedding":"teams with players","relationship":"team_members using team_members_team_id_fkey(team_id) and team_members_player_id_fkey(player_id)"},
		{"cardinality":"many-to-many","embedding":"teams with players","relationship":"team_tryouts using team_tryouts_team_id_fkey(team_id) and team_tryouts_player_id_fkey(player_id)"}]`
	e.do("GET", "/teams?select=players(name)", e.anon, "").expect(t, "", 300, `{"code":"PGRST201","details":`+want+`,
		"hint":"Try changing 'players' to one of the following: 'players!team_members', 'players!team_tryouts'. Find the desired relationship in the 'details' key.",
		"message":"Could not embed because more than one relationship was found for 'teams' and 'players'"}`)
	e.do("GET", "/teams?select=name,players!team_tryouts(name)", e.anon, "").expect(t, "junction hint", 200, `[{"name":"Reds","players":[{"name":"Bob"}]}]`)
	e.do("GET", "/players?select=name,teams!team_members(name)&order=id", e.anon, "").expect(t, "junction hint, reverse", 200,
		`[{"name":"Ann","teams":[{"name":"Reds"}]},{"name":"Bob","teams":[]}]`)
}

// TestSelfReferenceHints: a self-reference hinted by its foreign key's
// name embeds the one-to-many side; by a column, either side.
func TestSelfReferenceHints(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/cities?select=name,cities!cities_sister_fk(name)&id=eq.1", e.anon, "").expect(t, "named constraint", 200,
		`[{"name":"Paris","cities":[{"name":"Rome"},{"name":"Lyon"}]}]`)
	e.do("GET", "/emp?select=name,emp!emp_boss_id_fkey(name)&id=eq.1", e.anon, "").expect(t, "default-named constraint", 200,
		`[{"name":"Boss","emp":[{"name":"Ann"},{"name":"Bob"}]}]`)
	e.do("GET", "/emp?select=name,reports:emp!boss_id(name)&id=eq.2", e.anon, "").expect(t, "column hint", 200,
		`[{"name":"Ann","reports":[{"name":"Cid"}]}]`)
	e.do("GET", "/emp?select=name,boss_id(name)&id=eq.4", e.anon, "").expect(t, "many-to-one by column", 200,
		`[{"name":"Cid","boss_id":{"name":"Ann"}}]`)
	e.do("GET", "/emp?select=name,emp!nope(name)", e.anon, "").expectErr(t, "unknown hint", 400, codeNoRel)
}

// TestSpreadToMany: a spread one-to-many or many-to-many embed turns each
// selected column into an array, the arrays correlated (PostgREST 13+).
func TestSpreadToMany(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/countries?select=name,...cities(names:name,ids:id)&order=id&cities.order=id", e.anon, "").expect(t, "one-to-many", 200, `[
		{"name":"France","names":["Paris","Lyon"],"ids":[1,3]},
		{"name":"Italy","names":["Rome"],"ids":[2]},
		{"name":"Nowhere","names":[],"ids":[]}]`)
	e.do("GET", "/films?select=title,...actors(last_name)&id=eq.2&actors.order=last_name", e.anon, "").expect(t, "many-to-many", 200,
		`[{"title":"Blade Runner","last_name":["Ford","Hauer"]}]`)
	e.do("GET", "/countries?select=id,...cities!inner(name)&cities.name=eq.Rome", e.anon, "").expect(t, "!inner", 200,
		`[{"id":2,"name":["Rome"]}]`)
	e.do("GET", "/countries?select=id,...cities(name)&cities=is.null", e.anon, "").expect(t, "null filter", 200,
		`[{"id":3,"name":[]}]`)
}
