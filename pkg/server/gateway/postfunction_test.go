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
		if assert.Error(t, err, code) {
			assert.Contains(t, err.Error(), want, code)
		}
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
		if assert.Error(t, err, yml) {
			assert.Contains(t, err.Error(), want)
		}
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
