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

// ---- expressions ----

type luaExpr interface {
	eval(env *templateEnv) (any, error)
}

type luaConst struct{ v any }

func (c luaConst) eval(*templateEnv) (any, error) { return c.v, nil }

type luaGlobal struct{ name string }

func (g luaGlobal) eval(env *templateEnv) (any, error) {
	switch g.name {
	case "headers":
		if env.headers == nil {
			return emptyTable{}, nil
		}
		return env.headers, nil
	case "query_params":
		if env.query == nil {
			return emptyTable{}, nil
		}
		return env.query, nil
	default: // uri_captures, shared
		return emptyTable{}, nil
	}
}

type luaIndex struct {
	obj luaExpr
	key luaExpr
}

func (x luaIndex) eval(env *templateEnv) (any, error) {
	o, err := x.obj.eval(env)
	if err != nil {
		return nil, err
	}
	k, err := x.key.eval(env)
	if err != nil {
		return nil, err
	}
	t, ok := o.(luaTable)
	if !ok {
		if _, isStr := o.(string); isStr {
			return nil, nil // indexing a string yields string library entries, never data
		}
		return nil, fmt.Errorf("attempt to index a %s value", luaType(o))
	}
	return t.index(k), nil
}

type luaMethod struct {
	obj  luaExpr
	name string
	args []luaExpr
}

func (m luaMethod) eval(env *templateEnv) (any, error) {
	o, err := m.obj.eval(env)
	if err != nil {
		return nil, err
	}
	s, ok := o.(string)
	if !ok {
		if f, isNum := o.(float64); isNum {
			s = luaNumber(f)
		} else {
			return nil, fmt.Errorf("attempt to call method %q on a %s value", m.name, luaType(o))
		}
	}
	args := make([]float64, len(m.args))
	for i, a := range m.args {
		v, err := a.eval(env)
		if err != nil {
			return nil, err
		}
		n, err := toNumber(v)
		if err != nil {
			return nil, fmt.Errorf("bad argument #%d to %q: %w", i+1, m.name, err)
		}
		args[i] = n
	}
	switch m.name {
	case "lower":
		return strings.ToLower(s), nil
	case "upper":
		return strings.ToUpper(s), nil
	case "len":
		return float64(len(s)), nil
	default: // "sub", checked at parse time
		i, j := int(args[0]), -1
		if len(args) > 1 {
			j = int(args[1])
		}
		return luaSub(s, i, j), nil
	}
}

// luaSub is string.sub with Lua's index rules (1-based, negative from the end).
func luaSub(s string, i, j int) string {
	n := len(s)
	if i < 0 {
		i = max(n+i+1, 1)
	} else if i == 0 {
		i = 1
	}
	if j < 0 {
		j = n + j + 1
	} else if j > n {
		j = n
	}
	if i > j {
		return ""
	}
	return s[i-1 : j]
}

func toNumber(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("number expected, got %s", luaType(v))
}

type luaUnary struct {
	op string
	x  luaExpr
}

func (u luaUnary) eval(env *templateEnv) (any, error) {
	v, err := u.x.eval(env)
	if err != nil {
		return nil, err
	}
	switch u.op {
	case "not":
		return !truthy(v), nil
	case "#":
		switch x := v.(type) {
		case string:
			return float64(len(x)), nil
		case listTable:
			return float64(len(x)), nil
		}
		return nil, fmt.Errorf("attempt to get length of a %s value", luaType(v))
	default: // "-"
		n, err := toNumber(v)
		if err != nil {
			return nil, fmt.Errorf("attempt to perform arithmetic on a %s value", luaType(v))
		}
		return -n, nil
	}
}

type luaBinary struct {
	op   string
	l, r luaExpr
}

func (b luaBinary) eval(env *templateEnv) (any, error) {
	l, err := b.l.eval(env)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return b.r.eval(env)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return b.r.eval(env)
	}
	r, err := b.r.eval(env)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "==":
		return luaEqual(l, r), nil
	case "~=":
		return !luaEqual(l, r), nil
	case "..":
		ls, lok := concatOperand(l)
		rs, rok := concatOperand(r)
		if !lok {
			return nil, fmt.Errorf("attempt to concatenate a %s value", luaType(l))
		}
		if !rok {
			return nil, fmt.Errorf("attempt to concatenate a %s value", luaType(r))
		}
		return ls + rs, nil
	default: // < <= > >=
		return luaCompare(b.op, l, r)
	}
}

func concatOperand(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return luaNumber(x), true
	}
	return "", false
}

func luaEqual(a, b any) bool {
	switch a.(type) {
	case nil:
		return b == nil
	case bool, string, float64:
		return a == b
	default:
		return false // tables compare by identity; template tables are never the same object
	}
}

func luaCompare(op string, l, r any) (any, error) {
	var c int
	switch x := l.(type) {
	case float64:
		y, ok := r.(float64)
		if !ok {
			return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case string:
		y, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
		}
		c = strings.Compare(x, y)
	default:
		return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	default:
		return c >= 0, nil
	}
}

// ---- lexer and parser ----

type luaTok struct {
	kind string // "name", "string", "number", "op", "eof"
	text string
	num  float64
}

