package query

import ()

// ParseOrder parses an order= value.
func ParseOrder(v string) ([]OrderTerm, error) {
	p := &scanner{s: v, what: "order"}
	var terms []OrderTerm
	for {
		p.ws()
		t, err := p.orderTerm()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		p.ws()
		if p.accept(",") {
			continue
		}
		if p.eof() {
			return terms, nil
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
	var cols []string
	for {
		p.ws()
		n, err := p.fieldName()
		if err != nil {
			return nil, err
		}
		cols = append(cols, n)
		p.ws()
		if p.accept(",") {
			continue
		}
		if p.eof() {
			return cols, nil
		}
		return nil, p.unexpected(`"," or end of input`)
	}
}
