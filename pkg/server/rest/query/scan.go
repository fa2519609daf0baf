package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner is a tiny backtracking cursor over one parameter value.
type scanner struct {
	s    string
	pos  int
	what string // "select parameter", "filter", ... for error messages
}

func (p *scanner) eof() bool { return p.pos >= len(p.s) }

func (p *scanner) peek() rune {
	if p.eof() {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return r
}

func (p *scanner) next() rune {
	r, n := utf8.DecodeRuneInString(p.s[p.pos:])
	p.pos += n
	return r
}

func (p *scanner) has(prefix string) bool { return strings.HasPrefix(p.s[p.pos:], prefix) }

func (p *scanner) accept(prefix string) bool {
	if p.has(prefix) {
		p.pos += len(prefix)
		return true
	}
	return false
}

func (p *scanner) ws() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *scanner) fail(format string, args ...any) *Error {
	return errorf(p.what, p.s, p.pos, format, args...)
}

func (p *scanner) unexpected(expecting string) *Error {
	if p.eof() {
		return p.fail("unexpected end of input expecting %s", expecting)
	}
	return p.fail("unexpected %q expecting %s", string(p.peek()), expecting)
}

// items reads the rest of a parenthesised, comma-separated list whose
// "(" was read: item reads one element, then "," goes on to the next and
// ")" ends the list (and the blanks after it); anything else is an error.
func (p *scanner) items(item func() *Error) *Error {
	for {
		if err := item(); err != nil {
			return err
		}
		if p.accept(",") {
			continue
		}
		if p.accept(")") {
			p.ws()
			return nil
		}
		return p.unexpected(`"," or ")"`)
	}
}

func isIdentRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == ' ' || r == '$'
}

// identifier reads letters, digits, '_', ' ' and '$' (trimmed), as
// PostgREST's pIdentifier does. Casts use it too, which is why a cast can
// never carry SQL punctuation.
func (p *scanner) identifier() (string, bool) {
	start := p.pos
	for !p.eof() && isIdentRune(p.peek()) {
		p.next()
	}
	id := strings.TrimSpace(p.s[start:p.pos])
	if p.pos == start {
		return "", false
	}
	return id, true
}

// quoted reads "..." with backslash escapes.
func (p *scanner) quoted() (string, bool, *Error) {
	if !p.has(`"`) {
		return "", false, nil
	}
	p.pos++
	var b strings.Builder
	for {
		if p.eof() {
			return "", false, p.fail(`unexpected end of input expecting closing quote '"'`)
		}
		r := p.next()
		switch r {
		case '\\':
			if p.eof() {
				return "", false, p.fail("unexpected end of input after escape '\\'")
			}
			b.WriteRune(p.next())
		case '"':
			return b.String(), true, nil
		default:
			b.WriteRune(r)
		}
	}
}

// fieldName is a quoted name or identifiers joined by dashes that are not
// the start of an arrow.
func (p *scanner) fieldName() (string, *Error) {
	if q, ok, err := p.quoted(); err != nil {
		return "", err
	} else if ok {
		return q, nil
	}
	var parts []string
	for {
		id, ok := p.identifier()
		if !ok {
			if len(parts) == 0 {
				return "", p.unexpected("field name (* or [a..z0..9_$])")
			}
			return "", p.unexpected("letter or digit")
		}
		parts = append(parts, id)
		if p.has("-") && !p.has("->") {
			p.pos++
			continue
		}
		return strings.Join(parts, "-"), nil
	}
}

// jsonKeyName is a quoted key or runs of characters other than (-:.,>)
// joined by dashes.
func (p *scanner) jsonKeyName() (string, bool, *Error) {
	if q, ok, err := p.quoted(); err != nil {
		return "", false, err
	} else if ok {
		return q, true, nil
	}
	var parts []string
	for {
		start := p.pos
		for !p.eof() && !strings.ContainsRune("(-:.,>)", p.peek()) {
			p.next()
		}
		if p.pos == start {
			if len(parts) == 0 {
				return "", false, nil
			}
			return "", false, p.unexpected("any non reserved character different from: .,>()")
		}
		parts = append(parts, strings.TrimSpace(p.s[start:p.pos]))
		if p.has("-") && !p.has("->") {
			p.pos++
			continue
		}
		return strings.Join(parts, "-"), true, nil
	}
}

func (p *scanner) jsonPath() ([]JSONOp, *Error) {
	var path []JSONOp
	for {
		var op JSONOp
		switch {
		case p.accept("->>"):
			op.Text = true
		case p.accept("->"):
		default:
			return path, nil
		}
		// An index: -?digits followed by the end of the operand.
		save := p.pos
		neg := p.accept("-")
		start := p.pos
		for !p.eof() && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if p.pos > start && (p.eof() || p.has("->") || p.has("::") || p.has(".") || p.has(",") || p.has(")")) {
			op.Index = true
			op.Key = p.s[start:p.pos]
			if neg {
				op.Key = "-" + op.Key
			}
			path = append(path, op)
			continue
		}
		p.pos = save
		key, ok, err := p.jsonKeyName()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.unexpected("a JSON key or index")
		}
		op.Key = key
		path = append(path, op)
	}
}

func (p *scanner) field() (Field, *Error) {
	p.ws()
	name, err := p.fieldName()
	if err != nil {
		return Field{}, err
	}
	jp, err := p.jsonPath()
	if err != nil {
		return Field{}, err
	}
	p.ws()
	return Field{Name: name, JSONPath: jp}, nil
}
