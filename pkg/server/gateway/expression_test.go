package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpressionEval(t *testing.T) {
	req := func(method, host, path string) exprRequest {
		return exprRequest{path: path, host: host, method: method}
	}
	for _, tc := range []struct {
		expr    string
		r       exprRequest
		want    bool
		matched string
	}{
		{`http.path == "/rest/v1/"`, req("GET", "h", "/rest/v1/"), true, "/rest/v1/"},
		{`http.path == "/rest/v1/"`, req("GET", "h", "/rest/v1/todos"), false, ""},
		{`http.path == "/rest/v1/"`, req("GET", "h", "/rest/v1"), false, ""},
		{`http.path ^= "/rest/"`, req("GET", "h", "/rest/v1/x"), true, "/rest/"},
		{`http.path =^ ".json"`, req("GET", "h", "/a/b.json"), true, ""},
		{`http.path != "/x"`, req("GET", "h", "/y"), true, ""},
		{`http.method == "GET" && http.path ^= "/a"`, req("GET", "h", "/a/b"), true, "/a"},
		{`http.method == "GET" && http.path ^= "/a"`, req("POST", "h", "/a/b"), false, ""},
		{`http.host == "api.example.com" || http.host =^ ".internal"`, req("GET", "db.internal", "/"), true, ""},
		{`(http.method == "GET" || http.method == "HEAD") && http.path == "/x"`, req("HEAD", "h", "/x"), true, "/x"},
		{`!(http.path ^= "/admin" && http.method == "DELETE") && http.path ^= "/"`, req("GET", "h", "/admin/x"), true, "/"},
		{`! ( http.method == "GET" )`, req("GET", "h", "/"), false, ""},
		{`http.path == r#"/a"b"#`, req("GET", "h", `/a"b`), true, `/a"b`},
		{`http.path == "/a\"b\\c"`, req("GET", "h", `/a"b\c`), true, `/a"b\c`},
		{"http.path\t==\n\"/nl\"", req("GET", "h", "/nl"), true, "/nl"},
		{`(http.path ^= "/a" && http.method == "PUT") || http.path =^ "z"`, req("GET", "h", "/a/z"), true, ""}, // the failed branch strips nothing
	} {
		e, err := parseExpression(tc.expr)
		require.NoError(t, err, tc.expr)
		r := tc.r
		got := e.eval(&r)
		assert.Equal(t, tc.want, got, "%s on %+v", tc.expr, tc.r)
		if got {
			assert.Equal(t, tc.matched, r.matched, "matched path of %s", tc.expr)
		}
	}
}

func TestExpressionErrors(t *testing.T) {
	for expr, want := range map[string]string{
		``:                        "expression is empty",
		`   `:                     "expression is empty",
		`http.path = "/r"`:        `column 11: expected an operator (==, !=, ^=, =^) after http.path`,
		`http.path ~ "^/r"`:       "column 11: operator ~ is not supported",
		`http.path in "/r"`:       "column 11: operator in is not supported",
		`net.port == 80`:          "column 1: field net.port is not supported",
		`http.headers.x == "1"`:   "column 1: field http.headers.x is not supported",
		`lower(http.host) == "a"`: "column 1: transformation lower(…) is not supported",
		`http.path == 1`:          "column 14: only string values are supported",
		`http.path == /r`:         "column 14: expected a string in double quotes",
		`http.path == "/r`:        "unterminated string",
		`http.path == r#"/r"`:     "unterminated raw string",
		`http.path == "\q"`:       `invalid escape \q`,
		`http.path == "/a" && http.method == "GET" || http.host == "h"`: "|| after && without parentheses",
		`http.path == "/a" ||`:                   "expected a field such as http.path",
		`(http.path == "/a"`:                     "missing )",
		`!http.path == "/a"`:                     "! must be followed by a parenthesised expression",
		`http.path == "/a" http.method == "GET"`: `unexpected "http.metho…"`,
		strings.Repeat("(", 40) + `http.path == "/"` + strings.Repeat(")", 40): "nested more than 32 deep",
	} {
		_, err := parseExpression(expr)
		assert.ErrorContains(t, err, want, expr)
	}
}

// TestExpressionRoutes: an expression route outranks every traditional
// route whatever its prefix length, strips the path its http.path
// predicate matched, and expression routes rank among themselves by
// priority — as the official kong.yml's admin-only OpenAPI root needs.
func TestExpressionRoutes(t *testing.T) {
	srv := serve(t, `_format_version: "2.1"
services:
  - name: openapi
    url: http://rest:3000/
    routes:
      - name: rest-root
        strip_path: true
        expression: 'http.path == "/rest/v1/"'
  - name: rest
    url: http://rest:3000/
    routes:
      - name: rest-all
        strip_path: true
        paths: [/rest/v1/]
  - name: admin
    url: http://admin:80/base
    routes:
      - name: admin-low
        expression: 'http.path ^= "/admin/" || http.path == "/admin"'
      - name: admin-get
        priority: 10
        strip_path: false
        expression: '(http.method == "GET") && http.path ^= "/admin/"'
  - name: catchall
    url: http://rest:3000/
    routes:
      - name: catchall
        paths: [/]
`, Options{Upstreams: map[string]http.Handler{"rest": echo("rest"), "admin": echo("admin")}})

	route := func(r response) string { return r.seen(t).Upstream + " " + r.seen(t).Path }
	r := get(t, srv, "/rest/v1/")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "rest /", route(r), "the root goes to the expression route, stripped")
	assert.Equal(t, "/rest/v1/", r.seen(t).Header.Get("X-Forwarded-Prefix"))

	r = get(t, srv, "/rest/v1/todos?select=*")
	assert.Equal(t, "rest /todos", route(r))
	assert.Equal(t, "select=*", r.seen(t).Query)

	r = get(t, srv, "/rest/v1//./")
	assert.Equal(t, "rest /", route(r), "matched on the normalised path")

	r = call(t, srv, http.MethodPost, "/admin/users", strings.NewReader("{}"))
	assert.Equal(t, "admin /base/users", route(r), "lower priority route, strip_path by default")
	r = get(t, srv, "/admin/users")
	assert.Equal(t, "admin /base/admin/users", route(r), "priority 10 wins for GET; strip_path false")
	r = get(t, srv, "/admin")
	assert.Equal(t, "admin /base", route(r))
	r = get(t, srv, "/other")
	assert.Equal(t, "rest /other", route(r))
}
