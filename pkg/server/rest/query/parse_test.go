package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSelect(t *testing.T) {
	cases := []struct {
		in   string
		want []SelectItem
	}{
		{"*", []SelectItem{{Field: Field{Name: "*"}}}},
		{"id,name", []SelectItem{{Field: Field{Name: "id"}}, {Field: Field{Name: "name"}}}},
		{" id , name ", []SelectItem{{Field: Field{Name: "id"}}, {Field: Field{Name: "name"}}}},
		{"alias:col::text", []SelectItem{{Field: Field{Name: "col"}, Alias: "alias", Cast: "text"}}},
		{"col::double precision", []SelectItem{{Field: Field{Name: "col"}, Cast: "double precision"}}},
		{"data->a->>b", []SelectItem{{Field: Field{Name: "data", JSONPath: []JSONOp{{Key: "a"}, {Key: "b", Text: true}}}}}},
		{"data->0->>-1", []SelectItem{{Field: Field{Name: "data", JSONPath: []JSONOp{{Key: "0", Index: true}, {Key: "-1", Index: true, Text: true}}}}}},
		{`"with space":"odd,name"`, []SelectItem{{Field: Field{Name: "odd,name"}, Alias: "with space"}}},
		{"first-name", []SelectItem{{Field: Field{Name: "first-name"}}}},
		{"count()", []SelectItem{{Field: Field{Name: "*"}, Aggregate: "count"}}},
		{"pages.sum()", []SelectItem{{Field: Field{Name: "pages"}, Aggregate: "sum"}}},
		{"rel(*)", []SelectItem{{Embed: &Embed{Name: "rel", Select: []SelectItem{{Field: Field{Name: "*"}}}}}}},
		{"a:rel!fk!inner(id,sub(x))", []SelectItem{{Embed: &Embed{Name: "rel", Alias: "a", Hint: "fk", Join: "inner",
			Select: []SelectItem{{Field: Field{Name: "id"}}, {Embed: &Embed{Name: "sub", Select: []SelectItem{{Field: Field{Name: "x"}}}}}}}}}},
		{"rel!left()", []SelectItem{{Embed: &Embed{Name: "rel", Join: "left", Select: []SelectItem{}}}}},
		{"...rel(a)", []SelectItem{{Embed: &Embed{Name: "rel", Spread: true, Select: []SelectItem{{Field: Field{Name: "a"}}}}}}},
		{"", []SelectItem{}},
	}
	for _, c := range cases {
		got, err := ParseSelect(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if c.want == nil {
			c.want = []SelectItem{}
		}
		if got == nil {
			got = []SelectItem{}
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", c.in, d)
		}
	}
	for _, bad := range []string{"id,,name", "id::", "rel(id", "a::text;drop", "id)", "col::text)--", "alias:", "x->", `"unterminated`} {
		if _, err := ParseSelect(bad); err == nil {
			t.Errorf("%q: expected a parse error", bad)
		} else {
			var pe *Error
			if !errors.As(err, &pe) || !strings.HasPrefix(pe.Message, `"failed to parse select parameter (`) {
				t.Errorf("%q: error %v is not a select parse error", bad, err)
			}
		}
	}
}

func TestParseOpExpr(t *testing.T) {
	cases := []struct {
		in   string
		want OpExpr
	}{
		{"eq.5", OpExpr{Op: "eq", Value: "5"}},
		{"eq.", OpExpr{Op: "eq", Value: ""}},
		{"eq.a.b,c", OpExpr{Op: "eq", Value: "a.b,c"}},
		{"not.gt.5", OpExpr{Not: true, Op: "gt", Value: "5"}},
		{"gte.5", OpExpr{Op: "gte", Value: "5"}},
		{"neq.x", OpExpr{Op: "neq", Value: "x"}},
		{"in.(1,2,3)", OpExpr{Op: "in", List: []string{"1", "2", "3"}}},
		{`in.("a,b","c\"d",e)`, OpExpr{Op: "in", List: []string{"a,b", `c"d`, "e"}}},
		{"in.()", OpExpr{Op: "in", List: []string{""}}},
		{"is.null", OpExpr{Op: "is", Value: "null"}},
		{"is.NOT_NULL", OpExpr{Op: "is", Value: "not_null"}},
		{"isdistinct.3", OpExpr{Op: "isdistinct", Value: "3"}},
		{"fts(english).cat & dog", OpExpr{Op: "fts", Lang: "english", Value: "cat & dog"}},
		{"wfts.cat", OpExpr{Op: "wfts", Value: "cat"}},
		{"like(any).{a*,b*}", OpExpr{Op: "like", Quant: "any", Value: "{a*,b*}"}},
		{"eq(all).{1,2}", OpExpr{Op: "eq", Quant: "all", Value: "{1,2}"}},
		{"imatch.^a", OpExpr{Op: "imatch", Value: "^a"}},
		{"adj.[1,2)", OpExpr{Op: "adj", Value: "[1,2)"}},
	}
	for _, c := range cases {
		got, err := ParseOpExpr(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", c.in, d)
		}
	}
	for _, bad := range []string{"", "5", "eqq.5", "eq", "is.maybe", "in.1,2", "in.(1,2", "not.", "fts(eng;lish).x"} {
		if _, err := ParseOpExpr(bad); err == nil {
			t.Errorf("%q: expected a parse error", bad)
		}
	}
}

func TestParseLogic(t *testing.T) {
	l, err := ParseLogic("not.or", "(a.eq.1,and(b.gt.2,c.in.(1,2)),d.like.\"x,y\")")
	if err != nil {
		t.Fatal(err)
	}
	want := LogicTree{Not: true, Or: true, Children: []LogicTree{
		{Filter: &Filter{Field: Field{Name: "a"}, Expr: OpExpr{Op: "eq", Value: "1"}}},
		{Children: []LogicTree{
			{Filter: &Filter{Field: Field{Name: "b"}, Expr: OpExpr{Op: "gt", Value: "2"}}},
			{Filter: &Filter{Field: Field{Name: "c"}, Expr: OpExpr{Op: "in", List: []string{"1", "2"}}}},
		}},
		{Filter: &Filter{Field: Field{Name: "d"}, Expr: OpExpr{Op: "like", Value: "x,y"}}},
	}}
	if d := cmp.Diff(want, l.Tree); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	l, err = ParseLogic("books.and", "(data->>a.eq.1,tags.cs.{a,b})")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(l.Path, []string{"books"}) || l.Tree.Children[1].Filter.Expr.Value != "{a,b}" ||
		l.Tree.Children[0].Filter.Field.JSONPath[0].Key != "a" {
		t.Errorf("embedded logic: %+v", l)
	}
	for _, bad := range [][2]string{{"or", "(a.eq.1"}, {"or", "a.eq.1"}, {"or", "()"}, {"and", "(a.xx.1)"}, {"or", "(a.eq.1))"}} {
		if _, err := ParseLogic(bad[0], bad[1]); err == nil {
			t.Errorf("%v: expected a parse error", bad)
		}
	}
}

func TestParseOrder(t *testing.T) {
	got, err := ParseOrder("a.desc.nullslast,b,rel(c).asc,data->x.nullsfirst")
	if err != nil {
		t.Fatal(err)
	}
	want := []OrderTerm{
		{Field: Field{Name: "a"}, Desc: true, HasDir: true, Nulls: "last"},
		{Field: Field{Name: "b"}},
		{Relation: "rel", Field: Field{Name: "c"}, HasDir: true},
		{Field: Field{Name: "data", JSONPath: []JSONOp{{Key: "x"}}}, Nulls: "first"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "a.sideways", "a.desc.nulls", "a,", "a.asc.desc"} {
		if _, err := ParseOrder(bad); err == nil {
			t.Errorf("%q: expected a parse error", bad)
		}
	}
}

func TestParse(t *testing.T) {
	p, err := Parse("select=id,rel(x)&id=gte.1&id=lt.10&rel.x=eq.a%20b&or=(a.eq.1,b.eq.2)&rel.or=(x.eq.1)&order=id.desc&rel.order=x&limit=5&offset=2&rel.limit=1&columns=a,b&on_conflict=a&title=eq.a+b&empty=", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Select) != 2 || len(p.Filters) != 4 || len(p.Logic) != 2 || len(p.Order) != 2 {
		t.Fatalf("parsed: %+v", p)
	}
	if p.Filters[2].Expr.Value != "a b" || !cmp.Equal(p.Filters[2].Path, []string{"rel"}) || p.Filters[3].Expr.Value != "a b" {
		t.Errorf("decoding: %+v", p.Filters)
	}
	if r := p.Root(); r.Limit != 5 || r.Offset != 2 {
		t.Errorf("root range %+v", r)
	}
	if !cmp.Equal(p.Columns, []string{"a", "b"}) || !cmp.Equal(p.OnConflict, []string{"a"}) {
		t.Errorf("columns/on_conflict: %v %v", p.Columns, p.OnConflict)
	}
	if !cmp.Equal(p.FilterFields, []string{"id", "id", "title"}) {
		t.Errorf("filter fields %v", p.FilterFields)
	}
	// RPC reads: values that are not operator expressions are arguments.
	p, err = Parse("a=1&b=eq.2&c=x.y", true)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(p.RPCArgs, []Param{{"a", "1"}, {"c", "x.y"}}) || len(p.Filters) != 1 {
		t.Errorf("rpc args %+v filters %+v", p.RPCArgs, p.Filters)
	}
	var re *RangeError
	if _, err := Parse("limit=-1", false); !errors.As(err, &re) {
		t.Errorf("negative limit: %v", err)
	}
	if p, err := Parse("limit=abc", false); err != nil || p.Root().Limit != -1 {
		t.Errorf("non-numeric limit is ignored: %v %+v", err, p)
	}
	var pe *Error
	if _, err := Parse("id=zz.1", false); !errors.As(err, &pe) || !strings.Contains(pe.Message, "failed to parse filter (zz.1)") {
		t.Errorf("bad filter error: %v", err)
	}
	if _, err := Parse("%zz=1", false); err == nil {
		t.Errorf("bad escape accepted")
	}
}
