package query

import ()

// ParseOrder parses an order= value.
func ParseOrder(v string) ([]OrderTerm, error) {
	p := &scanner{s: v, what: "order"}
	return commaList(p, p.orderTerm)
}

// commaList parses the whole input as items separated by "," (white
// space around them allowed): order= terms, columns= names.
func commaList[T any](p *scanner, item func() (T, *Error)) ([]T, error) {
	var out []T
	for {
		p.ws()
		v, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.ws()
		if p.accept(",") {
			continue
		}
		if p.eof() {
			return out, nil
		}
		return nil, p.unexpected(`"," or end of input`)
	}
}

func (p *scanner) orderTerm() (OrderTerm, *Error) {
	var t OrderTerm
	save := p.pos
	if name, err := p.fieldName(); err == nil && p.accept("(") {
		f, err := p.field()
		if err != nil {
			return t, err
		}
		if !p.accept(")") {
			return t, p.unexpected(`")"`)
		}
		t.Relation = name
		t.Field = f
	} else {
		p.pos = save
		f, err := p.field()
		if err != nil {
			return t, err
		}
		t.Field = f
	}
	switch {
	case p.accept(".asc"):
		t.HasDir = true
	case p.accept(".desc"):
		t.HasDir, t.Desc = true, true
	}
	switch {
	case p.accept(".nullsfirst"):
		t.Nulls = "first"
	case p.accept(".nullslast"):
		t.Nulls = "last"
	}
	p.ws()
	if !p.eof() && !p.has(",") {
		if p.has(".") {
			p.pos++
			if t.HasDir || t.Nulls != "" {
				return t, p.unexpected(`"nullsfirst" or "nullslast"`)
			}
			return t, p.unexpected(`"asc", "desc", "nullsfirst" or "nullslast"`)
		}
		return t, p.unexpected(`delimiter (.), "," or end of input`)
	}
	return t, nil
}

// ParseColumns parses columns= and on_conflict= values.
func ParseColumns(what, v string) ([]string, error) {
	p := &scanner{s: v, what: what + " parameter"}
	return commaList(p, p.fieldName)
}
