package rest

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ids extracts the "id" of each row of a JSON array response.
func ids(t testing.TB, r *resp) []int {
	t.Helper()
	arr, ok := r.json(t).([]any)
	if !ok {
		t.Fatalf("not an array: %s", r.body)
	}
	out := make([]int, 0, len(arr))
	for _, x := range arr {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("row is not an object: %s", r.body)
		}
		f, ok := m["id"].(float64)
		if !ok {
			t.Fatalf("row has no numeric id: %s", r.body)
		}
		out = append(out, int(f))
	}
	return out
}

// q escapes a query-string value the way clients do.
func q(v string) string { return url.QueryEscape(v) }

// TestFilters runs every filter operator of PostgREST's grammar against
// the fixture's books, as anon (books are readable by everyone).
func TestFilters(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		filter string
		want   []int
	}{
		{"id=eq.3", []int{3}},
		{"id=neq.3", []int{1, 2, 4, 5}},
		{"pages=gt.284", []int{2, 3}},
		{"pages=gte.284", []int{2, 3, 4}},
		{"pages=lt.264", []int{1}},
		{"pages=lte.264", []int{1, 5}},
		{"title=like." + q("*Gods*"), []int{4}},
		{"title=ilike." + q("*guards*"), []int{3}},
		{"title=match." + q("^The"), []int{2}},
		{"title=imatch." + q("^the"), []int{2}},
		{"id=in.(1,3,5)", []int{1, 3, 5}},
		{"isbn=in." + q(`("978-0","978-4")`), []int{1, 5}},
		{"id=in.()", []int{}},
		{"price=is.null", []int{4}},
		{"price=not.is.null", []int{1, 2, 3, 5}},
		{"price=is.not_null", []int{1, 2, 3, 5}},
		{"available=is.true", []int{1, 2, 5}},
		{"available=is.false", []int{3}},
		{"available=is.unknown", []int{4}},
		{"available=IS.NULL", nil}, // operator names are case-sensitive: parse error, checked below
		{"price=isdistinct.8", []int{1, 2, 4, 5}},
		{"search=fts.wizard", []int{1}},
		{"search=plfts(english)." + q("left hand"), []int{2}},
		{"search=phfts." + q("small gods"), []int{4}},
		{"search=wfts." + q("guards -earthsea"), []int{3}},
		{"title=fts(english).darkness", []int{2}},
		{"genres=cs." + q("{fantasy,humour}"), []int{3}},
		{"genres=cd." + q("{fantasy,humour}"), []int{1, 3, 4}},
		{"genres=ov." + q("{historical,humour}"), []int{3, 5}},
		{"period=sl." + q("[20,30)"), []int{1, 2, 3, 5}},
		{"period=sr." + q("[0,2)"), []int{2, 3, 5}},
		{"period=nxr." + q("[0,5)"), []int{1}},
		{"period=nxl." + q("[4,100)"), []int{3, 5}},
		{"period=adj." + q("[8,10)"), []int{2, 3}},
		{"data->>lang=eq.en", []int{1, 2, 3, 5}},
		{"data->stats->reads=gt.60", []int{1}},
		{"data->tags->>0=eq.magic", []int{1}},
		{"data=cs." + q(`{"lang":"en","stats":{"reads":50}}`), []int{2}},
		{"or=" + q("(pages.lt.200,pages.gt.400)"), []int{1, 3}},
		{"or=" + q("(and(pages.gt.250,pages.lt.285),title.eq.Kindred)"), []int{4, 5}},
		{"not.or=" + q("(id.eq.1,id.eq.2)"), []int{3, 4, 5}},
		{"and=" + q("(genres.cs.{fantasy},or(price.is.null,price.lt.9))"), []int{3, 4}},
		{"or=" + q(`(title.eq."Guards! Guards!",id.in.(1,2))`), []int{1, 2, 3}},
		{"id=not.in.(1,2)", []int{3, 4, 5}},
		{"pages=gt.200&pages=lt.290", []int{2, 4, 5}},
		{"id=eq(any)." + q("{1,2}"), []int{1, 2}},
		{"title=like(any)." + q("{*Gods*,*Kind*}"), []int{4, 5}},
		{"title=like(all)." + q("{*a*,*s*}"), []int{1, 2, 3, 4}},
		{"pages=not.gt.284", []int{1, 4, 5}},
	}
	for _, c := range cases {
		r := e.do("GET", "/books?select=id&order=id&"+c.filter, e.anon, "")
		if c.want == nil {
			r.expectErr(t, c.filter, 400, "PGRST100")
			continue
		}
		if r.status != 200 {
			t.Errorf("%s: status %d: %s", c.filter, r.status, r.body)
			continue
		}
		if got := ids(t, r); !cmp.Equal(got, c.want) {
			t.Errorf("%s: ids %v, want %v", c.filter, got, c.want)
		}
	}
}