func lexLua(src string) ([]luaTok, error) {
	var toks []luaTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i + 1
			for j < len(src) && (src[j] == '_' || (src[j]|0x20 >= 'a' && src[j]|0x20 <= 'z') || (src[j] >= '0' && src[j] <= '9')) {
				j++
			}
			toks = append(toks, luaTok{kind: "name", text: src[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && ((src[j] >= '0' && src[j] <= '9') || src[j] == '.') {
				j++
			}
			f, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, fmt.Errorf("malformed number %q", src[i:j])
			}
			toks = append(toks, luaTok{kind: "number", text: src[i:j], num: f})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\n' {
					return nil, errors.New("unfinished string")
				}
				if src[j] == '\\' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case '\\', '\'', '"':
						b.WriteByte(src[j])
					default:
						return nil, fmt.Errorf("unsupported escape \\%c in string", src[j])
					}
					continue
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, errors.New("unfinished string")
			}
			toks = append(toks, luaTok{kind: "string", text: b.String()})
			i = j + 1
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "~=", "<=", ">=", "..":
				toks = append(toks, luaTok{kind: "op", text: two})
				i += 2
				continue
			}
			switch c {
			case '<', '>', '(', ')', '[', ']', '.', ':', ',', '#', '-':
				toks = append(toks, luaTok{kind: "op", text: string(c)})
				i++
			default:
				return nil, fmt.Errorf("unexpected character %q", c)
			}
		}
	}
	return append(toks, luaTok{kind: "eof"}), nil
}

type luaParser struct {
	toks  []luaTok
	pos   int
	depth int
}

// maxLuaDepth bounds nesting so a hostile configuration cannot exhaust the stack.
const maxLuaDepth = 64

func parseLua(src string) (luaExpr, error) {
	toks, err := lexLua(src)
	if err != nil {
		return nil, err
	}
	p := &luaParser{toks: toks}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q after expression", t.text)
	}
	return e, nil
}

func (p *luaParser) peek() luaTok { return p.toks[p.pos] }
func (p *luaParser) next() luaTok { t := p.toks[p.pos]; p.pos++; return t }

func (p *luaParser) isOp(s string) bool {
	t := p.peek()
	return (t.kind == "op" || t.kind == "name") && t.text == s
}

func (p *luaParser) expect(s string) error {
	if !p.isOp(s) {
		t := p.peek()
		if t.kind == "eof" {
			return fmt.Errorf("expected %q at end of expression", s)
		}
		return fmt.Errorf("expected %q, found %q", s, t.text)
	}
	p.pos++
	return nil
}

// Binary operator precedence, lowest first, as in Lua 5.1.
var luaBinPrec = map[string]int{
	"or": 1, "and": 2,
	"<": 3, ">": 3, "<=": 3, ">=": 3, "~=": 3, "==": 3,
	"..": 4, // right associative
}

const luaUnaryPrec = 5

func (p *luaParser) expr(minPrec int) (luaExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxLuaDepth {
		return nil, errors.New("expression nested too deeply")
	}
	var left luaExpr
	var err error
	if p.isOp("not") || p.isOp("#") || p.isOp("-") {
		op := p.next().text
		x, err := p.expr(luaUnaryPrec)
		if err != nil {
			return nil, err
		}
		left = luaUnary{op: op, x: x}
	} else {
		left, err = p.suffixed()
		if err != nil {
			return nil, err
		}
	}
	for {
		t := p.peek()
		if t.kind != "op" && t.kind != "name" {
			return left, nil
		}
		prec, ok := luaBinPrec[t.text]
		if !ok || prec <= minPrec {
			return left, nil
		}
		p.pos++
		next := prec
		if t.text == ".." {
			next = prec - 1 // right associative
		}
		right, err := p.expr(next)
		if err != nil {
			return nil, err
		}
		left = luaBinary{op: t.text, l: left, r: right}
	}
}

func (p *luaParser) suffixed() (luaExpr, error) {
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.pos++
			t := p.next()
			if t.kind != "name" {
				return nil, fmt.Errorf("expected a field name after '.', found %q", t.text)
			}
			e = luaIndex{obj: e, key: luaConst{t.text}}
		case p.isOp("["):
			p.pos++
			k, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			e = luaIndex{obj: e, key: k}
		case p.isOp(":"):
			p.pos++
			t := p.next()
			if t.kind != "name" {
				return nil, fmt.Errorf("expected a method name after ':', found %q", t.text)
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			var args []luaExpr
			for !p.isOp(")") {
				a, err := p.expr(0)
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if !p.isOp(",") {
					break
				}
				p.pos++
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			switch t.text {
			case "lower", "upper", "len":
				if len(args) != 0 {
					return nil, fmt.Errorf("method %q takes no arguments", t.text)
				}
			case "sub":
				if len(args) < 1 || len(args) > 2 {
					return nil, errors.New("method \"sub\" takes one or two arguments")
				}
			default:
				return nil, fmt.Errorf("unsupported method %q (supported: sub, lower, upper, len)", t.text)
			}
			e = luaMethod{obj: e, name: t.text, args: args}
		default:
			return e, nil
		}
	}
}

func (p *luaParser) primary() (luaExpr, error) {
	t := p.next()
	switch t.kind {
	case "number":
		return luaConst{t.num}, nil
	case "string":
		return luaConst{t.text}, nil
	case "name":
		switch t.text {
		case "nil":
			return luaConst{nil}, nil
		case "true":
			return luaConst{true}, nil
		case "false":
			return luaConst{false}, nil
		case "headers", "query_params", "uri_captures", "shared":
			return luaGlobal{t.text}, nil
		case "and", "or", "not":
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
		return nil, fmt.Errorf("unknown name %q (templates may use headers, query_params, uri_captures and shared)", t.text)
	case "op":
		if t.text == "(" {
			e, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
		return nil, fmt.Errorf("unexpected %q", t.text)
	default:
		return nil, errors.New("unexpected end of expression")
	}
}
