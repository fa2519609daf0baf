package gateway

import (
	"fmt"
	"strings"
)

// Route expressions: the `expression` field of a route under Kong 3's
// `expressions` router flavor (Kong's ATC language). The embedded gateway
// implements a small subset, validated at startup, and refuses anything
// else with the column where it stops:
//
//	expression := term { ("&&" | "||") term }
//	term       := predicate | ["!"] "(" expression ")"
//	predicate  := field operator string
//	field      := http.path | http.host | http.method
//	operator   := == | != | ^= (prefix) | =^ (suffix)
//	string     := "…" with \" \\ \n \r \t escapes | r#"…"#
//
// Kong gives || a higher precedence than && (its Pratt parser lists && first),
// unlike most languages; so that no expression can mean one thing to Kong and
// another to a reader, mixing && and || in one group without parentheses is
// refused. http.path is the normalised request path without the query,
// http.host the Host without its port, in lower case; http.method the method.

// exprRequest is what an expression is evaluated against.
type exprRequest struct {
	path, host, method string
	// matched is the path a true http.path == or ^= predicate matched: the
	// prefix strip_path removes, as Kong takes it from the router's result.
	matched string
}

type exprNode interface {
	eval(r *exprRequest) bool
}

type exprOp int

const (
	opEqual exprOp = iota
	opNotEqual
	opPrefix
	opSuffix
)

type exprPredicate struct {
	field string // http.path, http.host or http.method
	op    exprOp
	value string
}

func (p *exprPredicate) eval(r *exprRequest) bool {
	var v string
	switch p.field {
	case "http.path":
		v = r.path
	case "http.host":
		v = r.host
	default:
		v = r.method
	}
	var ok bool
	switch p.op {
	case opEqual:
		ok = v == p.value
	case opNotEqual:
		ok = v != p.value
	case opPrefix:
		ok = strings.HasPrefix(v, p.value)
	default:
		ok = strings.HasSuffix(v, p.value)
	}
	if ok && p.field == "http.path" && (p.op == opEqual || p.op == opPrefix) {
		r.matched = p.value
	}
	return ok
}

// A branch that turns out false leaves no matched path behind.

type exprAnd struct{ l, r exprNode }

func (e *exprAnd) eval(r *exprRequest) bool {
	saved := r.matched
	if e.l.eval(r) && e.r.eval(r) {
		return true
	}
	r.matched = saved
	return false
}

type exprOr struct{ l, r exprNode }

func (e *exprOr) eval(r *exprRequest) bool {
	saved := r.matched
	if e.l.eval(r) {
		return true
	}
	r.matched = saved
	if e.r.eval(r) {
		return true
	}
	r.matched = saved
	return false
}

type exprNot struct{ e exprNode }

func (e *exprNot) eval(r *exprRequest) bool {
	saved := r.matched // a path matched inside a negation strips nothing
	ok := !e.e.eval(r)
	r.matched = saved
	return ok
}

// exprFields are the fields the subset knows; Kong's other fields are
// named in the error so the message says what is missing.
var exprFields = map[string]bool{"http.path": true, "http.host": true, "http.method": true}

// parseExpression parses a route expression; errors name the column (1-based).
func parseExpression(src string) (exprNode, error) {
	p := &exprParser{src: src}
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, fmt.Errorf("expression is empty")
	}
	e, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, p.errf("unexpected %q", p.rest(10))
	}
	return e, nil
}

type exprParser struct {
	src string
	pos int
}

const maxExprDepth = 32