// TestEmbedding covers many-to-one objects, one-to-many arrays, nesting,
// hints, !inner, filters/order/limit on embeds, related order and spreads.
func TestEmbedding(t *testing.T) {
	e := newEnv(t)
	user := userJWT(uidReader)
	cases := []struct {
		name, path, token string
		want              string
	}{
		{"many-to-one object via constraint hint", "/books?select=title,author:authors!books_author_id_fkey(name)&id=eq.3", e.anon,
			`[{"title":"Guards! Guards!","author":{"name":"Terry Pratchett"}}]`},
		{"hint by column, null when absent", "/books?select=id,editor:authors!editor_id(name)&id=in.(1,2)&order=id", e.anon,
			`[{"id":1,"editor":{"name":"Terry Pratchett"}},{"id":2,"editor":null}]`},
		{"embed by foreign key column name", "/books?select=id,author_id(name)&id=eq.5", e.anon,
			`[{"id":5,"author_id":{"name":"Octavia E. Butler"}}]`},
		{"one-to-many array with embedded order", "/authors?select=name,books!books_author_id_fkey(title)&id=eq.2&books.order=id.desc", e.anon,
			`[{"name":"Terry Pratchett","books":[{"title":"Small Gods"},{"title":"Guards! Guards!"}]}]`},
		{"inner join with embedded filter", "/authors?select=name,books!books_author_id_fkey!inner(title)&books.pages=gt.400", e.anon,
			`[{"name":"Terry Pratchett","books":[{"title":"Guards! Guards!"}]}]`},
		{"embedded filter keeps parents", "/authors?select=id,books!books_author_id_fkey(id)&books.pages=gt.400&order=id", e.anon,
			`[{"id":1,"books":[]},{"id":2,"books":[{"id":3}]},{"id":3,"books":[]}]`},
		{"null filter on an empty embed", "/authors?select=id,books!books_author_id_fkey()&books.pages=gt.400&books=not.is.null", e.anon,
			`[{"id":2}]`},
		{"is.null on embed", "/authors?select=id,books!books_author_id_fkey()&books.pages=gt.400&books=is.null&order=id", e.anon,
			`[{"id":1},{"id":3}]`},
		{"nested three levels", "/reviews?select=rating,books(title,authors!books_author_id_fkey(name))&order=id", user,
			`[{"rating":5,"books":{"title":"A Wizard of Earthsea","authors":{"name":"Ursula K. Le Guin"}}},
			  {"rating":4,"books":{"title":"A Wizard of Earthsea","authors":{"name":"Ursula K. Le Guin"}}},
			  {"rating":5,"books":{"title":"Guards! Guards!","authors":{"name":"Terry Pratchett"}}}]`},
		{"RLS applies inside embeds (anon sees no reviews)", "/books?select=id,reviews(rating)&id=eq.1", e.anon,
			`[{"id":1,"reviews":[]}]`},
		{"self reference both ways", "/categories?select=name,parent:parent_id(name),categories(name)&id=eq.2", e.anon,
			`[{"name":"fantasy","parent":{"name":"fiction"},"categories":[]}]`},
		{"self reference children", "/categories?select=name,children:categories(name)&id=eq.1&children.order=id", e.anon,
			`[{"name":"fiction","children":[{"name":"fantasy"},{"name":"scifi"}]}]`},
		{"embedded limit and offset", "/authors?select=id,books!books_author_id_fkey(id)&books.order=id&books.limit=1&books.offset=1&id=eq.1", e.anon,
			`[{"id":1,"books":[{"id":2}]}]`},
		{"embedded or", "/authors?select=id,books!books_author_id_fkey(id)&books.or=(id.eq.1,id.eq.4)&order=id", e.anon,
			`[{"id":1,"books":[{"id":1}]},{"id":2,"books":[{"id":4}]},{"id":3,"books":[]}]`},
		{"embedded order nulls first", "/authors?select=id,books!books_author_id_fkey(price)&id=eq.2&books.order=price.asc.nullsfirst", e.anon,
			`[{"id":2,"books":[{"price":null},{"price":8.00}]}]`},
		{"spread a to-one embed", "/books?select=title,...authors!books_author_id_fkey(author_name:name)&id=eq.5", e.anon,
			`[{"title":"Kindred","author_name":"Octavia E. Butler"}]`},
		{"aliases and casts", "/books?select=id,label:title,pages_text:pages::text&id=eq.1", e.anon,
			`[{"id":1,"label":"A Wizard of Earthsea","pages_text":"183"}]`},
		{"JSON paths in select", "/books?select=id,data->>lang,reads:data->stats->reads,data->tags->0&id=eq.1", e.anon,
			`[{"id":1,"lang":"en","reads":100,"tags":"magic"}]`},
		{"JSON path on a jsonb of another level", "/authors?select=name,meta->awards->>hugo&id=eq.1", e.anon,
			`[{"name":"Ursula K. Le Guin","hugo":"5"}]`},
		{"view embeds through the base table's key", "/book_summaries?select=book_title,authors(name)&id=eq.3", e.anon,
			`[{"book_title":"Guards! Guards!","authors":{"name":"Terry Pratchett"}}]`},
		{"embed a view from a table", "/authors?select=name,book_summaries(book_title)&id=eq.3", e.anon,
			`[{"name":"Octavia E. Butler","book_summaries":[{"book_title":"Kindred"}]}]`},
		{"star plus embed", "/categories?select=*,parent:parent_id(*)&id=eq.3", e.anon,
			`[{"id":3,"name":"scifi","parent_id":1,"parent":{"id":1,"name":"fiction","parent_id":null}}]`},
	}
	for _, c := range cases {
		r := e.do("GET", c.path, c.token, "")
		r.expect(t, c.name+" "+c.path, 200, c.want)
	}

	// Related order on a to-one embed.
	r := e.do("GET", "/books?select=id,author:authors!books_author_id_fkey(name)&order=author(name).asc,id.desc", e.anon, "")
	if got := ids(t, r); !cmp.Equal(got, []int{5, 4, 3, 2, 1}) {
		t.Errorf("related order: %v", got)
	}

	errs := []struct {
		name, path   string
		status       int
		code         string
		msgSubstring string
	}{
		{"ambiguous embed", "/books?select=title,authors(name)", 300, "PGRST201", "more than one relationship"},
		{"no relationship", "/books?select=title,categories(name)", 400, "PGRST200", "Could not find a relationship between 'books' and 'categories'"},
		{"related order on to-many", "/authors?select=id,books!books_author_id_fkey(id)&order=books(id)", 400, "PGRST118", ""},
		{"filter on embed not selected", "/authors?select=id&books.id=eq.1", 400, "PGRST108", ""},
		{"bad operator on embed", "/authors?select=id,books!books_author_id_fkey(id)&books=eq.1", 400, "PGRST120", ""},
		{"unknown column in embed", "/authors?select=id,books!books_author_id_fkey(nope)", 400, "42703", "column books.nope does not exist"},
		{"aggregates are disabled", "/books?select=pages.sum()", 400, "PGRST123", ""},
	}
	for _, c := range errs {
		m := e.do("GET", c.path, e.anon, "").expectErr(t, c.name, c.status, c.code)
		if c.msgSubstring != "" && !strings.Contains(fmt.Sprint(m["message"]), c.msgSubstring) {
			t.Errorf("%s: message %q lacks %q", c.name, m["message"], c.msgSubstring)
		}
	}
	amb := e.do("GET", "/books?select=title,authors(name)", e.anon, "").json(t).(map[string]any)
	if d, ok := amb["details"].([]any); !ok || len(d) != 2 {
		t.Errorf("ambiguous embed details should list 2 relationships: %v", amb["details"])
	}
}

