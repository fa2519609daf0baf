package rest

import (
	"testing"
)

// TestReadPlan: ranges, db-max-rows, counts and singular, from the request
// alone.
func TestReadPlan(t *testing.T) {
	sc := libraryFixture()
	read := func(target string, headers ...string) *readPlan {
		t.Helper()
		p, err := planTest(planRead, planOpts{maxRows: 1000}, sc, "GET", target, "", headers...)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return p
	}
	if p := read("/books"); p.root.limit != 1000 || p.root.offset != 0 || p.count != "" || p.checks.singular || p.body != bodyArray {
		t.Errorf("plain read: %+v", p)
	}
	if p := read("/books?limit=10&offset=5", "Range", "7-100"); p.root.offset != 7 || p.root.limit != 8 {
		t.Errorf("limit/offset and Range intersected: offset %d limit %d", p.root.offset, p.root.limit)
	}
	if p := read("/books", "Prefer", "count=estimated"); !p.exactCount() || !p.plannedCount() {
		t.Errorf("estimated counts both ways")
	}
	if p := read("/books", "Accept", "application/vnd.pgrst.object+json;nulls=stripped"); !p.checks.singular || !p.stripNulls || p.body != bodySingle {
		t.Errorf("singular: %+v", p)
	}

	// count=estimated: the exact count unless it exceeds db-max-rows.
	p := read("/books", "Prefer", "count=estimated")
	small, big, planned := int64(10), int64(5000), int64(4800)
	if got := p.total(&result{total: &small, planRows: &planned}); got != &small {
		t.Errorf("estimated under db-max-rows: %v", *got)
	}
	if got := p.total(&result{total: &big, planRows: &planned}); got != &planned {
		t.Errorf("estimated over db-max-rows: %v", *got)
	}

	req, _ := parseTestRequest(sc, "GET", "/books?select=nope", "")
	if _, err := planRead(req, sc, planOpts{maxRows: 1000}); err == nil || err.Code != "42703" {
		t.Errorf("unknown column: %v", err)
	}
	if _, err := parseTestRequest(sc, "GET", "/nope", ""); err == nil || err.Code != codeTableNotFound {
		t.Errorf("unknown table: %v", err)
	}
	// The relation is looked up before the query string is parsed.
	if _, err := parseTestRequest(sc, "GET", "/nope?select=(((", ""); err == nil || err.Code != codeTableNotFound {
		t.Errorf("unknown table with a bad query: %v", err)
	}
}

// TestPreferenceApplied: what each plan reports of the same preferences.
func TestPreferenceApplied(t *testing.T) {
	sc := libraryFixture()
	const all = "return=representation, count=exact, resolution=merge-duplicates, missing=default, tx=rollback, handling=strict, max-affected=5, timezone=UTC"
	const common = "count=exact, tx=rollback, handling=strict, timezone=UTC"
	cases := []struct {
		method, target, body string
		want                 string
	}{
		{"GET", "/books", "", common},
		{"POST", "/books", `{"title":"x"}`, "resolution=merge-duplicates, missing=default, return=representation, " + common},
		{"PUT", "/categories?id=eq.1", `{"id":1,"name":"x"}`, "return=representation, " + common},
		{"PATCH", "/books?id=eq.1", `{"title":"x"}`, "missing=default, return=representation, " + common + ", max-affected=5"},
		{"DELETE", "/books?id=eq.1", "", "return=representation, " + common + ", max-affected=5"},
		{"POST", "/rpc/books_by_author", `{"author":1}`, common + ", max-affected=5"},
		{"GET", "/rpc/add?a=1&b=2", "", common + ", max-affected=5"},
	}
	for _, c := range cases {
		req, err := parseTestRequest(sc, c.method, c.target, c.body, "Prefer", all)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.target, err)
		}
		var applied prefs
		switch {
		case req.target == targetRoutine:
			p, err := planCall(req, sc, planOpts{maxRows: 1000})
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.target, err)
			}
			applied = p.applied
		case req.readMethod():
			p, err := planRead(req, sc, planOpts{maxRows: 1000})
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.target, err)
			}
			applied = p.applied
		default:
			p, err := planMutate(req, sc, planOpts{})
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.target, err)
			}
			applied = p.applied
		}
		if got := applied.header(); got != c.want {
			t.Errorf("%s %s: Preference-Applied\n got %q\nwant %q", c.method, c.target, got, c.want)
		}
	}
	// The first of each kind wins, across headers; an unknown time zone is
	// not applied.
	req, err := parseTestRequest(sc, "GET", "/books", "", "Prefer", "count=planned", "Prefer", "count=exact, timezone=Mars/Base")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := planRead(req, sc, planOpts{maxRows: 1000})
	if got := p.applied.header(); got != "count=planned" {
		t.Errorf("first wins: %q", got)
	}
}
