package query

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary query strings to the parser (the seed corpus
// is in testdata/fuzz/FuzzParse). It must never panic, and it must fail
// only with its own error types.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"select=*", "select=id,name,rel!fk!inner(a,b(c))", "id=eq.1&or=(a.eq.1,and(b.gt.2,c.is.null))",
		"order=a.desc.nullslast,rel(b)", "limit=10&offset=5&rel.limit=1", "data->a->>b=eq.x", "id=in.(1,\"2,3\")",
		"columns=a,b&on_conflict=a", "select=a:b::text,c->d", "not.and=(a.fts(english).x,b.cs.{1,2})",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, rpc bool) {
		p, err := Parse(raw, rpc)
		if err != nil {
			var pe *Error
			var re *RangeError
			if !errors.As(err, &pe) && !errors.As(err, &re) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		for _, r := range p.Ranges {
			if r.Limit < -1 || r.Offset < 0 {
				t.Fatalf("bad range %+v", r)
			}
		}
		checkSelect(t, p.Select, 0)
		for _, f := range p.Filters {
			if f.Expr.Op == "" {
				t.Fatalf("filter without operator: %+v", f)
			}
		}
	})
}

func checkSelect(t *testing.T, items []SelectItem, depth int) {
	if depth > maxDepth+1 {
		t.Fatalf("select nested beyond the limit")
	}
	for _, it := range items {
		// Casts reach SQL text unquoted: they must be letters, digits, '_', '$' and spaces only.
		for _, c := range []string{it.Cast, it.AggregateCast} {
			for _, r := range c {
				if !isIdentRune(r) {
					t.Fatalf("cast %q holds %q", c, r)
				}
			}
		}
		if it.Embed != nil {
			checkSelect(t, it.Embed.Select, depth+1)
		}
	}
}

// FuzzSelect checks select parsing alone, and that a successful parse
// round-trips names without losing characters that matter for quoting.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{"*", "a,b", `"x""y":z`, "a->b->>0", "r(*)", "...r(a)", "a::int", "alias:rel!hint(x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseSelect(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("unexpected error type %T", err)
			}
			if !utf8.ValidString(pe.Message) && utf8.ValidString(s) {
				t.Fatalf("message is not UTF-8")
			}
			return
		}
		checkSelect(t, items, 0)
		if strings.Count(s, "(") < countEmbeds(items) {
			t.Fatalf("more embeds than parentheses in %q", s)
		}
	})
}

func countEmbeds(items []SelectItem) int {
	n := 0
	for _, it := range items {
		if it.Embed != nil {
			n += 1 + countEmbeds(it.Embed.Select)
		}
	}
	return n
}
