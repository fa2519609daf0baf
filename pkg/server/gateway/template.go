package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kong's request-transformer renders values as Penlight templates: literal
// text with `$(expression)` parts, where the expression is Lua evaluated
// against the request (headers, query_params, uri_captures, shared). The
// official self-hosted kong.yml relies on this to turn an apikey into an
// Authorization header, so the embedded gateway evaluates the same
// expressions. It implements the side-effect-free subset such templates use:
//
//	nil true false, numbers, 'strings' and "strings"
//	headers.name  headers["name"]  query_params.name  uri_captures[1]  shared.x
//	s:sub(i [, j])  s:lower()  s:upper()  s:len()  #s
//	not  and  or  ==  ~=  <  <=  >  >=  ..  unary -  ( … )
//
// Anything else (function calls, other globals, arithmetic) is rejected when
// the configuration is loaded, never at request time. Values render as
// Penlight does: nil and false become "", other values their Lua text.

// luaTable is a read-only Lua table exposed to templates.
type luaTable interface {
	index(key any) any
}

// emptyTable stands for uri_captures and shared, which are always empty in
// the embedded gateway (no regex routes, no plugins writing kong.ctx.shared).
type emptyTable struct{}

func (emptyTable) index(any) any { return nil }

// listTable is a Lua sequence of strings (a repeated header or query arg).
type listTable []string

func (l listTable) index(k any) any {
	if f, ok := k.(float64); ok {
		i := int(f)
		if float64(i) == f && i >= 1 && i <= len(l) {
			return l[i-1]
		}
	}
	return nil
}

// templateEnv is what a template expression can see.
type templateEnv struct {
	headers luaTable
	query   luaTable
}

// template is a compiled request-transformer value.
type template struct {
	parts []templatePart
	plain bool // no expressions: render returns the literal text
	text  string
}

type templatePart struct {
	literal string
	expr    luaExpr // nil for a literal part
}

// compileTemplate parses every `$(…)` expression in s.
func compileTemplate(s string) (*template, error) {
	t := &template{text: s}
	i := 0
	var lit strings.Builder
	for i < len(s) {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '(' {
			end, err := matchParen(s, i+1)
			if err != nil {
				return nil, err
			}
			src := s[i+2 : end]
			e, err := parseLua(src)
			if err != nil {
				return nil, fmt.Errorf("template expression $(%s): %w", src, err)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, templatePart{literal: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, templatePart{expr: e})
			i = end + 1
			continue
		}
		lit.WriteByte(s[i])
		i++
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, templatePart{literal: lit.String()})
	}
	t.plain = true
	for _, p := range t.parts {
		if p.expr != nil {
			t.plain = false
		}
	}
	return t, nil
}

// matchParen returns the index of the parenthesis closing the one at open,
// skipping parentheses inside quoted strings.
func matchParen(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch c := s[i]; c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		case '\'', '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return 0, errors.New("unterminated string in template expression")
			}
			i = j
		}
	}
	return 0, errors.New("unbalanced parentheses in template expression")
}

// render evaluates the template against env.
func (t *template) render(env *templateEnv) (string, error) {
	if t.plain {
		return t.text, nil
	}
	if len(t.parts) == 1 {
		// One expression and no literal (kong.yml's Authorization
		// template): its value is the result, with no copy.
		v, err := t.parts[0].expr.eval(env)
		if err != nil {
			return "", err
		}
		return luaToString(v), nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.literal)
			continue
		}
		v, err := p.expr.eval(env)
		if err != nil {
			return "", err
		}
		b.WriteString(luaToString(v))
	}
	return b.String(), nil
}

// luaToString renders a value as Penlight does: tostring of (v or "").
func luaToString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if !x {
			return ""
		}
		return "true"
	case string:
		return x
	case float64:
		return luaNumber(x)
	default:
		return "table"
	}
}

func luaNumber(f float64) string {
	if f == float64(int64(f)) && f > -1e15 && f < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	default:
		return true
	}
}

func luaType(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "number"
	default:
		return "table"
	}
}
