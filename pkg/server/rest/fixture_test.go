package rest

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// schemaFixture builds a schema cache in Go, for plan tests that need no
// database: what loadSchema would read from the catalog, without it.
type schemaFixture struct{ sc *Schema }

func newSchemaFixture() *schemaFixture {
	return &schemaFixture{sc: &Schema{Tables: map[[2]string]*Table{}, Rels: map[[2]string][]*Relationship{}, Functions: map[[2]string][]*Function{}}}
}

// table adds public.name with primary key pk and columns given as
// "name type" or "name type default expr".
func (f *schemaFixture) table(name string, pk []string, cols ...string) *Table {
	t := &Table{Schema: "public", Name: name, Insertable: true, Updatable: true, Deletable: true, PK: pk, colIndex: map[string]*Column{}}
	for i, spec := range cols {
		def := ""
		if j := strings.Index(spec, " default "); j >= 0 {
			spec, def = spec[:j], spec[j+len(" default "):]
		}
		n, typ, _ := strings.Cut(spec, " ")
		base := typ
		if j := strings.IndexByte(base, '('); j >= 0 {
			base = base[:j]
		}
		c := &Column{Name: n, Type: typ, BaseType: base, Nullable: true, Default: def, Position: i + 1}
		t.Columns = append(t.Columns, c)
		t.colIndex[n] = c
	}
	f.sc.Tables[[2]string{"public", name}] = t
	return t
}

// view adds a view, as table does.
func (f *schemaFixture) view(name string, pk []string, cols ...string) *Table {
	t := f.table(name, pk, cols...)
	t.IsView = true
	return t
}

// fk adds a many-to-one foreign key from.fromCol → to.toCol, seen from both
// sides as loadSchema adds it.
func (f *schemaFixture) fk(constraint, from, fromCol, to, toCol string) {
	o, t := f.sc.Table("public", from), f.sc.Table("public", to)
	self := o == t
	f.sc.addRel(&Relationship{Table: o, Foreign: t, Constraint: constraint, Columns: [][2]string{{fromCol, toCol}}, Card: ManyToOne, IsSelf: self, ForeignView: t.IsView})
	f.sc.addRel(&Relationship{Table: t, Foreign: o, Constraint: constraint, Columns: [][2]string{{toCol, fromCol}}, Card: OneToMany, IsSelf: self, ForeignView: o.IsView})
}

// function adds fn in public.
func (f *schemaFixture) function(fn *Function) *Function {
	fn.Schema = "public"
	k := [2]string{"public", fn.Name}
	f.sc.Functions[k] = append(f.sc.Functions[k], fn)
	return fn
}

// libraryFixture is a Go copy of the shape of testdata/library.sql that
// the plan tests need, plus a table without a primary key (logs), a
// composite key (shelf_books), overloads and a function taking a single
// unnamed jsonb parameter.
func libraryFixture() *Schema {
	f := newSchemaFixture()
	f.table("authors", []string{"id"}, "id bigint", "name text", "user_id uuid")
	books := f.table("books", []string{"id"}, "id bigint", "author_id bigint", "title text", "isbn text",
		"pages integer", "genres text[] default '{}'::text[]", "available boolean default true")
	f.fk("books_author_id_fkey", "books", "author_id", "authors", "id")
	f.table("categories", []string{"id"}, "id integer", "name text", "parent_id integer")
	f.view("book_summaries", []string{"id"}, "id bigint", "book_title text", "pages integer")
	f.table("logs", nil, "at timestamptz default now()", "msg text")
	f.table("shelf_books", []string{"shelf", "book_id"}, "shelf text", "book_id bigint", "position integer")

	f.function(&Function{Name: "add", Volatility: 'i', ReturnType: "integer",
		Params: []FuncParam{{Name: "a", Type: "integer"}, {Name: "b", Type: "integer"}}})
	f.function(&Function{Name: "books_by_author", Volatility: 's', ReturnsSet: true, ReturnType: "books", Composite: true, RetTable: books,
		Params: []FuncParam{{Name: "author", Type: "bigint"}}})
	f.function(&Function{Name: "touch", Volatility: 'v', ReturnType: "void", Void: true,
		Params: []FuncParam{{Name: "author", Type: "bigint"}}})
	f.function(&Function{Name: "echo_json", Volatility: 'i', ReturnType: "jsonb",
		Params: []FuncParam{{Type: "jsonb"}}})
	f.function(&Function{Name: "sum_all", Volatility: 'i', ReturnType: "integer",
		Params: []FuncParam{{Name: "nums", Type: "integer[]", Variadic: true}}})
	// Overloads: by names (search) and ambiguous (pick).
	f.function(&Function{Name: "search", Volatility: 's', ReturnsSet: true, ReturnType: "text",
		Params: []FuncParam{{Name: "q", Type: "text"}}})
	f.function(&Function{Name: "search", Volatility: 's', ReturnsSet: true, ReturnType: "text",
		Params: []FuncParam{{Name: "q", Type: "text"}, {Name: "lim", Type: "integer"}}})
	f.function(&Function{Name: "pick", Volatility: 's', ReturnType: "text", Params: []FuncParam{{Name: "a", Type: "integer"}}})
	f.function(&Function{Name: "pick", Volatility: 's', ReturnType: "text", Params: []FuncParam{{Name: "a", Type: "text"}}})
	return f.sc
}

