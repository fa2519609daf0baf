package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The official kong.yml's function, as written there (a YAML block).
const clearBlankAuthorization = `local auth = kong.request.get_header("authorization")
if auth == nil or auth == "" or auth:find("^%s*$") then
  kong.service.request.clear_header("authorization")
end
`

func TestPostFunctionShape(t *testing.T) {
	for _, code := range []string{
		clearBlankAuthorization,
		"local v = kong.request.get_header('Sb-Api-Key'); if v == nil or v == '' or v:find('^%s*$') then kong.service.request.clear_header('sb-api-key') end",
		"-- drop a blank header\nlocal  x=kong.request.get_header(\"x-a\")\nif x==nil or x==\"\" or x : find(\"^%s*$\") then -- blank\n kong.service.request.clear_header(\"x-a\")\nend",
	} {
		h, err := matchBlankHeaderFunction(code)
		require.NoError(t, err, code)
		assert.NotEmpty(t, h)
	}
	for code, want := range map[string]string{
		`kong.service.request.clear_header("authorization")`:                                                   "not the recognised function",
		strings.Replace(clearBlankAuthorization, `clear_header("authorization")`, `clear_header("cookie")`, 1): `reads header "authorization" but clears "cookie"`,
		strings.Replace(clearBlankAuthorization, `auth:find`, `other:find`, 1):                                 `"other" is not the variable "auth"`,
		strings.Replace(clearBlankAuthorization, `"^%s*$"`, `"^%s"`, 1):                                        `want the string "^%s*$"`,
		strings.Replace(clearBlankAuthorization, `clear_header`, `set_header`, 1):                              `want "clear_header"`,
		strings.Replace(clearBlankAuthorization, `get_header("authorization")`, `get_header("a\"b")`, 1):       "escapes",
		strings.Replace(clearBlankAuthorization, `local auth`, `local end`, 1):                                 "cannot be a variable name",
		"local x = [[long]]": "long strings",
	} {
		_, err := matchBlankHeaderFunction(code)
		assert.ErrorContains(t, err, want, code)
	}
}

func TestPostFunctionConfig(t *testing.T) {
	const head = "_format_version: \"3.0\"\nservices:\n  - name: s\n    url: http://s/\n    plugins:\n      - name: post-function\n        config:\n"
	for yml, want := range map[string]string{
		head + "          access:\n            - 'return kong.response.exit(200)'\n": `test.yml:8: config of plugin "post-function": access[1]: not the recognised function`,
		head + "          log:\n            - 'kong.log.err(1)'\n":                   `test.yml:8: config of plugin "post-function": log is not supported by the embedded gateway (post-function runs only the access phase here)`,
		head + "          access: []\n":                                              `access must list at least one function`,
		head + "          functions: ['x']\n":                                        `functions is not supported by the embedded gateway (removed in Kong 3.0; use access)`,
	} {
		_, err := Parse([]byte(yml), "test.yml", nil)
		assert.ErrorContains(t, err, want, yml)
	}
}

// TestPostFunctionClearsBlankHeaders runs the official storage route's
// pattern: request-transformer renders Authorization from the apikey, and
// the post-function (priority -1000, after it) drops the header when the
// template rendered nothing, so the upstream never sees "Authorization:".
func TestPostFunctionClearsBlankHeaders(t *testing.T) {
	indented := "              " + strings.ReplaceAll(strings.TrimSuffix(clearBlankAuthorization, "\n"), "\n", "\n              ")
	srv := serve(t, `_format_version: "2.1"
services:
  - name: storage
    url: http://storage:5000/
    routes:
      - name: storage-all
        paths: [/storage/v1/]
    plugins:
      - name: request-transformer
        config:
          add:
            headers:
              - "Authorization: $((headers.apikey and 'Bearer ' .. headers.apikey) or nil)"
      - name: post-function
        config:
          access:
            - |
`+indented+`
            - |
              local v = kong.request.get_header("x-blank")
              if v == nil or v == "" or v:find("^%s*$") then
                kong.service.request.clear_header("x-blank")
              end
`, Options{Upstreams: map[string]http.Handler{"storage": echo("storage")}})

	r := get(t, srv, "/storage/v1/object/public/a.png")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	_, present := r.seen(t).Header["Authorization"]
	assert.False(t, present, "an empty rendered Authorization is dropped")

	r = get(t, srv, "/storage/v1/object/a.png", "apikey", "k1")
	assert.Equal(t, "Bearer k1", r.seen(t).Header.Get("Authorization"))

	r = get(t, srv, "/storage/v1/object/a.png", "Authorization", "AWS4-HMAC-SHA256 Credential=x", "X-Blank", " \t")
	s := r.seen(t)
	assert.Equal(t, "AWS4-HMAC-SHA256 Credential=x", s.Header.Get("Authorization"), "a real header passes")
	_, present = s.Header["X-Blank"]
	assert.False(t, present, "a whitespace-only header is dropped")

	r = get(t, srv, "/storage/v1/object/a.png", "X-Blank", "kept")
	assert.Equal(t, "kept", r.seen(t).Header.Get("X-Blank"))
}

