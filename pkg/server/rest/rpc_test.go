package rest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRPC covers calls by POST and GET with every result kind, filters
// and embedding on results, errors and the request context seen by SQL.
func TestRPC(t *testing.T) {
	e := newEnv(t)
	user := userJWT(uidReader)
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     string
	}{
		{"scalar by POST", "POST", "/rpc/add", `{"a":1,"b":2}`, nil, 200, `3`},
		{"scalar by GET", "GET", "/rpc/add?a=40&b=2", "", nil, 200, `42`},
		{"set of scalars", "GET", "/rpc/book_titles?min_pages=285", "", nil, 200, `["The Left Hand of Darkness","Guards! Guards!"]`},
		{"set of scalars with the default", "POST", "/rpc/book_titles", ``, nil, 200,
			`["A Wizard of Earthsea","The Left Hand of Darkness","Guards! Guards!","Small Gods","Kindred"]`},
		{"setof table with select, filter and order", "GET", "/rpc/books_by_author?author=2&select=id,title&order=id.desc", "", nil, 200,
			`[{"id":4,"title":"Small Gods"},{"id":3,"title":"Guards! Guards!"}]`},
		{"setof table filtered", "POST", "/rpc/books_by_author?pages=gt.300&select=id", `{"author":2}`, nil, 200, `[{"id":3}]`},
		{"setof table with an embed", "POST", "/rpc/books_by_author?select=id,author:authors!books_author_id_fkey(name)&limit=1", `{"author":3}`, nil, 200,
			`[{"id":5,"author":{"name":"Octavia E. Butler"}}]`},
		{"returns table", "POST", "/rpc/author_stats", `{"author":1}`, nil, 200, `[{"author_id":1,"book_count":2,"total_pages":469}]`},
		{"returns table, singular", "POST", "/rpc/author_stats", `{"author":1}`, []string{"Accept", "application/vnd.pgrst.object+json"}, 200,
			`{"author_id":1,"book_count":2,"total_pages":469}`},
		{"single composite", "GET", "/rpc/latest_book?select=id,title", "", nil, 200, `{"id":4,"title":"Small Gods"}`},
		{"single unnamed jsonb parameter", "POST", "/rpc/echo_json", `{"x":[1,2],"y":null}`, nil, 200, `{"x":[1,2],"y":null}`},
		{"variadic by GET", "GET", "/rpc/sum_all?nums=1&nums=2&nums=39", "", nil, 200, `42`},
		{"variadic by POST", "POST", "/rpc/sum_all", `{"nums":[1,2,3]}`, nil, 200, `6`},
		{"response GUCs", "POST", "/rpc/with_headers", `{}`, nil, 202, `1`},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, user, c.body, c.headers...)
		r.expect(t, c.name, c.status, c.want)
	}
	r := e.do("POST", "/rpc/with_headers", user, `{}`)
	if r.header.Get("X-Custom") != "hello" {
		t.Errorf("response.headers not applied: %v", r.header)
	}

	// void: 204, and it ran.
	r = e.do("POST", "/rpc/touch_author", e.svc, `{"author":3}`)
	if r.status != 204 || len(r.body) != 0 {
		t.Errorf("void: %d %q", r.status, r.body)
	}
	if n := e.count("select count(*) from authors where bio = 'Parable.'"); n != 1 {
		t.Errorf("void function did not run")
	}
	// Counts on a set.
	r = e.do("GET", "/rpc/book_titles?limit=2", user, "", "Prefer", "count=exact")
	if r.status != 206 || r.header.Get("Content-Range") != "0-1/5" {
		t.Errorf("rpc count: %d %q", r.status, r.header.Get("Content-Range"))
	}

	errs := []struct {
		name, method, path, body, token string
		status                          int
		code                            string
	}{
		{"PT409 from a function", "POST", "/rpc/bump", `{"v":2}`, user, 409, "PT409"},
		{"unknown function", "POST", "/rpc/nope", `{}`, user, 404, "PGRST202"},
		{"unknown argument", "POST", "/rpc/add", `{"a":1,"c":2}`, user, 404, "PGRST202"},
		{"missing argument", "GET", "/rpc/add?a=1", "", user, 404, "PGRST202"},
		{"volatile function by GET is read-only", "GET", "/rpc/write_in_get", "", e.svc, 405, "25006"},
		{"RAISE SQLSTATE 'PGRST'", "POST", "/rpc/teapot", `{}`, user, 418, "TEA01"},
		{"malformed JSON body", "POST", "/rpc/add", `{"a":`, user, 400, "PGRST102"},
		{"bad argument type", "GET", "/rpc/add?a=x&b=1", "", user, 400, "22P02"},
		{"singular on a set of many", "GET", "/rpc/books_by_author?author=1", "", user, 406, "PGRST116"},
	}
	for _, c := range errs {
		var hs []string
		if c.name == "singular on a set of many" {
			hs = []string{"Accept", "application/vnd.pgrst.object+json"}
		}
		e.do(c.method, c.path, c.token, c.body, hs...).expectErr(t, c.name, c.status, c.code)
	}
	m := e.do("POST", "/rpc/bump", user, `{"v":2}`).expectErr(t, "PT409 body", 409, "PT409")
	if m["message"] != "version conflict" || m["details"] != "expected version 1" || m["hint"] != "reload and retry" {
		t.Errorf("PT409 body: %v", m)
	}
	e.do("POST", "/rpc/bump", user, `{"v":1}`).expect(t, "no conflict", 200, `2`)
	r = e.do("POST", "/rpc/teapot", user, `{}`)
	if r.header.Get("X-Brewed") != "yes" {
		t.Errorf("PGRST raise headers: %v", r.header)
	}
	m = e.do("POST", "/rpc/ad", user, `{"a":1,"b":2}`).expectErr(t, "PGRST202 hint", 404, "PGRST202")
	if m["message"] != "Could not find the function public.ad(a, b) in the schema cache" ||
		m["details"] != "Searched for the function public.ad with parameters a, b or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache." {
		t.Errorf("PGRST202 body: %v", m)
	}
}