func (p *exprParser) errf(format string, args ...any) error {
	return fmt.Errorf("column %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *exprParser) rest(n int) string {
	r := p.src[p.pos:]
	if len(r) > n {
		r = r[:n] + "…"
	}
	return r
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *exprParser) consume(tok string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *exprParser) expression(depth int) (exprNode, error) {
	if depth > maxExprDepth {
		return nil, p.errf("expression nested more than %d deep", maxExprDepth)
	}
	left, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	logical := ""
	for {
		p.skipSpace()
		var op string
		switch {
		case strings.HasPrefix(p.src[p.pos:], "&&"):
			op = "&&"
		case strings.HasPrefix(p.src[p.pos:], "||"):
			op = "||"
		default:
			return left, nil
		}
		if logical != "" && op != logical {
			return nil, p.errf("%s after %s without parentheses: Kong binds || tighter than &&, so write the grouping you mean with ( )", op, logical)
		}
		logical = op
		p.pos += 2
		right, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		if op == "&&" {
			left = &exprAnd{left, right}
		} else {
			left = &exprOr{left, right}
		}
	}
}

func (p *exprParser) term(depth int) (exprNode, error) {
	p.skipSpace()
	negate := false
	if strings.HasPrefix(p.src[p.pos:], "!") && !strings.HasPrefix(p.src[p.pos:], "!=") {
		p.pos++
		negate = true
		p.skipSpace()
		if !strings.HasPrefix(p.src[p.pos:], "(") {
			return nil, p.errf("! must be followed by a parenthesised expression")
		}
	}
	if p.consume("(") {
		e, err := p.expression(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.consume(")") {
			return nil, p.errf("missing )")
		}
		if negate {
			return &exprNot{e}, nil
		}
		return e, nil
	}
	return p.predicate()
}

func (p *exprParser) predicate() (exprNode, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && isFieldChar(p.src[p.pos]) {
		p.pos++
	}
	field := p.src[start:p.pos]
	if field == "" {
		return nil, p.errf("expected a field such as http.path, found %q", p.rest(10))
	}
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], "(") {
		p.pos = start
		return nil, p.errf("transformation %s(…) is not supported by the embedded gateway", field)
	}
	if !exprFields[field] {
		p.pos = start
		return nil, p.errf("field %s is not supported by the embedded gateway (supported: http.path, http.host, http.method)", field)
	}
	pred := &exprPredicate{field: field}
	opStart := p.pos
	switch {
	case p.consume("=="):
		pred.op = opEqual
	case p.consume("!="):
		pred.op = opNotEqual
	case p.consume("^="):
		pred.op = opPrefix
	case p.consume("=^"):
		pred.op = opSuffix
	default:
		for _, op := range []string{"~", ">=", "<=", ">", "<", "in", "not", "contains"} {
			if strings.HasPrefix(p.src[p.pos:], op) {
				return nil, p.errf("operator %s is not supported by the embedded gateway (supported: ==, !=, ^=, =^)", op)
			}
		}
		p.pos = opStart
		return nil, p.errf("expected an operator (==, !=, ^=, =^) after %s", field)
	}
	value, err := p.stringLiteral()
	if err != nil {
		return nil, err
	}
	pred.value = value
	return pred, nil
}

func isFieldChar(c byte) bool {
	return c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// stringLiteral reads "…" (with Kong's escapes) or r#"…"#.
func (p *exprParser) stringLiteral() (string, error) {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], `r#"`) {
		p.pos += 3
		end := strings.Index(p.src[p.pos:], `"#`)
		if end < 0 {
			return "", p.errf(`unterminated raw string (r#"…"#)`)
		}
		s := p.src[p.pos : p.pos+end]
		p.pos += end + 2
		return s, nil
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		if p.pos < len(p.src) && (p.src[p.pos] == '-' || (p.src[p.pos] >= '0' && p.src[p.pos] <= '9')) {
			return "", p.errf("only string values are supported by the embedded gateway (no numbers or IP addresses)")
		}
		return "", p.errf("expected a string in double quotes")
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 >= len(p.src) {
				return "", p.errf("unterminated string")
			}
			switch p.src[p.pos+1] {
			case '"':
				b.WriteByte('"')
			case '\\':
				b.WriteByte('\\')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				return "", p.errf(`invalid escape \%c (allowed: \" \\ \n \r \t)`, p.src[p.pos+1])
			}
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.errf("unterminated string")
}
