package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The lexer and parser of template expressions.

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
