package rest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestExecutionPlan: Accept: application/vnd.pgrst.plan answers the
// statement's EXPLAIN once db-plan-enabled is on (here from the role's
// setting), 406 otherwise.
func TestExecutionPlan(t *testing.T) {
	e := newEnv(t, filmsSQL)
	e.do("GET", "/films", e.anon, "", "Accept", "application/vnd.pgrst.plan").expectErr(t, "disabled", 406, codeMediaType)

	e.db.Exec(t, roleSettingSQL("pgrst.db_plan_enabled", "true"))
	if err := e.srv.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/films?select=title,actors(last_name)&id=eq.1", e.anon, "", "Accept", "application/vnd.pgrst.plan")
	if r.status != 200 || r.header.Get("Content-Type") != `application/vnd.pgrst.plan+text; for="application/json"; charset=utf-8` ||
		!strings.Contains(string(r.body), "Aggregate") || !strings.Contains(string(r.body), "roles") {
		t.Fatalf("text plan: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	r = e.do("GET", "/films?id=eq.1", e.anon, "", "Accept", `application/vnd.pgrst.plan+json; for="text/csv"; options=verbose`)
	var plan []map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &plan) != nil || len(plan) != 1 || plan[0]["Plan"] == nil ||
		r.header.Get("Content-Type") != `application/vnd.pgrst.plan+json; for="text/csv"; charset=utf-8` {
		t.Fatalf("json plan: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !strings.Contains(string(r.body), `"Output"`) {
		t.Errorf("verbose plan lists outputs: %s", r.body)
	}
	r = e.do("POST", "/rpc/add", e.anon, `{"a":1,"b":2}`, "Accept", "application/vnd.pgrst.plan+json")
	if r.status != 200 || !strings.Contains(string(r.body), `"Plan"`) {
		t.Errorf("call plan: %d %s", r.status, r.body)
	}
	// A write's plan: without analyze nothing runs; with analyze it runs,
	// and commits unless Prefer: tx=rollback.
	ins := func(id, options string, headers ...string) {
		t.Helper()
		h := append([]string{"Accept", "application/vnd.pgrst.plan; options=" + options}, headers...)
		r := e.do("POST", "/actors", e.svc, `{"id":`+id+`,"first_name":"P","last_name":"Lan"}`, h...)
		if r.status != 200 || !strings.Contains(string(r.body), "Insert on ") {
			t.Fatalf("insert plan %s: %d %s", options, r.status, r.body)
		}
	}
	ins("20", "verbose")
	ins("21", "analyze", "Prefer", "tx=rollback")
	ins("22", "analyze|buffers")
	e.do("GET", "/actors?select=id&id=gte.20", e.svc, "").expect(t, "only the committed analyze wrote", 200, `[{"id":22}]`)
	e.do("GET", "/films", e.anon, "", "Accept", `application/vnd.pgrst.plan; for="text/xml"`).expectErr(t, "unknown for", 406, codeMediaType)
}