// The official kong.yml's request-transformer patterns around its Kong 3
// features: "add" together with "replace" always sets a header; "remove"
// then "add" replaces a client's copy with the rendered value (which the
// post-function drops when blank); "replace" of a query argument rewrites
// it from a template that reads the original.
func TestRequestTransformerOfficialPatterns(t *testing.T) {
	fn := strings.ReplaceAll(strings.TrimSuffix(strings.ReplaceAll(clearBlankAuthorization, "authorization", "sb-api-key"), "\n"), "\n", "\n                  ")
	srv := serve(t, `_format_version: "2.1"
services:
  - name: s
    url: http://s/
    routes:
      - name: always
        paths: [/always/]
        plugins:
          - name: request-transformer
            config:
              add:
                headers: ["Authorization: $((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and headers.authorization) or ('Bearer ' .. (headers.apikey or '')))"]
              replace:
                headers: ["Authorization: $((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and headers.authorization) or ('Bearer ' .. (headers.apikey or '')))"]
      - name: functions
        paths: [/functions/]
        plugins:
          - name: request-transformer
            config:
              remove:
                headers: ["sb-api-key"]
              add:
                headers: ["sb-api-key:$((headers.apikey == 'sb_secret_x' and 'jwt-for-service') or nil)"]
          - name: post-function
            config:
              access:
                - |
                  `+fn+`
      - name: socket
        paths: [/socket/]
        plugins:
          - name: request-transformer
            config:
              add:
                headers: ["x-api-key:$((query_params.apikey == 'sb_publishable_x' and 'jwt-for-anon') or query_params.apikey)"]
              replace:
                querystring: ["apikey:$((query_params.apikey == 'sb_publishable_x' and 'jwt-for-anon') or query_params.apikey)"]
`, Options{Upstreams: map[string]http.Handler{"s": echo("s")}})

	s := get(t, srv, "/always/x", "apikey", "k").seen(t)
	assert.Equal(t, "Bearer k", s.Header.Get("Authorization"), "added when absent")
	s = get(t, srv, "/always/x", "apikey", "k", "Authorization", "Bearer sb_publishable_x").seen(t)
	assert.Equal(t, []string{"Bearer k"}, s.Header.Values("Authorization"), "replaced when an sb_ key")
	s = get(t, srv, "/always/x", "apikey", "k", "Authorization", "Bearer user-jwt").seen(t)
	assert.Equal(t, []string{"Bearer user-jwt"}, s.Header.Values("Authorization"), "a user's token kept")

	s = get(t, srv, "/functions/f", "apikey", "sb_secret_x", "sb-api-key", "forged").seen(t)
	assert.Equal(t, []string{"jwt-for-service"}, s.Header.Values("Sb-Api-Key"))
	s = get(t, srv, "/functions/f", "sb-api-key", "forged").seen(t)
	_, present := s.Header["Sb-Api-Key"]
	assert.False(t, present, "a forged header is removed and the blank rendering dropped")

	s = get(t, srv, "/socket/websocket?apikey=sb_publishable_x&vsn=1.0.0").seen(t)
	assert.Equal(t, "jwt-for-anon", s.Header.Get("X-Api-Key"))
	assert.Equal(t, "apikey=jwt-for-anon&vsn=1.0.0", s.Query)
	s = get(t, srv, "/socket/websocket?apikey=legacy-jwt&vsn=1.0.0").seen(t)
	assert.Equal(t, "legacy-jwt", s.Header.Get("X-Api-Key"))
	assert.Equal(t, "apikey=legacy-jwt&vsn=1.0.0", s.Query)
}