// TestOrderRangeCount covers order with nulls placement, limit/offset, the
// Range header, Content-Range, counts, 206/416 and the max-rows cap.
func TestOrderRangeCount(t *testing.T) {
	e := newEnv(t)
	order := []struct {
		q    string
		want []int
	}{
		{"order=price.desc.nullslast", []int{2, 5, 1, 3, 4}},
		{"order=price.asc.nullsfirst", []int{4, 3, 1, 5, 2}},
		{"order=price.desc", []int{4, 2, 5, 1, 3}},
		{"order=price", []int{3, 1, 5, 2, 4}},
		{"order=available.desc,pages.asc", []int{4, 1, 5, 2, 3}},
		{"order=data->stats->reads.desc.nullslast,id", []int{1, 2, 3, 4, 5}},
	}
	for _, c := range order {
		r := e.do("GET", "/books?select=id&"+c.q, e.anon, "")
		if got := ids(t, r); !cmp.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}

	type rc struct {
		name    string
		path    string
		headers []string
		status  int
		ids     []int
		crange  string
	}
	ranges := []rc{
		{"limit/offset", "/books?select=id&order=id&limit=2&offset=1", nil, 200, []int{2, 3}, "1-2/*"},
		{"Range header", "/books?select=id&order=id", []string{"Range", "1-3"}, 200, []int{2, 3, 4}, "1-3/*"},
		{"Range header open end", "/books?select=id&order=id", []string{"Range", "3-"}, 200, []int{4, 5}, "3-4/*"},
		{"Range intersects limit", "/books?select=id&order=id&limit=2", []string{"Range", "1-3"}, 200, []int{2}, "1-1/*"},
		{"exact count, partial", "/books?select=id&order=id&limit=2", []string{"Prefer", "count=exact"}, 206, []int{1, 2}, "0-1/5"},
		{"exact count, whole", "/books?select=id&order=id", []string{"Prefer", "count=exact"}, 200, []int{1, 2, 3, 4, 5}, "0-4/5"},
		{"exact count with filter", "/books?select=id&order=id&pages=gt.280", []string{"Prefer", "count=exact"}, 200, []int{2, 3, 4}, "0-2/3"},
		{"estimated count on a small table is exact", "/books?select=id&order=id&limit=1", []string{"Prefer", "count=estimated"}, 206, []int{1}, "0-0/5"},
		{"empty result", "/books?select=id&id=eq.99", nil, 200, []int{}, "*/*"},
		{"empty result with count", "/books?select=id&id=eq.99", []string{"Prefer", "count=exact"}, 200, []int{}, "*/0"},
		{"inner join changes the count", "/authors?select=id,books!books_author_id_fkey!inner(id)&books.pages=gt.400", []string{"Prefer", "count=exact"}, 200, []int{2}, "0-0/1"},
		{"limit=0", "/books?select=id&limit=0", nil, 200, []int{}, "*/*"},
	}
	for _, c := range ranges {
		r := e.do("GET", c.path, e.anon, "", c.headers...)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if got := ids(t, r); !cmp.Equal(got, c.ids) {
			t.Errorf("%s: %v, want %v", c.name, got, c.ids)
		}
		if got := r.header.Get("Content-Range"); got != c.crange {
			t.Errorf("%s: Content-Range %q, want %q", c.name, got, c.crange)
		}
	}
	r := e.do("GET", "/books?select=id&offset=10", e.anon, "", "Prefer", "count=exact")
	m := r.expectErr(t, "offset past the end", 416, "PGRST103")
	if m["details"] != "An offset of 10 was requested, but there are only 5 rows." {
		t.Errorf("416 details: %v", m["details"])
	}
	if r.header.Get("Content-Range") != "*/5" {
		t.Errorf("416 Content-Range %q", r.header.Get("Content-Range"))
	}
	r = e.do("GET", "/books?select=id", e.anon, "", "Prefer", "count=planned")
	if !regexp.MustCompile(`^0-4/\d+$`).MatchString(r.header.Get("Content-Range")) {
		t.Errorf("planned count Content-Range %q", r.header.Get("Content-Range"))
	}
	if r.header.Get("Preference-Applied") != "count=planned" {
		t.Errorf("Preference-Applied %q", r.header.Get("Preference-Applied"))
	}
	e.do("GET", "/books?limit=-1", e.anon, "").expectErr(t, "negative limit", 416, "PGRST103")

	// The max-rows cap.
	capped := startEnv(t, e.db, func(c *Config) { c.MaxRows = 2 })
	r = capped.do("GET", "/books?select=id&order=id", capped.anon, "", "Prefer", "count=exact")
	r.expect(t, "max rows", 206, `[{"id":1},{"id":2}]`)
	if r.header.Get("Content-Range") != "0-1/5" {
		t.Errorf("max rows Content-Range %q", r.header.Get("Content-Range"))
	}
	capped.do("GET", "/books?select=id&order=id&limit=10", capped.anon, "").expect(t, "max rows beats limit", 200, `[{"id":1},{"id":2}]`)
}

