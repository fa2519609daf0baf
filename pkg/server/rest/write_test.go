package rest

import (
	"context"
	"strings"
	"testing"
)

func (e *env) count(sql string) int {
	e.t.Helper()
	var n int
	if err := e.db.Admin(e.t).QueryRow(context.Background(), sql).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestInsert covers single and bulk inserts, return modes, columns=,
// missing=default, Location and Preference-Applied.
func TestInsert(t *testing.T) {
	e := newEnv(t)
	ursula := userJWT(uidUrsula)
	rep := "return=representation"

	r := e.do("POST", "/books?select=id,title,author_id", ursula, `{"id":10,"author_id":1,"title":"Tehanu"}`, "Prefer", rep)
	r.expect(t, "single insert", 201, `[{"id":10,"title":"Tehanu","author_id":1}]`)
	if r.header.Get("Preference-Applied") != rep || r.header.Get("Content-Range") != "*/*" {
		t.Errorf("insert headers: %v", r.header)
	}

	r = e.do("POST", "/books", ursula, `{"id":11,"author_id":1,"title":"The Dispossessed"}`)
	if r.status != 201 || len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Errorf("minimal insert: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}

	r = e.do("POST", "/books?select=id,title,author:authors!books_author_id_fkey(name)&order=id", ursula,
		`[{"id":12,"author_id":1,"title":"Lavinia"},{"id":13,"author_id":1,"title":"Always Coming Home"}]`, "Prefer", rep+",count=exact")
	r.expect(t, "bulk insert with embed", 201,
		`[{"id":12,"title":"Lavinia","author":{"name":"Ursula K. Le Guin"}},{"id":13,"title":"Always Coming Home","author":{"name":"Ursula K. Le Guin"}}]`)
	if r.header.Get("Content-Range") != "*/2" || r.header.Get("Preference-Applied") != "return=representation, count=exact" {
		t.Errorf("bulk headers: %q %q", r.header.Get("Content-Range"), r.header.Get("Preference-Applied"))
	}

	r = e.do("POST", "/books", ursula, `{"id":14,"author_id":1,"title":"Voices"}`, "Prefer", "return=headers-only")
	if r.status != 201 || r.header.Get("Location") != "/books?id=eq.14" {
		t.Errorf("headers-only: %d %q", r.status, r.header.Get("Location"))
	}

	// columns= picks the keys; missing=default fills the others with their defaults.
	r = e.do("POST", "/books?columns=id,author_id,title,genres&select=id,genres,available", ursula,
		`[{"id":15,"author_id":1,"title":"Gifts","extra":"ignored"},{"id":16,"author_id":1,"title":"Powers","genres":["ya"]}]`,
		"Prefer", rep+", missing=default")
	r.expect(t, "columns and missing=default", 201,
		`[{"id":15,"genres":[],"available":true},{"id":16,"genres":["ya"],"available":true}]`)
	if r.header.Get("Preference-Applied") != "missing=default, return=representation" {
		t.Errorf("missing=default Preference-Applied %q", r.header.Get("Preference-Applied"))
	}
	r = e.do("POST", "/books?columns=id,author_id,title,available&select=id,available", ursula,
		`{"id":17,"author_id":1,"title":"Rocannon"}`, "Prefer", rep)
	r.expect(t, "columns without missing=default sets null", 201, `[{"id":17,"available":null}]`)

	// Defaults of an empty object.
	e.do("POST", "/categories?select=id", e.svc, `{"id":7,"name":"poetry"}`, "Prefer", rep).expect(t, "service role insert", 201, `[{"id":7}]`)

	// Singular insert.
	r = e.do("POST", "/categories?select=name", e.svc, `{"id":8,"name":"drama"}`, "Prefer", rep, "Accept", "application/vnd.pgrst.object+json")
	r.expect(t, "singular insert", 201, `{"name":"drama"}`)
	e.do("POST", "/categories", e.svc, `[{"id":9,"name":"a"},{"id":10,"name":"b"}]`, "Prefer", rep, "Accept", "application/vnd.pgrst.object+json").
		expectErr(t, "singular bulk insert", 406, "PGRST116")
	if n := e.count("select count(*) from categories where id in (9,10)"); n != 0 {
		t.Errorf("singular failure must roll back, found %d rows", n)
	}

	// tx=rollback.
	r = e.do("POST", "/categories", e.svc, `{"id":20,"name":"rolled back"}`, "Prefer", "tx=rollback")
	if r.status != 201 || r.header.Get("Preference-Applied") != "tx=rollback" {
		t.Errorf("tx=rollback: %d %q", r.status, r.header.Get("Preference-Applied"))
	}
	if n := e.count("select count(*) from categories where id = 20"); n != 0 {
		t.Errorf("tx=rollback persisted the row")
	}

	// Errors.
	errs := []struct {
		name, token, body, path string
		status                  int
		code                    string
	}{
		{"RLS refusal on write", userJWT(uidTerry), `{"author_id":1,"title":"Not mine"}`, "/books", 403, "42501"},
		{"anon cannot write", e.anon, `{"author_id":1,"title":"x"}`, "/books", 401, "42501"},
		{"unique violation", ursula, `{"author_id":1,"title":"dup","isbn":"978-0"}`, "/books", 409, "23505"},
		{"foreign key violation", e.svc, `{"author_id":99,"title":"orphan"}`, "/books", 409, "23503"},
		{"not null violation", e.svc, `{"author_id":1}`, "/books", 400, "23502"},
		{"check violation", e.svc, `{"book_id":1,"rating":9,"reviewer_id":"` + uidReader + `"}`, "/reviews", 400, "23514"},
		{"malformed JSON", ursula, `{"title":`, "/books", 400, "PGRST102"},
		{"JSON that is not an object", ursula, `42`, "/books", 400, "PGRST102"},
		{"keys of a bulk insert differ", ursula, `[{"title":"a"},{"name":"b"}]`, "/books", 400, "PGRST102"},
		{"unknown column in body", ursula, `{"title":"x","nope":1}`, "/books", 400, "PGRST204"},
		{"unknown column in columns=", ursula, `{"title":"x"}`, "/books?columns=title,nope", 400, "PGRST204"},
		{"bad value for the type", e.svc, `{"id":"abc","name":"x"}`, "/categories", 400, "22P02"},
	}
	for _, c := range errs {
		e.do("POST", c.path, c.token, c.body).expectErr(t, c.name, c.status, c.code)
	}
	m := e.do("POST", "/books", ursula, `{"title":"x","nope":1}`).expectErr(t, "PGRST204 message", 400, "PGRST204")
	if m["message"] != "Could not find the 'nope' column of 'books' in the schema cache" {
		t.Errorf("PGRST204 message %v", m["message"])
	}

	// Oversized body.
	small := startEnv(t, e.db, func(c *Config) { c.MaxBodyBytes = 64 })
	small.do("POST", "/categories", small.svc, `{"id":30,"name":"`+strings.Repeat("x", 100)+`"}`).expectErr(t, "oversized body", 413, "PGRST102")
}

// TestUpsert covers merge and ignore duplicates with on_conflict, and PUT.
func TestUpsert(t *testing.T) {
	e := newEnv(t)
	rep := "return=representation"
	r := e.do("POST", "/categories?select=id,name&order=id", e.svc, `[{"id":2,"name":"Fantasy"},{"id":3,"name":"SF"}]`,
		"Prefer", "resolution=merge-duplicates,"+rep)
	r.expect(t, "merge, all updated", 200, `[{"id":2,"name":"Fantasy"},{"id":3,"name":"SF"}]`)
	if r.header.Get("Preference-Applied") != "resolution=merge-duplicates, return=representation" {
		t.Errorf("merge Preference-Applied %q", r.header.Get("Preference-Applied"))
	}
	r = e.do("POST", "/categories?select=id,name", e.svc, `[{"id":3,"name":"Science fiction"},{"id":4,"name":"horror"}]`,
		"Prefer", "resolution=merge-duplicates", "Prefer", rep)
	if r.status != 201 {
		t.Errorf("merge with an insert: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/categories?select=id,name", e.svc, `[{"id":4,"name":"HORROR"},{"id":5,"name":"crime"}]`,
		"Prefer", "resolution=ignore-duplicates,"+rep)
	r.expect(t, "ignore duplicates", 201, `[{"id":5,"name":"crime"}]`)
	if n := e.count("select count(*) from categories where name = 'horror'"); n != 1 {
		t.Errorf("ignore-duplicates changed a row")
	}
	// on_conflict on a unique column.
	ursula := userJWT(uidUrsula)
	r = e.do("POST", "/books?on_conflict=isbn&select=id,title", ursula, `{"author_id":1,"isbn":"978-0","title":"Earthsea"}`,
		"Prefer", "resolution=merge-duplicates,"+rep)
	r.expect(t, "on_conflict merge", 200, `[{"id":1,"title":"Earthsea"}]`)
	e.do("POST", "/books?on_conflict=nope", ursula, `{"title":"x"}`, "Prefer", "resolution=merge-duplicates").
		expectErr(t, "unknown on_conflict column", 400, "42703")

	// PUT: insert, then replace.
	r = e.do("PUT", "/categories?id=eq.40&select=id,name", e.svc, `{"id":40,"name":"essays"}`, "Prefer", rep)
	r.expect(t, "PUT inserts", 201, `[{"id":40,"name":"essays"}]`)
	r = e.do("PUT", "/categories?id=eq.40&select=id,name", e.svc, `{"id":40,"name":"Essays"}`, "Prefer", rep)
	r.expect(t, "PUT replaces", 200, `[{"id":40,"name":"Essays"}]`)
	r = e.do("PUT", "/categories?id=eq.40", e.svc, `{"id":40,"name":"essays!"}`)
	if r.status != 204 {
		t.Errorf("PUT minimal: %d %s", r.status, r.body)
	}
	e.do("PUT", "/categories?id=eq.41", e.svc, `{"id":42,"name":"x"}`).expectErr(t, "PUT key mismatch", 400, "PGRST115")
	e.do("PUT", "/categories?name=eq.x", e.svc, `{"id":42,"name":"x"}`).expectErr(t, "PUT without the key filter", 405, "PGRST105")
	e.do("PUT", "/categories?id=gt.1", e.svc, `{"id":42,"name":"x"}`).expectErr(t, "PUT with a non-eq filter", 405, "PGRST105")
	e.do("PUT", "/categories?id=eq.42&limit=1", e.svc, `{"id":42,"name":"x"}`).expectErr(t, "PUT with limit", 400, "PGRST114")
	e.do("PUT", "/categories?id=eq.42", e.svc, `[{"id":42,"name":"x"},{"id":42,"name":"y"}]`).expectErr(t, "PUT with many rows", 400, "PGRST115")
}

// TestUpdateDelete covers PATCH and DELETE with filters, return modes,
// counts, singular, max-affected and RLS.
func TestUpdateDelete(t *testing.T) {
	e := newEnv(t)
	ursula := userJWT(uidUrsula)
	terry := userJWT(uidTerry)
	rep := "return=representation"

	r := e.do("PATCH", "/books?author_id=eq.1&select=id,available&order=id", ursula, `{"available":false}`, "Prefer", rep+",count=exact")
	r.expect(t, "patch own books", 200, `[{"id":1,"available":false},{"id":2,"available":false}]`)
	if r.header.Get("Content-Range") != "0-1/2" {
		t.Errorf("patch Content-Range %q", r.header.Get("Content-Range"))
	}
	r = e.do("PATCH", "/books?id=eq.3", ursula, `{"title":"hijacked"}`)
	if r.status != 204 || r.header.Get("Content-Range") != "*/*" {
		t.Errorf("patch someone else's book: %d %q", r.status, r.header.Get("Content-Range"))
	}
	if n := e.count("select count(*) from books where title = 'hijacked'"); n != 0 {
		t.Errorf("RLS let a user update another's book")
	}
	e.do("PATCH", "/books?id=eq.1", ursula, `{"author_id":2}`).expectErr(t, "RLS with check on update", 403, "42501")
	e.do("PATCH", "/books?id=eq.1", ursula, `{"nope":1}`).expectErr(t, "unknown column on update", 400, "PGRST204")
	e.do("PATCH", "/books?id=eq.1", ursula, `{}`, "Prefer", rep).expect(t, "empty patch", 200, `[]`)
	r = e.do("PATCH", "/books?id=eq.1&select=title,author:authors!books_author_id_fkey(name)", ursula, `{"title":"Earthsea"}`,
		"Prefer", rep, "Accept", "application/vnd.pgrst.object+json")
	r.expect(t, "singular patch with embed", 200, `{"title":"Earthsea","author":{"name":"Ursula K. Le Guin"}}`)
	e.do("PATCH", "/books?author_id=eq.1", ursula, `{"pages":1}`, "Accept", "application/vnd.pgrst.object+json").
		expectErr(t, "singular patch of 2 rows", 406, "PGRST116")
	if n := e.count("select count(*) from books where pages = 1"); n != 0 {
		t.Errorf("failed singular patch was not rolled back")
	}
	m := e.do("PATCH", "/books?author_id=eq.1", ursula, `{"pages":1}`, "Prefer", "handling=strict, max-affected=1").
		expectErr(t, "max-affected", 400, "PGRST124")
	if m["details"] != "The query affects 2 rows" {
		t.Errorf("max-affected details %v", m["details"])
	}
	r = e.do("PATCH", "/books?id=eq.2", ursula, `{"pages":300}`, "Prefer", "handling=strict, max-affected=1")
	if r.status != 204 || r.header.Get("Preference-Applied") != "handling=strict, max-affected=1" {
		t.Errorf("max-affected ok: %d %q", r.status, r.header.Get("Preference-Applied"))
	}
	e.do("PATCH", "/books?id=eq.2", ursula, `{"pages":300}`, "Prefer", "handling=strict, bogus").
		expectErr(t, "strict handling", 400, "PGRST122")

	// DELETE.
	r = e.do("DELETE", "/reviews?id=eq.3&select=id,rating", ursula, "", "Prefer", rep)
	r.expect(t, "delete own review", 200, `[{"id":3,"rating":5}]`)
	r = e.do("DELETE", "/reviews?id=eq.1", ursula, "")
	if r.status != 204 {
		t.Errorf("delete another's review: %d", r.status)
	}
	if n := e.count("select count(*) from reviews where id = 1"); n != 1 {
		t.Errorf("RLS let a user delete another's review")
	}
	r = e.do("DELETE", "/reviews?id=eq.1", terry, "", "Prefer", "count=exact")
	if r.status != 204 || r.header.Get("Content-Range") != "*/1" {
		t.Errorf("delete with count: %d %q", r.status, r.header.Get("Content-Range"))
	}
	r = e.do("DELETE", "/categories?or=(id.eq.2,id.eq.3)", e.svc, "", "Prefer", "tx=rollback,count=exact")
	if r.status != 204 || r.header.Get("Content-Range") != "*/2" {
		t.Errorf("delete rollback: %d %q", r.status, r.header.Get("Content-Range"))
	}
	if n := e.count("select count(*) from categories"); n != 3 {
		t.Errorf("tx=rollback delete persisted: %d categories", n)
	}
	e.do("DELETE", "/categories?id=eq.1", e.svc, "").expectErr(t, "fk violation on delete", 409, "23503")

	// Limited update and delete: the limit picks rows by the order.
	e.do("PATCH", "/books?order=id.desc&limit=2&select=id,available", e.svc, `{"available":true}`, "Prefer", rep).
		expect(t, "limited update", 200, `[{"id":5,"available":true},{"id":4,"available":true}]`)
	e.do("DELETE", "/categories?order=id&limit=1&offset=2&select=id", e.svc, "", "Prefer", rep).
		expect(t, "limited delete", 200, `[{"id":3}]`)
	if n := e.count("select count(*) from categories"); n != 2 {
		t.Errorf("limited delete left %d categories, want 2", n)
	}
	e.do("PATCH", "/book_summaries?limit=1", e.svc, `{"pages":1}`).expectErr(t, "limited update of a view", 400, "PGRST127")
}
