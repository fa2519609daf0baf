package rest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// callOpts are the options the call plan tests build with.
var callOpts = planOpts{maxRows: 1000}

// TestCallPlanRules: the overload a call picks, how it passes its
// arguments and what its result looks like, without a database.
func TestCallPlanRules(t *testing.T) {
	sc := libraryFixture()
	cases := []planCase[callPlan]{
		{name: "named arguments", method: "POST", target: "/rpc/add", body: `{"b":2,"a":1}`, check: func(t *testing.T, p *callPlan) {
			if p.mode != argsNamed || argNames(p) != "a,b" || !p.readOnly || p.body != bodyScalar || !p.scalar {
				t.Errorf("plan %+v", p)
			}
		}},
		{name: "overload chosen by names", method: "POST", target: "/rpc/search", body: `{"q":"x","lim":2}`, check: func(t *testing.T, p *callPlan) {
			if len(p.function.Params) != 2 || argNames(p) != "q,lim" || p.body != bodyScalarSet {
				t.Errorf("function %+v args %s", p.function.Params, argNames(p))
			}
		}},
		{name: "the other overload", method: "GET", target: "/rpc/search?q=x", check: func(t *testing.T, p *callPlan) {
			if len(p.function.Params) != 1 || p.mode != argsQuery {
				t.Errorf("function %+v", p.function.Params)
			}
		}},
		{name: "ambiguous overloads", method: "POST", target: "/rpc/pick", body: `{"a":1}`, status: 300, code: "PGRST203"},
		{name: "ambiguous overloads by GET", method: "GET", target: "/rpc/pick?a=1", status: 300, code: "PGRST203"},
		{name: "no overload fits", method: "POST", target: "/rpc/add", body: `{"a":1}`, status: 404, code: "PGRST202"},
		{name: "unknown function", method: "POST", target: "/rpc/nope", body: `{}`, status: 404, code: "PGRST202"},
		{name: "whole body to the unnamed jsonb parameter", method: "POST", target: "/rpc/echo_json", body: `[1, 2]`, check: func(t *testing.T, p *callPlan) {
			if p.mode != argsWholeBody || string(p.payload) != `[1, 2]` || len(p.args) != 0 {
				t.Errorf("mode %v payload %s", p.mode, p.payload)
			}
		}},
		{name: "an object to the unnamed jsonb parameter", method: "POST", target: "/rpc/echo_json", body: `{"a":1}`, check: func(t *testing.T, p *callPlan) {
			if p.mode != argsWholeBody {
				t.Errorf("mode %v", p.mode)
			}
		}},
		{name: "a body that is not an object needs the unnamed parameter", method: "POST", target: "/rpc/add", body: `[1]`, status: 404, code: "PGRST202"},
		{name: "invalid JSON", method: "POST", target: "/rpc/add", body: `{"a":`, status: 400, code: "PGRST102"},
		{name: "no whole body by GET", method: "GET", target: "/rpc/echo_json", status: 404, code: "PGRST202"},
		{name: "variadic by GET", method: "GET", target: "/rpc/sum_all?nums=1&nums=2&nums=3", check: func(t *testing.T, p *callPlan) {
			want := []callArg{{name: "nums", typ: "integer[]", variadic: true, values: []string{"1", "2", "3"}}}
			if d := cmp.Diff(want, p.args, cmp.AllowUnexported(callArg{})); d != "" || p.mode != argsQuery {
				t.Errorf("args (-want +got):\n%s", d)
			}
		}},
		{name: "PATCH on RPC", method: "PATCH", target: "/rpc/add", body: `{}`, status: 405, code: "PGRST101"},
		{name: "volatile by POST writes", method: "POST", target: "/rpc/touch", body: `{"author":1}`, check: func(t *testing.T, p *callPlan) {
			if p.readOnly || p.body != bodyNone {
				t.Errorf("readOnly %v body %v", p.readOnly, p.body)
			}
		}},
		{name: "volatile by GET is read-only", method: "GET", target: "/rpc/touch?author=1", check: func(t *testing.T, p *callPlan) {
			if !p.readOnly {
				t.Errorf("not read-only")
			}
		}},
		{name: "a table's rows with select, filters and db-max-rows", method: "GET", target: "/rpc/books_by_author?author=1&select=title&pages=gt.100",
			check: func(t *testing.T, p *callPlan) {
				if p.scalar || p.body != bodyArray || p.tree.limit != 1000 || len(p.tree.where) != 1 || len(p.tree.sels) != 1 {
					t.Errorf("plan %+v tree %+v", p, p.tree)
				}
			}},
		{name: "an unknown column of a table result", method: "GET", target: "/rpc/books_by_author?author=1&select=nope", status: 400, code: "42703"},
		{name: "max-affected on a set", method: "POST", target: "/rpc/books_by_author", body: `{"author":1}`,
			headers: []string{"Prefer", "handling=strict, max-affected=3"}, check: func(t *testing.T, p *callPlan) {
				if p.checks.maxAffected != 3 || p.checks.maxAffectedNeedsSet || p.applied.header() != "handling=strict, max-affected=3" {
					t.Errorf("checks %+v applied %q", p.checks, p.applied.header())
				}
			}},
		{name: "max-affected on a scalar", method: "POST", target: "/rpc/add", body: `{"a":1,"b":2}`,
			headers: []string{"Prefer", "handling=strict, max-affected=3"}, check: func(t *testing.T, p *callPlan) {
				if !p.checks.maxAffectedNeedsSet {
					t.Errorf("checks %+v", p.checks)
				}
			}},
		{name: "singular applies to sets only", method: "POST", target: "/rpc/add", body: `{"a":1,"b":2}`,
			headers: []string{"Accept", "application/vnd.pgrst.object+json"}, check: func(t *testing.T, p *callPlan) {
				if p.checks.singular || p.body != bodyScalar {
					t.Errorf("singular %v body %v", p.checks.singular, p.body)
				}
			}},
	}
	runPlanCases(t, sc, planCall, callOpts, cases)
}

