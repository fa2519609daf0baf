package query

import ()

// ParseSelect parses a select= value.
func ParseSelect(s string) ([]SelectItem, error) {
	p := &scanner{s: s, what: "select parameter"}
	items, err := p.selectForest(0)
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.unexpected(`"," or end of input`)
	}
	return items, nil
}

const maxDepth = 32

func (p *scanner) selectForest(depth int) ([]SelectItem, *Error) {
	if depth > maxDepth {
		return nil, p.fail("select nested more than %d levels", maxDepth)
	}
	items := []SelectItem{}
	p.ws()
	if p.eof() || p.has(")") {
		return items, nil // empty select: rel() or select=
	}
	for {
		it, err := p.selectItem(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		p.ws()
		if !p.accept(",") {
			return items, nil
		}
		p.ws()
	}
}

func (p *scanner) selectItem(depth int) (SelectItem, *Error) {
	p.ws()
	start := p.pos
	// Spread: ...rel!hint(...)
	if p.accept("...") {
		name, err := p.fieldName()
		if err != nil {
			return SelectItem{}, err
		}
		e := &Embed{Name: name, Spread: true}
		if err := p.embedParams(e); err != nil {
			return SelectItem{}, err
		}
		if !p.accept("(") {
			return SelectItem{}, p.unexpected(`"("`)
		}
		if e.Select, err = p.selectForest(depth + 1); err != nil {
			return SelectItem{}, err
		}
		if !p.accept(")") {
			return SelectItem{}, p.unexpected(`")"`)
		}
		p.ws()
		return SelectItem{Embed: e}, nil
	}
	// Embedded resource: [alias:]name[!p][!p](...)
	if it, ok, err := p.tryRelation(depth); err != nil {
		return SelectItem{}, err
	} else if ok {
		return it, nil
	}
	p.pos = start
	return p.selectField()
}

func (p *scanner) alias() (string, bool) {
	save := p.pos
	name, err := p.fieldName()
	if err == nil && p.has(":") && !p.has("::") {
		p.pos++
		return name, true
	}
	p.pos = save
	return "", false
}

func (p *scanner) tryRelation(depth int) (SelectItem, bool, *Error) {
	save := p.pos
	alias, _ := p.alias()
	name, err := p.fieldName()
	if err != nil || name == "count" {
		p.pos = save
		return SelectItem{}, false, nil
	}
	e := &Embed{Name: name, Alias: alias}
	if !p.has("!") && !p.has("(") {
		p.pos = save
		return SelectItem{}, false, nil
	}
	if err := p.embedParams(e); err != nil {
		return SelectItem{}, false, err
	}
	if !p.accept("(") {
		return SelectItem{}, false, p.unexpected(`"("`)
	}
	sel, perr := p.selectForest(depth + 1)
	if perr != nil {
		return SelectItem{}, false, perr
	}
	if !p.accept(")") {
		return SelectItem{}, false, p.unexpected(`")" or ","`)
	}
	p.ws()
	e.Select = sel
	return SelectItem{Embed: e}, true, nil
}

func (p *scanner) embedParams(e *Embed) *Error {
	for i := 0; i < 2 && p.accept("!"); i++ {
		switch {
		case p.accept("left"):
			e.Join = "left"
		case p.accept("inner"):
			e.Join = "inner"
		default:
			h, err := p.fieldName()
			if err != nil {
				return err
			}
			e.Hint = h
		}
	}
	return nil
}

func (p *scanner) selectEnd() bool {
	return p.eof() || p.has(")") || p.has(",")
}

// cast reads an optional "::type" suffix: the type, or "" when there is
// none.
func (p *scanner) cast() (string, *Error) {
	if !p.accept("::") {
		return "", nil
	}
	c, ok := p.identifier()
	if !ok {
		return "", p.unexpected("letter or digit")
	}
	return c, nil
}

var aggregates = []string{"sum", "avg", "count", "max", "min"}

func (p *scanner) selectField() (SelectItem, *Error) {
	p.ws()
	if p.accept("*") {
		p.ws()
		if p.selectEnd() {
			return SelectItem{Field: Field{Name: "*"}}, nil
		}
		return SelectItem{}, p.unexpected(`")", "," or end of input`)
	}
	var it SelectItem
	var err *Error
	save := p.pos
	alias, hasAlias := p.alias()
	if p.accept("count()") {
		it = SelectItem{Field: Field{Name: "*"}, Aggregate: "count", Alias: alias}
		if it.AggregateCast, err = p.cast(); err != nil {
			return SelectItem{}, err
		}
		p.ws()
		if !p.selectEnd() {
			return SelectItem{}, p.unexpected(`")", "," or end of input`)
		}
		return it, nil
	}
	if !hasAlias {
		p.pos = save
	}
	it.Alias = alias
	f, err := p.field()
	if err != nil {
		return SelectItem{}, err
	}
	it.Field = f
	if it.Cast, err = p.cast(); err != nil {
		return SelectItem{}, err
	}
	if p.has(".") {
		save := p.pos
		p.pos++
		found := false
		for _, a := range aggregates {
			if p.accept(a + "()") {
				it.Aggregate = a
				found = true
				break
			}
		}
		if !found {
			p.pos = save
		} else if it.AggregateCast, err = p.cast(); err != nil {
			return SelectItem{}, err
		}
	}
	p.ws()
	if !p.selectEnd() {
		return SelectItem{}, p.unexpected(`letter, digit, "-", "->>", "->", "::", ".", ")", "," or end of input`)
	}
	return it, nil
}