// TestResponseShapes covers singular objects, HEAD, CSV, nulls=stripped,
// Accept negotiation, profiles and content headers.
func TestResponseShapes(t *testing.T) {
	e := newEnv(t)
	obj := "application/vnd.pgrst.object+json"
	r := e.do("GET", "/books?select=id,title&id=eq.1", e.anon, "", "Accept", obj)
	r.expect(t, "singular", 200, `{"id":1,"title":"A Wizard of Earthsea"}`)
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.pgrst.object+json; charset=utf-8" {
		t.Errorf("singular Content-Type %q", ct)
	}
	m := e.do("GET", "/books?select=id", e.anon, "", "Accept", obj).expectErr(t, "singular with many", 406, "PGRST116")
	if m["details"] != "The result contains 5 rows" || m["message"] != "Cannot coerce the result to a single JSON object" {
		t.Errorf("PGRST116 body: %v", m)
	}
	e.do("GET", "/books?select=id&id=eq.99", e.anon, "", "Accept", obj).expectErr(t, "singular with none", 406, "PGRST116")

	r = e.do("HEAD", "/books?select=id", e.anon, "", "Prefer", "count=exact")
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Range") != "0-4/5" {
		t.Errorf("HEAD: %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
	}
	r = e.do("GET", "/books?select=id,title&id=lt.3&order=id", e.anon, "", "Accept", "text/csv")
	if r.status != 200 || string(r.body) != "id,title\n1,\"A Wizard of Earthsea\"\n2,\"The Left Hand of Darkness\"" {
		t.Errorf("csv: %d %q", r.status, r.body)
	}
	e.do("GET", "/books?select=id,price&id=eq.4", e.anon, "", "Accept", "application/vnd.pgrst.array+json;nulls=stripped").
		expect(t, "nulls stripped", 200, `[{"id":4}]`)
	e.do("GET", "/books?select=id&id=eq.4", e.anon, "", "Accept", "text/html, application/json;q=0.5").
		expect(t, "q-values", 200, `[{"id":4}]`)
	e.do("GET", "/books", e.anon, "", "Accept", "text/html").expectErr(t, "unacceptable", 406, "PGRST107")
	r = e.do("GET", "/books?select=id&id=eq.1", e.anon, "", "Accept-Profile", "public")
	if r.header.Get("Content-Profile") != "public" {
		t.Errorf("Content-Profile %q", r.header.Get("Content-Profile"))
	}
	m = e.do("GET", "/books", e.anon, "", "Accept-Profile", "auth").expectErr(t, "unexposed schema", 406, "PGRST106")
	if m["hint"] != "Only the following schemas are exposed: public" {
		t.Errorf("PGRST106 hint %v", m["hint"])
	}
	r = e.do("GET", "/books?select=id&id=eq.1", e.anon, "")
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if r.header.Get("Content-Location") != "/books?id=eq.1&select=id" {
		t.Errorf("Content-Location %q", r.header.Get("Content-Location"))
	}
	r = e.do("OPTIONS", "/books", "", "")
	if r.status != 200 || r.header.Get("Allow") != "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE" {
		t.Errorf("OPTIONS: %d %q", r.status, r.header.Get("Allow"))
	}
	r = e.do("GET", "/", e.anon, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"/books"`) {
		t.Errorf("root: %d %s", r.status, r.body)
	}
}

// TestQueryErrors checks the errors found before reaching the database.
func TestQueryErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown table", "GET", "/nope", 404, "PGRST205"},
		{"unknown column in select", "GET", "/books?select=nope", 400, "42703"},
		{"unknown column in filter", "GET", "/books?nope=eq.1", 400, "42703"},
		{"unknown column in order", "GET", "/books?order=nope", 400, "42703"},
		{"malformed filter", "GET", "/books?id=eqq.1", 400, "PGRST100"},
		{"malformed select", "GET", "/books?select=id,,title", 400, "PGRST100"},
		{"malformed order", "GET", "/books?order=id.sideways", 400, "PGRST100"},
		{"malformed logic tree", "GET", "/books?or=(id.eq.1", 400, "PGRST100"},
		{"unknown function", "GET", "/rpc/nope", 404, "PGRST202"},
		{"nested path", "GET", "/books/1", 404, "PGRST125"},
		{"unsupported method", "TRACE", "/books", 405, "PGRST117"},
		{"PATCH on rpc", "PATCH", "/rpc/add", 405, "PGRST101"},
		{"permission denied as anon", "GET", "/secrets", 401, "42501"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, e.anon, "")
		r.expectErr(t, c.name, c.status, c.code)
	}
	m := e.do("GET", "/boks", e.anon, "").expectErr(t, "hint for a typo", 404, "PGRST205")
	if m["message"] != "Could not find the table 'public.boks' in the schema cache" || m["hint"] != "Perhaps you meant the table 'public.books'" {
		t.Errorf("PGRST205 body: %v", m)
	}
	r := e.do("GET", "/secrets", e.anon, "")
	if r.header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("42501 for anon should carry WWW-Authenticate: Bearer, got %q", r.header.Get("WWW-Authenticate"))
	}
	e.do("GET", "/secrets", userJWT(uidReader), "").expectErr(t, "permission denied as a user", 403, "42501")
	e.do("GET", "/secrets?select=value", e.svc, "").expect(t, "service role reads secrets", 200, `[{"value":"hidden"}]`)
}