func argNames(p *callPlan) string {
	var ns []string
	for _, a := range p.args {
		ns = append(ns, a.name)
	}
	return strings.Join(ns, ",")
}

// TestCallSQL: each way of passing arguments, rendered.
func TestCallSQL(t *testing.T) {
	sc := libraryFixture()
	cases := []struct {
		method, target, body string
		want                 string
		args                 []string
	}{
		{"POST", "/rpc/add", `{"a":1,"b":2}`,
			`WITH pgrst_source AS (SELECT pgrst_call."pgrst_scalar" FROM (SELECT $1::json AS json_data) pgrst_payload, LATERAL (SELECT "a", "b" FROM json_to_record(pgrst_payload.json_data) AS _("a" integer, "b" integer) LIMIT 1) pgrst_body, LATERAL (SELECT "public"."add"("a" := "pgrst_body"."a", "b" := "pgrst_body"."b") AS "pgrst_scalar") pgrst_call)`,
			[]string{`{"a":1,"b":2}`}},
		{"POST", "/rpc/echo_json", `[1]`,
			`WITH pgrst_source AS (SELECT pgrst_call."pgrst_scalar" FROM (SELECT "public"."echo_json"($1::jsonb) AS "pgrst_scalar") pgrst_call)`,
			[]string{`[1]`}},
		{"GET", "/rpc/sum_all?nums=1&nums=2", "",
			`WITH pgrst_source AS (SELECT pgrst_call."pgrst_scalar" FROM (SELECT "public"."sum_all"(VARIADIC "nums" := $1::integer[]) AS "pgrst_scalar") pgrst_call)`,
			[]string{`{"1","2"}`}},
		{"GET", "/rpc/books_by_author?author=1", "",
			`WITH pgrst_source AS (SELECT pgrst_call.* FROM "public"."books_by_author"("author" := $1::bigint) pgrst_call)`,
			[]string{"1", "1000"}},
	}
	for _, c := range cases {
		p, err := planTest(planCall, callOpts, sc, c.method, c.target, c.body)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.target, err)
		}
		s := callSQL(p)
		if text := s.text(); !strings.HasPrefix(text, c.want) {
			t.Errorf("%s %s:\n got %s\nwant %s…", c.method, c.target, text, c.want)
		}
		if d := cmp.Diff(c.args, sqlArgs(s)); d != "" {
			t.Errorf("%s %s: args (-want +got):\n%s", c.method, c.target, d)
		}
		s.release()
	}
}
