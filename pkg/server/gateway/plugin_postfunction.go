package gateway

import (
	"fmt"
	"net/http"
	"strings"
)

// post-function runs Lua in Kong (serverless functions, priority -1000,
// after every other plugin). The embedded gateway runs no Lua: it accepts
// the one kind of function the official kong.yml uses — drop a request
// header that is absent, empty or blank, so a request-transformer template
// that rendered nothing does not reach the upstream as an empty header —
// recognised token by token, in the access phase, and refuses any other
// code at startup. The shape, with any variable name and header name (the
// same header both times), single or double quotes, any layout, `--`
// comments and semicolons:
//
//	local v = kong.request.get_header("sb-api-key")
//	if v == nil or v == "" or v:find("^%s*$") then
//	  kong.service.request.clear_header("sb-api-key")
//	end
//
// kong.request.get_header reads the request as the plugins before left it
// (the first value of the header), so the check sees what
// request-transformer rendered; clear_header removes every value.

type postFunction struct {
	clear []string // canonical header names, in order
}

// blankHeaderFunction is the recognised function, as tokens; "$v" is the
// variable and "$h" the header name (string tokens are compared by value).
var blankHeaderFunction = []string{
	"local", "$v", "=", "kong", ".", "request", ".", "get_header", "(", "$h", ")",
	"if", "$v", "==", "nil", "or", "$v", "==", `""`, "or", "$v", ":", "find", "(", `"^%s*$"`, ")", "then",
	"kong", ".", "service", ".", "request", ".", "clear_header", "(", "$h", ")",
	"end",
}

func buildPostFunction(conf *object, p *parser) (plugin, error) {
	pf := &postFunction{}
	for _, phase := range []string{"certificate", "rewrite", "header_filter", "body_filter", "log"} {
		if err := conf.unsupported(phase, isEmptyList, " (post-function runs only the access phase here)"); err != nil {
			return nil, err
		}
	}
	if err := conf.unsupported("functions", nil, " (removed in Kong 3.0; use access)"); err != nil {
		return nil, err
	}
	codes, err := conf.strings("access")
	if err != nil {
		return nil, err
	}
	if len(codes) == 0 {
		return nil, p.d.errf(conf.node, "%s: access must list at least one function", conf.what)
	}
	for i, code := range codes {
		header, err := matchBlankHeaderFunction(code)
		if err != nil {
			return nil, p.d.errf(conf.line("access"), "%s: access[%d]: %v; the embedded gateway runs no Lua and knows only the function that clears a blank header:\n"+
				"  local v = kong.request.get_header(\"NAME\")\n  if v == nil or v == \"\" or v:find(\"^%%s*$\") then\n    kong.service.request.clear_header(\"NAME\")\n  end",
				conf.what, i+1, err)
		}
		pf.clear = append(pf.clear, http.CanonicalHeaderKey(header))
	}
	return pf, nil
}

func (pf *postFunction) access(x *exchange) *reply {
	for _, name := range pf.clear {
		vals := x.header[name]
		if len(vals) == 0 || strings.Trim(vals[0], " \t\n\v\f\r") == "" {
			delete(x.header, name)
		}
	}
	return nil
}

// matchBlankHeaderFunction returns the header a function clears when it is
// the recognised shape.
func matchBlankHeaderFunction(code string) (string, error) {
	toks, err := luaTokens(code)
	if err != nil {
		return "", err
	}
	if len(toks) != len(blankHeaderFunction) {
		return "", fmt.Errorf("not the recognised function (%d tokens, want %d)", len(toks), len(blankHeaderFunction))
	}
	var variable, header string
	for i, want := range blankHeaderFunction {
		got := toks[i]
		switch want {
		case "$v":
			if got.str || !isLuaName(got.text) {
				return "", fmt.Errorf("token %d: %q is not a variable name", i+1, got.text)
			}
			if variable == "" {
				if got.text == "kong" || isLuaKeyword(got.text) {
					return "", fmt.Errorf("%q cannot be a variable name", got.text)
				}
				variable = got.text
			} else if got.text != variable {
				return "", fmt.Errorf("token %d: %q is not the variable %q", i+1, got.text, variable)
			}
		case "$h":
			if !got.str || !validHeaderName(got.text) {
				return "", fmt.Errorf("token %d: want a header name in quotes, found %q", i+1, got.text)
			}
			if header == "" {
				header = got.text
			} else if !strings.EqualFold(got.text, header) {
				return "", fmt.Errorf("the function reads header %q but clears %q", header, got.text)
			}
		default:
			if strings.HasPrefix(want, `"`) {
				if !got.str || `"`+got.text+`"` != want {
					return "", fmt.Errorf("token %d: want the string %s, found %q", i+1, want, got.text)
				}
			} else if got.str || got.text != want {
				return "", fmt.Errorf("token %d: want %q, found %q", i+1, want, got.text)
			}
		}
	}
	return header, nil
}

type luaToken struct {
	text string
	str  bool // a string literal; text is its value
}

// luaTokens splits Lua source into names, strings and punctuation, dropping
// whitespace, `--` comments and semicolons. Long strings and long comments
// are refused: the recognised function has none.
func luaTokens(src string) ([]luaToken, error) {
	var out []luaToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == ';':
			i++
		case strings.HasPrefix(src[i:], "--"):
			if strings.HasPrefix(src[i+2:], "[") {
				return nil, fmt.Errorf("long comments are not supported")
			}
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				i = len(src)
			} else {
				i += end
			}
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' || src[j] == '\n' {
					return nil, fmt.Errorf("escapes and line breaks in strings are not supported")
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, luaToken{text: b.String(), str: true})
			i = j + 1
		case c == '[' && (strings.HasPrefix(src[i:], "[[") || strings.HasPrefix(src[i:], "[=")):
			return nil, fmt.Errorf("long strings are not supported")
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i + 1
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			out = append(out, luaToken{text: src[i:j]})
			i = j
		case strings.HasPrefix(src[i:], "==") || strings.HasPrefix(src[i:], "~=") || strings.HasPrefix(src[i:], ".."):
			out = append(out, luaToken{text: src[i : i+2]})
			i += 2
		default:
			out = append(out, luaToken{text: src[i : i+1]})
			i++
		}
		if len(out) > 256 {
			return nil, fmt.Errorf("function too long")
		}
	}
	return out, nil
}

func isLuaName(s string) bool {
	return s != "" && validVarName(s)
}

var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true, "false": true,
	"for": true, "function": true, "if": true, "in": true, "local": true, "nil": true, "not": true,
	"or": true, "repeat": true, "return": true, "then": true, "true": true, "until": true, "while": true,
}

func isLuaKeyword(s string) bool { return luaKeywords[s] }
