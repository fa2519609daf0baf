package query

import (
	"strings"
)

var (
	simpleOps = []string{"neq", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"}
	quantOps  = []string{"eq", "gte", "gt", "lte", "lt", "like", "ilike", "match", "imatch"}
	ftsOps    = []string{"fts", "plfts", "phfts", "wfts"}
	isVals    = []string{"null", "not_null", "true", "false", "unknown"}
)

// ParseOpExpr parses a filter value such as "not.eq.5" or "in.(1,2)".
func ParseOpExpr(v string) (OpExpr, error) {
	p := &scanner{s: v, what: "filter"}
	e, err := p.opExpr(false)
	if err != nil {
		return OpExpr{}, err
	}
	return e, nil
}

// opExpr parses [not.]operation. In a logic tree (inLogic) single values
// end at ',' or ')' and may be quoted or a {...} array literal.
func (p *scanner) opExpr(inLogic bool) (OpExpr, *Error) {
	var e OpExpr
	if p.has("not.") {
		p.pos += 4
		e.Not = true
	}
	opStart := p.pos
	switch {
	case p.accept("in."):
		e.Op = "in"
		list, err := p.listVal()
		if err != nil {
			return e, err
		}
		e.List = list
		return e, nil
	case p.accept("is."):
		e.Op = "is"
		for _, v := range isVals {
			if len(p.s)-p.pos >= len(v) && strings.EqualFold(p.s[p.pos:p.pos+len(v)], v) {
				// not_null must win over null's prefix check: "null" cannot prefix "not_null".
				p.pos += len(v)
				e.Value = v
				if !inLogic && !p.eof() {
					return e, p.unexpected("end of input")
				}
				return e, nil
			}
		}
		return e, p.unexpected("isVal: (null, not_null, true, false, unknown)")
	case p.accept("isdistinct."):
		return p.operand(e, "isdistinct", inLogic)
	}
	for _, op := range ftsOps {
		save := p.pos
		if !p.accept(op) {
			continue
		}
		if p.accept("(") {
			lang, ok := p.identifier()
			if !ok || !p.accept(")") {
				p.pos = save
				continue
			}
			e.Lang = lang
		}
		if !p.accept(".") {
			p.pos = save
			continue
		}
		return p.operand(e, op, inLogic)
	}
	for _, op := range simpleOps {
		if p.accept(op + ".") {
			return p.operand(e, op, inLogic)
		}
	}
	for _, op := range quantOps {
		save := p.pos
		if !p.accept(op) {
			continue
		}
		switch {
		case p.accept("(any)"):
			e.Quant = "any"
		case p.accept("(all)"):
			e.Quant = "all"
		}
		if !p.accept(".") {
			p.pos = save
			e.Quant = ""
			continue
		}
		return p.operand(e, op, inLogic)
	}
	p.pos = opStart
	return e, p.unexpected("operator (eq, gt, ...)")
}

// operand completes e, whose operator op and its "." were read, with the
// single value that follows.
func (p *scanner) operand(e OpExpr, op string, inLogic bool) (OpExpr, *Error) {
	e.Op = op
	v, err := p.singleVal(inLogic)
	e.Value = v
	return e, err
}

func (p *scanner) singleVal(inLogic bool) (string, *Error) {
	if !inLogic {
		v := p.s[p.pos:]
		p.pos = len(p.s)
		return v, nil
	}
	save := p.pos
	if q, ok, err := p.quoted(); err == nil && ok && (p.eof() || p.has(",") || p.has(")")) {
		return q, nil
	}
	p.pos = save
	if p.has("{") {
		end := strings.IndexAny(p.s[p.pos+1:], "{}")
		if end >= 0 && p.s[p.pos+1+end] == '}' {
			v := p.s[p.pos : p.pos+end+2]
			p.pos += end + 2
			return v, nil
		}
	}
	start := p.pos
	for !p.eof() && p.s[p.pos] != ',' && p.s[p.pos] != ')' {
		p.pos++
	}
	return p.s[start:p.pos], nil
}

func (p *scanner) listVal() ([]string, *Error) {
	p.ws()
	if !p.accept("(") {
		return nil, p.unexpected(`"("`)
	}
	p.ws()
	var list []string
	err := p.items(func() *Error {
		save := p.pos
		if q, ok, err := p.quoted(); err == nil && ok && (p.has(",") || p.has(")")) {
			list = append(list, q)
		} else {
			p.pos = save
			start := p.pos
			for !p.eof() && p.s[p.pos] != ',' && p.s[p.pos] != ')' {
				p.pos++
			}
			list = append(list, p.s[start:p.pos])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// treePath parses a filter key: rel.rel.column->json->>path.
func treePath(k string) ([]string, Field, error) {
	p := &scanner{s: k, what: "tree path"}
	var names []string
	for {
		n, err := p.fieldName()
		if err != nil {
			return nil, Field{}, err
		}
		names = append(names, n)
		if !p.accept(".") {
			break
		}
	}
	jp, err := p.jsonPath()
	if err != nil {
		return nil, Field{}, err
	}
	if !p.eof() {
		return nil, Field{}, p.unexpected(`".", "->", "->>" or end of input`)
	}
	return names[:len(names)-1], Field{Name: names[len(names)-1], JSONPath: jp}, nil
}
