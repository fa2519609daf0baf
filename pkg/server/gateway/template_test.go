package gateway

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func templateTestEnv() *templateEnv {
	h := http.Header{}
	h.Set("Apikey", "key-1")
	h.Set("Authorization", "Bearer user-token")
	h.Set("X-Sb", "Bearer sb_secret")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	return &templateEnv{
		headers: &headerTable{h: h},
		query:   &queryTable{q: newQueryArgs("apikey=q-key&flag&list=1&list=2&n=42")},
	}
}

func TestTemplateRender(t *testing.T) {
	tests := []struct{ tpl, want string }{
		{"plain text", "plain text"},
		{"$(headers.apikey)", "key-1"},
		{"$(headers.APIKEY)", "key-1"},
		{"$(headers['x-sb'])", "Bearer sb_secret"},
		{"$(headers.x_sb)", "Bearer sb_secret"},
		{"$(headers.missing)", ""},
		{"$(headers.missing or 'default')", "default"},
		{"Bearer $(headers.apikey)!", "Bearer key-1!"},
		{"$(query_params.apikey)", "q-key"},
		{"$(query_params.flag)", "true"},
		{"$(query_params.list[2])", "2"},
		{"$(#query_params.list)", "2"},
		{"$(headers.x_multi[1] .. headers.x_multi[2])", "ab"},
		{"$(query_params.n .. '')", "42"},
		// The official self-hosted expression, with and without a user token.
		{"$((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and headers.authorization) or headers.apikey)", "Bearer user-token"},
		{"$((headers.x_sb ~= nil and headers.x_sb:sub(1, 10) ~= 'Bearer sb_' and headers.x_sb) or headers.apikey)", "key-1"},
		// This repository's expression.
		{"$((headers.apikey and 'Bearer ' .. headers.apikey) or (query_params.apikey and 'Bearer ' .. query_params.apikey))", "Bearer key-1"},
		{"$((headers.nokey and 'Bearer ' .. headers.nokey) or (query_params.apikey and 'Bearer ' .. query_params.apikey))", "Bearer q-key"},
		{"$(headers.apikey:upper())-$(headers.apikey:len())-$(headers.apikey:sub(-1))-$(headers.apikey:sub(2, 3))", "KEY-1-5-1-ey"},
		{"$(not headers.missing)", "true"},
		{"$(not headers.apikey)", ""}, // false renders empty, as Penlight's (v or '')
		{"$(1 < 2)$(2 <= 1)$('a' < 'b')", "truetrue"},
		{"$(-3 .. '')", "-3"},
		{"$('a' .. 'b' .. 'c')", "abc"},
		{"$(nil == nil)$(1 == '1')", "true"},
		{`$("it's" .. "\"q\"")`, `it's"q"`},
		{"$(uri_captures.x or shared.y or 'empty')", "empty"},
		{"$(headers.apikey) and $((headers.apikey))", "key-1 and key-1"},
		{"$(headers.apikey == 'key-1' and 'yes' or 'no')", "yes"},
		{"$(1.5)", "1.5"},
	}
	env := templateTestEnv()
	for _, tt := range tests {
		tpl, err := compileTemplate(tt.tpl)
		require.NoError(t, err, tt.tpl)
		got, err := tpl.render(env)
		require.NoError(t, err, tt.tpl)
		assert.Equal(t, tt.want, got, tt.tpl)
	}
}

func TestTemplateErrors(t *testing.T) {
	compile := []struct{ tpl, want string }{
		{"$(os.getenv('HOME'))", `unknown name "os"`},
		{"$(headers.a", "unbalanced parentheses"},
		{"$('unterminated)", "unterminated string"},
		{"$(headers.a:gsub('a', 'b'))", `unsupported method "gsub"`},
		{"$(headers.a:sub())", `method "sub" takes one or two arguments`},
		{"$(headers.a:lower(1))", `method "lower" takes no arguments`},
		{"$(headers.a = 1)", `unexpected character '='`},
		{"$(headers.a +)", `unexpected character '+'`},
		{"$(headers.)", "expected a field name"},
		{"$(headers[1)", `expected "]"`},
		{"$()", "unexpected end of expression"},
		{"$(a b)", `unknown name "a"`},
		{"$(headers.a headers.b)", `unexpected "headers" after expression`},
		{"$('\\z')", `unsupported escape \z`},
	}
	for _, tt := range compile {
		_, err := compileTemplate(tt.tpl)
		require.Error(t, err, tt.tpl)
		assert.Contains(t, err.Error(), tt.want, tt.tpl)
	}
	runtime := []struct{ tpl, want string }{
		{"$(headers.missing .. 'x')", "attempt to concatenate a nil value"},
		{"$(headers.missing:sub(1))", `attempt to call method "sub" on a nil value`},
		{"$(headers.missing.x)", "attempt to index a nil value"},
		{"$(headers.apikey < 1)", "attempt to compare string with number"},
		{"$(#headers.missing)", "attempt to get length of a nil value"},
		{"$(headers.apikey:sub('x'))", `bad argument #1 to "sub"`},
	}
	env := templateTestEnv()
	for _, tt := range runtime {
		tpl, err := compileTemplate(tt.tpl)
		require.NoError(t, err, tt.tpl)
		_, err = tpl.render(env)
		require.Error(t, err, tt.tpl)
		assert.Contains(t, err.Error(), tt.want, tt.tpl)
	}
}

func TestTemplateNestingLimit(t *testing.T) {
	deep := "$("
	for range 100 {
		deep += "("
	}
	deep += "1"
	for range 100 {
		deep += ")"
	}
	deep += ")"
	_, err := compileTemplate(deep)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested too deeply")
}
