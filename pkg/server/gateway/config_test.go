package gateway

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every startup error names the file, the line and the problem.
func TestConfigErrors(t *testing.T) {
	const svc = "services:\n  - name: s\n    url: http://s/\n"
	tests := []struct {
		name string
		yml  string
		want string // "test.yml:<line>: <fragment>"
	}{
		{"bad YAML", "_format_version: \"2.1\"\nservices:\n  - name: [unclosed\n", "test.yml:3: invalid YAML"},
		{"parser error line", "_format_version: \"2.1\"\nservices: []\n- name: s\n", "test.yml:3: invalid YAML: did not find expected key"},
		{"tab indentation", "_format_version: \"2.1\"\nservices:\n\t- name: s\n", "test.yml:3: invalid YAML"},
		{"empty file", "", "test.yml:1: empty configuration: _format_version is required"},
		{"not a mapping", "- a\n- b\n", "test.yml:1: configuration must be a mapping"},
		{"missing format version", "services: []\n", "test.yml:1: _format_version is required"},
		{"unknown format version", "_format_version: \"1.1\"\n", `test.yml:1: unsupported _format_version "1.1" (supported: "2.1", "3.0")`},
		{"unknown top-level key", "_format_version: \"2.1\"\nservicez: []\n", `test.yml:2: configuration: unknown field "servicez"`},
		{"unsupported entity", "_format_version: \"2.1\"\nupstreams:\n  - name: u\n", "test.yml:2: configuration: upstreams is not supported by the embedded gateway"},
		{"undefined variable", "_format_version: \"2.1\"\nconsumers:\n  - username: a\n    keyauth_credentials:\n      - key: $NOT_SET\n", "test.yml:5: undefined variable $NOT_SET"},
		{"undefined braced variable", "_format_version: \"2.1\"\n# $IN_A_COMMENT is fine\nconsumers:\n  - username: ${ALSO_NOT_SET}\n", "test.yml:4: undefined variable $ALSO_NOT_SET"},
		{"bad braced variable", "_format_version: \"2.1\"\nconsumers:\n  - username: ${1X}\n", `test.yml:3: invalid variable name "1X"`},
		{"route without service", "_format_version: \"2.1\"\nroutes:\n  - name: r\n    paths: [/r]\n", `test.yml:3: route "r" has no service`},
		{"route with unknown service", "_format_version: \"2.1\"\nroutes:\n  - name: r\n    service: nope\n    paths: [/r]\n", `test.yml:4: route "r" refers to unknown service "nope"`},
		{"service without host", "_format_version: \"2.1\"\nservices:\n  - name: s\n    path: /x\n", `test.yml:3: service "s" has no host`},
		{"service with bad url", "_format_version: \"2.1\"\nservices:\n  - name: s\n    url: ://nohost\n", `test.yml:4: service "s": invalid url`},
		{"service with unsupported protocol", "_format_version: \"2.1\"\nservices:\n  - name: s\n    url: grpc://s:50051\n", `test.yml:3: service "s": protocol "grpc" is not supported`},
		{"unknown service field", "_format_version: \"2.1\"\nservices:\n  - name: s\n    url: http://s/\n    hots: [x]\n", `test.yml:5: service "s": unknown field "hots"`},
		{"duplicate service", "_format_version: \"2.1\"\n" + svc + "  - name: s\n    url: http://t/\n", `test.yml:5: service name "s" is used twice (also on line 3)`},
		{"route without criteria", "_format_version: \"2.1\"\n" + svc + "    routes:\n      - name: r\n", `test.yml:6: route "r" must set at least one of paths, methods, hosts or an expression`},
		{"relative route path", "_format_version: \"2.1\"\n" + svc + "    routes:\n      - name: r\n        paths: [r]\n", `test.yml:7: route "r": path "r" must start with /`},
		{"regex path 2.1", "_format_version: \"2.1\"\n" + svc + "    routes:\n      - name: r\n        paths: ['/users/(\\d+)']\n", `test.yml:7: route "r": regex path "/users/(\\d+)" is not supported`},
		{"regex path 3.0", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        paths: ['~/users/\\d+$']\n", `test.yml:7: route "r": regex path "~/users/\\d+$" is not supported`},
		{"expression with paths", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        expression: 'http.path == \"/r\"'\n        paths: [/r]\n", `test.yml:8: route "r": cannot set 'expression' with 'methods', 'hosts', 'paths'`},
		{"expression with regex_priority", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        expression: 'http.path == \"/r\"'\n        regex_priority: 2\n", `test.yml:8: route "r": cannot set 'regex_priority' with 'expression'`},
		{"priority without expression", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        paths: [/r]\n        priority: 5\n", `test.yml:8: route "r": priority is only for routes with an expression`},
		{"negative priority", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        expression: 'http.path == \"/r\"'\n        priority: -1\n", `test.yml:8: route "r": priority -1 is outside`},
		{"bad expression", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        expression: 'http.path = \"/r\"'\n", `test.yml:7: route "r": expression "http.path = \"/r\"": column 11: expected an operator`},
		{"unsupported expression field", "_format_version: \"3.0\"\n" + svc + "    routes:\n      - name: r\n        expression: 'http.headers.x == \"1\"'\n", `column 1: field http.headers.x is not supported by the embedded gateway`},
		{"path_handling v1", "_format_version: \"2.1\"\n" + svc + "    routes:\n      - name: r\n        paths: [/r]\n        path_handling: v1\n", `test.yml:8: route "r": path_handling "v1" is not supported`},
		{"unknown plugin", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: rate-limiting\n", `test.yml:6: unknown plugin "rate-limiting" (the embedded gateway supports: acl, basic-auth, cors, key-auth, post-function, request-termination, request-transformer)`},
		{"plugin without name", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - config: {}\n", "test.yml:6: plugin has no name"},
		{"unknown plugin field", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: key-auth\n        config:\n          hide_credential: true\n", `test.yml:8: config of plugin "key-auth": unknown field "hide_credential"`},
		{"wrong plugin field type", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: key-auth\n        config:\n          hide_credentials: maybe\n", `test.yml:8: config of plugin "key-auth": hide_credentials must be true or false`},
		{"unsupported plugin option", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: key-auth\n        config:\n          key_in_body: true\n", `test.yml:8: config of plugin "key-auth": key_in_body is not supported`},
		{"duplicate plugin", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: cors\n      - name: cors\n", `test.yml:7: plugin "cors" is configured twice for the same scope (also on line 6)`},
		{"acl allow and deny", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: acl\n        config:\n          allow: [a]\n          deny: [b]\n", `test.yml:8: config of plugin "acl": set either allow or deny, not both`},
		{"acl without groups", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: acl\n", `test.yml:6: config of plugin "acl": one of allow or deny is required`},
		{"acl whitelist in 3.0", "_format_version: \"3.0\"\n" + svc + "    plugins:\n      - name: acl\n        config:\n          whitelist: [a]\n", `test.yml:8: config of plugin "acl": unknown field "whitelist"`},
		{"transformer entry without value", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-transformer\n        config:\n          add:\n            headers: [x-foo]\n", `test.yml:9: config of plugin "request-transformer".add.headers: key 'x-foo' has no value`},
		{"transformer bad template", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-transformer\n        config:\n          add:\n            headers: [\"x-foo: $(os.exit())\"]\n", `test.yml:9: config of plugin "request-transformer".add.headers: template expression $(os.exit()): unknown name "os"`},
		{"transformer unbalanced template", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-transformer\n        config:\n          add:\n            headers: [\"x-foo: $(headers.a\"]\n", `test.yml:9: config of plugin "request-transformer".add.headers: unbalanced parentheses`},
		{"transformer body", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-transformer\n        config:\n          add:\n            body: [\"a:b\"]\n", `test.yml:9: config of plugin "request-transformer".add: body is not supported`},
		{"termination message and body", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-termination\n        config:\n          message: m\n          body: b\n", `test.yml:8: config of plugin "request-termination": message cannot be used with content_type or body`},
		{"termination status", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: request-termination\n        config:\n          status_code: 600\n", `test.yml:8: config of plugin "request-termination": status_code 600 is not between 100 and 599`},
		{"cors bad origin regex", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: cors\n        config:\n          origins: ['(unclosed']\n", `test.yml:8: config of plugin "cors": origin "(unclosed" is not a valid regular expression`},
		{"unknown consumer", "_format_version: \"2.1\"\nacls:\n  - consumer: ghost\n    group: g\n", `test.yml:3: acl refers to unknown consumer "ghost"`},
		{"consumer without name", "_format_version: \"2.1\"\nconsumers:\n  - tags: [x]\n", "test.yml:3: consumer needs a username or a custom_id"},
		{"duplicate key", "_format_version: \"2.1\"\nconsumers:\n  - username: a\n    keyauth_credentials: [{key: same}]\n  - username: b\n    keyauth_credentials: [{key: same}]\n", `test.yml:6: key-auth key of consumer "b" is already the key of consumer "a" (line 4)`},
		{"anonymous unknown", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: key-auth\n        config:\n          anonymous: nobody\n", `test.yml:8: config of plugin "key-auth": anonymous refers to unknown consumer "nobody"`},
		{"consumer plugin", "_format_version: \"2.1\"\nconsumers:\n  - username: a\n    plugins:\n      - name: cors\n", `test.yml:4: consumer "a": plugins is not supported by the embedded gateway (consumer-scoped plugins)`},
		{"nested plugin with route", "_format_version: \"2.1\"\n" + svc + "    plugins:\n      - name: cors\n        route: x\n", `test.yml:7: plugin "cors" is nested and may not set route`},
		{"global plugin unknown route", "_format_version: \"2.1\"\nplugins:\n  - name: cors\n    route: nope\n", `test.yml:4: plugin "cors" refers to unknown route "nope"`},
		{"variable with line break", "_format_version: \"2.1\"\nconsumers:\n  - username: $MULTILINE\n", "test.yml:3: value of $MULTILINE contains a line break or control character"},
	}
	env := map[string]string{"MULTILINE": "a\nb: c"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yml), "test.yml", env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "a *ConfigError: %v", err)
			assert.Equal(t, "test.yml", ce.File)
			assert.NotContains(t, err.Error(), "a\nb", "variable values never appear in errors")
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kong.yml")
	require.NoError(t, os.WriteFile(path, []byte("_format_version: \"2.1\"\nservices:\n  - name: s\n    routes: [{name: r, paths: [/]}]\n"), 0o600))
	_, err := Load(path, nil)
	require.Error(t, err)
	assert.Equal(t, path+`:3: service "s" has no host (set url or host)`, err.Error())

	_, err = Load(filepath.Join(dir, "missing.yml"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "load gateway config:")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The same configuration in both formats routes alike; the format-specific
// rules (regex marker, acl field names) follow the declared version.
func TestFormatVersions(t *testing.T) {
	const body = `consumers:
  - username: anon
    keyauth_credentials: [{key: $ANON}]
    acls: [{group: anon}]
services:
  - name: rest
    url: http://rest:3000/
    routes:
      - name: rest
        paths: [/rest/v1/]
    plugins:
      - name: key-auth
      - name: acl
        config: {allow: [anon]}
`
	for _, v := range []string{"2.1", "3.0"} {
		t.Run(v, func(t *testing.T) {
			srv := serve(t, "_format_version: \""+v+"\"\n_transform: true\n"+body, Options{Upstreams: map[string]http.Handler{"rest": echo("rest")}})
			r := get(t, srv, "/rest/v1/todos?id=eq.1", "apikey", testEnv["ANON"])
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			assert.Equal(t, "/todos", r.seen(t).Path)
			assert.Equal(t, http.StatusUnauthorized, get(t, srv, "/rest/v1/todos").status)
		})
	}
	// Kong 2.x configurations may still use the old acl field names.
	old := strings.Replace(body, "allow: [anon]", "whitelist: [anon]", 1)
	_, err := Parse([]byte("_format_version: \"2.1\"\n"+old), "test.yml", testEnv)
	require.NoError(t, err)
	_, err = Parse([]byte("_format_version: \"3.0\"\n"+old), "test.yml", testEnv)
	require.Error(t, err)
	// A route path with characters Kong 2.x would read as a regex is fine in
	// 3.0, where only a leading "~" marks a regex.
	const plusPath = "services:\n  - name: s\n    url: http://s/\n    routes: [{name: r, paths: ['/a+b']}]\n"
	_, err = Parse([]byte("_format_version: \"3.0\"\n"+plusPath), "test.yml", nil)
	require.NoError(t, err)
	_, err = Parse([]byte("_format_version: \"2.1\"\n"+plusPath), "test.yml", nil)
	require.ErrorContains(t, err, "regex path")
}

func TestSubstitution(t *testing.T) {
	env := map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": ""}
	tests := map[string]string{
		"x: $A\n":                       "x: alpha\n",
		"x: ${A}-$B_2.\n":               "x: alpha-beta.\n",
		"x: '$EMPTY'\n":                 "x: ''\n",
		"x: $(headers.a) $$ $ 5$\n":     "x: $(headers.a) $$ $ 5$\n",
		"  # $UNDEFINED in a comment\n": "  # $UNDEFINED in a comment\n",
		"x: \"$A$A\"":                   "x: \"alphaalpha\"",
	}
	for in, want := range tests {
		got, err := substitute([]byte(in), "f.yml", env)
		require.NoError(t, err, in)
		assert.Equal(t, want, string(got), in)
	}
}

func TestUpstreamHosts(t *testing.T) {
	cfg, err := Parse([]byte(routingYML), "test.yml", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"alpha", "beta", "gamma", "rootsvc"}, cfg.UpstreamHosts())
	assert.Equal(t, "2.1", cfg.FormatVersion)
	require.Len(t, cfg.Services, 6)
	assert.Equal(t, 8000, cfg.Services[1].Port)
	assert.Equal(t, "/base", cfg.Services[1].Path)
	assert.Len(t, cfg.Routes, 8)
}
