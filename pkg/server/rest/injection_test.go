package rest

import (
	"net/url"
	"testing"
)

// TestInjection sends SQL through every place a request reaches the
// generated statement. Identifiers are checked against the schema cache
// (or quoted), casts are restricted by the parser, values travel as
// parameters: each attempt is rejected or inert, and the data survives.
func TestInjection(t *testing.T) {
	e := newEnv(t)
	evil := "'; drop table public.books; --"
	qe := url.QueryEscape
	rejected := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"column name", "GET", "/books?select=" + qe(`id,"title\" from books; drop table books; --"`), "", 400, "42703"},
		{"malformed quoted column name", "GET", "/books?select=" + qe(`id,"title"" from books; --"`), "", 400, "PGRST100"},
		{"column in filter", "GET", "/books?" + qe(`id;delete from books`) + "=eq.1", "", 400, "PGRST100"},
		{"quoted column in filter", "GET", "/books?" + qe(`"id\" = 1 or 1=1 --"`) + "=eq.1", "", 400, "42703"},
		{"cast", "GET", "/books?select=" + qe("id::text);drop table books;--"), "", 400, "PGRST100"},
		{"table", "GET", "/" + qe(`books"; drop table books; --`), "", 404, "PGRST205"},
		{"order", "GET", "/books?order=" + qe("id;drop table books"), "", 400, "PGRST100"},
		{"fts config", "GET", "/books?search=fts(" + qe("english');drop table books;--") + ").x", "", 400, "PGRST100"},
		{"embed name", "GET", "/books?select=" + qe(`id,"authors\" x; drop"(name)`), "", 400, "PGRST200"},
		{"json body key", "POST", "/categories", `{"id":50,"name; drop table books; --":"x"}`, 400, "PGRST204"},
		{"on_conflict", "POST", "/categories?on_conflict=" + qe(`id) do nothing; drop table books; --`), `{"id":1,"name":"x"}`, 400, "PGRST100"},
		{"function name", "POST", "/rpc/" + qe(`add"(1,2); drop table books; --`), `{}`, 404, "PGRST202"},
		{"function argument name", "POST", "/rpc/add", `{"a":1,"b); drop table books; --":2}`, 404, "PGRST202"},
	}
	for _, c := range rejected {
		e.do(c.method, c.path, e.svc, c.body).expectErr(t, c.name, c.status, c.code)
	}
	inert := []struct {
		name, method, path, body, want string
	}{
		{"value in eq", "GET", "/books?select=id&title=eq." + qe(evil), "", `[]`},
		{"value in like", "GET", "/books?select=id&title=like." + qe("*' or 1=1 --"), "", `[]`},
		{"value in in()", "GET", "/books?select=id&isbn=in." + qe(`("x'); drop table books; --",978-0)`), "", `[{"id":1}]`},
		{"JSON path key", "GET", "/books?select=id,v:data->>" + qe(`"lang'); drop table books; --"`) + "&id=eq.1", "", `[{"id":1,"v":null}]`},
		{"value in or()", "GET", "/books?select=id&or=" + qe(`(title.eq."x') or true --",id.eq.2)`), "", `[{"id":2}]`},
		{"body value", "POST", "/categories?select=name", `{"id":51,"name":"` + "x'); drop table books; --" + `"}`, `[{"name":"x'); drop table books; --"}]`},
		{"rpc argument value", "GET", "/rpc/book_titles?min_pages=" + qe("1000"), "", `[]`},
		{"header value", "GET", "/books?select=id&id=eq.3", "", `[{"id":3}]`},
	}
	for _, c := range inert {
		r := e.do(c.method, c.path, e.svc, c.body, "Prefer", "return=representation", "X-Evil", evil)
		want := 200
		if c.method == "POST" {
			want = 201
		}
		r.expect(t, c.name, want, c.want)
	}
	e.do("GET", "/rpc/add?a="+qe("1); drop table books; --")+"&b=1", e.svc, "").expectErr(t, "rpc argument is a value", 400, "22P02")
	if n := e.count("select count(*) from public.books"); n != 5 {
		t.Fatalf("books has %d rows after the injection attempts", n)
	}
}