// TestRequestContext checks what a request's SQL sees: role, claims,
// method, path, headers, search_path, the role's own settings, the Prefer
// timezone and read-only transactions.
func TestRequestContext(t *testing.T) {
	e := newEnv(t)
	type who struct {
		Role       string          `json:"role"`
		Sub        *string         `json:"sub"`
		Claims     map[string]any  `json:"claims"`
		Method     string          `json:"method"`
		Path       string          `json:"path"`
		Header     string          `json:"header"`
		SearchPath string          `json:"search_path"`
		Timeout    string          `json:"timeout"`
		Timezone   string          `json:"timezone"`
		ReadOnly   string          `json:"read_only"`
		AppName    string          `json:"application_name"`
		Raw        json.RawMessage `json:"-"`
	}
	get := func(method, token string, headers ...string) who {
		t.Helper()
		body := ""
		if method == "POST" {
			body = "{}"
		}
		r := e.do(method, "/rpc/whoami", token, body, append([]string{"X-Test", "yes"}, headers...)...)
		if r.status != 200 {
			t.Fatalf("whoami: %d %s", r.status, r.body)
		}
		var w who
		if err := json.Unmarshal(r.body, &w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := get("GET", "")
	if w.Role != "anon" || w.Claims["role"] != "anon" || w.Sub != nil || w.Method != "GET" || w.Path != "/rpc/whoami" ||
		w.Header != "yes" || w.SearchPath != `"public", "extensions"` || w.Timeout != "3s" || w.ReadOnly != "on" {
		t.Errorf("anon without a key: %+v", w)
	}
	w = get("POST", userJWT(uidReader), "Prefer", "timezone=America/New_York")
	if w.Role != "authenticated" || w.Sub == nil || *w.Sub != uidReader || w.Claims["email"] != uidReader+"@example.test" ||
		w.Method != "POST" || w.Timeout != "8s" || w.Timezone != "America/New_York" || w.ReadOnly != "on" {
		t.Errorf("user (stable function runs read-only): %+v", w)
	}
	w = get("GET", e.svc)
	if w.Role != "service_role" {
		t.Errorf("service role: %+v", w)
	}
	// The gateway's request id names the transaction in pg_stat_activity
	// and the server log; without one, "sfp rest".
	if w.AppName != "sfp rest" {
		t.Errorf("application_name without a request id: %q", w.AppName)
	}
	for _, m := range []string{"GET", "POST"} {
		if w = get(m, "", "X-Request-Id", "5b7e0c1e-req"); w.AppName != "5b7e0c1e-req" {
			t.Errorf("%s: application_name %q, want the request id", m, w.AppName)
		}
	}
}

// TestJWT covers the token errors and their WWW-Authenticate headers.
func TestJWT(t *testing.T) {
	e := newEnv(t)
	now := time.Now().Unix()
	wrongKey := signJWT("another-secret-that-is-also-32-characters-long!!", map[string]any{"role": "anon"})
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.TrimRight(b64(`{"role":"service_role"}`), "=") + "."
	cases := []struct {
		name, token     string
		status          int
		code, msg, auth string
	}{
		{"bad signature", wrongKey, 401, "PGRST301", "No suitable key or wrong key type",
			`Bearer error="invalid_token", error_description="No suitable key or wrong key type"`},
		{"expired", signJWT(testSecret, map[string]any{"role": "anon", "exp": now - 31}), 401, "PGRST303", "JWT expired",
			`Bearer error="invalid_token", error_description="JWT expired"`},
		{"alg none", none, 401, "PGRST301", "Wrong or unsupported encoding algorithm", ""},
		{"two parts", "abc.def", 401, "PGRST301", "Expected 3 parts in JWT; got 2", ""},
		{"exp not a number", signJWT(testSecret, map[string]any{"role": "anon", "exp": "soon"}), 401, "PGRST303", "The JWT 'exp' claim must be a number", ""},
		{"not yet valid", signJWT(testSecret, map[string]any{"role": "anon", "nbf": now + 120}), 401, "PGRST303", "JWT not yet valid", ""},
		{"unknown role", signJWT(testSecret, map[string]any{"role": "nobody"}), 401, "22023", `role "nobody" does not exist`, "Bearer"},
	}
	for _, c := range cases {
		r := e.do("GET", "/books?select=id&limit=1", c.token, "")
		m := r.expectErr(t, c.name, c.status, c.code)
		if m["message"] != c.msg {
			t.Errorf("%s: message %q, want %q", c.name, m["message"], c.msg)
		}
		if c.auth != "" && r.header.Get("WWW-Authenticate") != c.auth {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, r.header.Get("WWW-Authenticate"), c.auth)
		}
	}
	// Within the 30 s skew an expired token still works.
	e.do("GET", "/books?select=id&id=eq.1", signJWT(testSecret, map[string]any{"role": "anon", "exp": now - 10}), "").
		expect(t, "expired within skew", 200, `[{"id":1}]`)
	// Without a role claim the request runs as anon.
	e.do("GET", "/secrets", signJWT(testSecret, map[string]any{"sub": "x"}), "").expectErr(t, "no role claim is anon", 401, "42501")
	// An empty bearer.
	req := e.do("GET", "/books", "", "", "Authorization", "Bearer ")
	req.expectErr(t, "empty bearer", 401, "PGRST301")
	// A cached token still expires.
	short := signJWT(testSecret, map[string]any{"role": "anon", "exp": now - 29})
	e.do("GET", "/books?select=id&id=eq.1", short, "").expect(t, "about to expire", 200, `[{"id":1}]`)
	if ar := e.srv.jwts.get(short); ar == nil {
		t.Fatal("token was not cached")
	}
	if _, err := e.srv.authenticate(requestWithToken(short), time.Now().Add(5*time.Second)); err == nil || err.Code != "PGRST303" {
		t.Errorf("cached token past its expiry: %v", err)
	}
}

func b64(s string) string {
	return strings.TrimRight(base64URL([]byte(s)), "=")
}

// TestSchemaReload checks NOTIFY pgrst reloads the cache while requests
// keep being answered.
func TestSchemaReload(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/gadgets", e.anon, "").expectErr(t, "before", 404, "PGRST205")
	stop := make(chan struct{})
	errs := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := e.do("GET", "/books?select=id&id=eq.1", e.anon, "")
			if r.status != 200 {
				errs <- string(r.body)
				return
			}
		}
	}()
	e.db.Exec(t, `create table public.gadgets (id int primary key, name text); insert into public.gadgets values (1, 'gizmo');
		notify pgrst, 'reload schema'`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.do("GET", "/gadgets?select=name", e.anon, "")
		if r.status == 200 {
			r.expect(t, "after reload", 200, `[{"name":"gizmo"}]`)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schema was not reloaded: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done
	select {
	case b := <-errs:
		t.Fatalf("a request failed during the reload: %s", b)
	default:
	}
	// Reload by hand too.
	e.db.Exec(t, `alter table public.gadgets add column color text`)
	if err := e.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/gadgets?select=color", e.anon, "").expect(t, "manual reload", 200, `[{"color":null}]`)
}

// TestStableFunctionCalledOnce: a read RPC calls its function once per
// request (a whole-row reference in the response would call a flattened
// scalar call again). The function counts its calls in a transaction-local
// setting and reports the count in a response header.
func TestStableFunctionCalledOnce(t *testing.T) {
	e := newEnv(t, `create function public.counted() returns int language plpgsql stable as $$
		declare n int := coalesce(nullif(current_setting('sfp.calls', true), ''), '0')::int + 1;
		begin
		  perform set_config('sfp.calls', n::text, true);
		  perform set_config('response.headers', json_build_array(json_build_object('x-calls', n::text))::text, true);
		  return 7;
		end $$;
		grant execute on function public.counted() to anon;`)
	for _, c := range []struct{ method, body, prefer string }{
		{"GET", "", ""}, {"GET", "", "count=exact"}, {"POST", "{}", ""}, {"GET", "", "return=representation"},
	} {
		r := e.do(c.method, "/rpc/counted", e.anon, c.body, "Prefer", c.prefer)
		r.expect(t, c.method+" "+c.prefer, 200, `7`)
		if got := r.header.Get("X-Calls"); got != "1" {
			t.Fatalf("%s %s: the function ran %s times", c.method, c.prefer, got)
		}
	}
}