// parseTestRequest parses a request as the server does (schema, path,
// query string, Prefer, Accept, body) against sc; headers are name, value
// pairs.
func parseTestRequest(sc *Schema, method, target, body string, headers ...string) (*apiRequest, *apiError) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	s := &Server{cfg: Config{Schemas: []string{"public"}, MaxBodyBytes: 1 << 20}}
	snap := &snapshot{Schema: sc, timezones: zoneMap{"UTC": true}}
	req, err := s.parseRequest(r, snap, strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/"))
	if err != nil {
		return nil, err
	}
	return &req, nil
}

// planTest parses a request against sc, as parseTestRequest does, and
// builds its plan with build (planRead, planMutate or planCall).
func planTest[P any](build func(*apiRequest, *Schema, planOpts) (P, *apiError), opts planOpts,
	sc *Schema, method, target, body string, headers ...string) (*P, *apiError) {
	req, err := parseTestRequest(sc, method, target, body, headers...)
	if err != nil {
		return nil, err
	}
	p, err := build(req, sc, opts)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// planCase is one row of a plan-rule table: a request, and either the
// error it must give (status and code) or a check of the plan it gives.
type planCase[P any] struct {
	name, method, target, body string
	headers                    []string
	status                     int // 0: a plan
	code                       string
	check                      func(t *testing.T, p *P)
}

// runPlanCases plans each case's request against sc with build and opts,
// as a subtest named after the case.
func runPlanCases[P any](t *testing.T, sc *Schema, build func(*apiRequest, *Schema, planOpts) (P, *apiError), opts planOpts, cases []planCase[P]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := planTest(build, opts, sc, c.method, c.target, c.body, c.headers...)
			wantErr(t, c.method+" "+c.target, err, c.status, c.code)
			if err == nil && c.check != nil {
				c.check(t, p)
			}
		})
	}
}

// sqlArgs are a statement's parameters as text.
func sqlArgs(s *sqlBuf) []string {
	var args []string
	for _, a := range s.args {
		args = append(args, string(a))
	}
	return args
}

// wantErr checks an error's status and code ("" status 0: no error).
func wantErr(t *testing.T, what string, got *apiError, status int, code string) {
	t.Helper()
	switch {
	case got == nil && status == 0:
	case got == nil:
		t.Errorf("%s: no error, want %d %s", what, status, code)
	case status == 0:
		t.Errorf("%s: %d %s %q, want no error", what, got.Status, got.Code, got.Message)
	case got.Status != status || got.Code != code:
		t.Errorf("%s: %d %s %q, want %d %s", what, got.Status, got.Code, got.Message, status, code)
	}
}
