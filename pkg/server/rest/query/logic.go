package query

import ()

// ParseLogic parses an and=/or= parameter; key is e.g. "or", "not.and",
// "books.or".
func ParseLogic(key, value string) (Logic, error) {
	kp := &scanner{s: key, what: "logic path"}
	var names []string
	for {
		n, err := kp.fieldName()
		if err != nil {
			return Logic{}, err
		}
		names = append(names, n)
		if !kp.accept(".") {
			break
		}
	}
	if !kp.eof() {
		return Logic{}, kp.unexpected(`"." or end of input`)
	}
	op := names[len(names)-1]
	not := false
	var path []string
	for _, n := range names[:len(names)-1] {
		if n == "not" {
			not = true
			continue
		}
		path = append(path, n)
	}
	text := op + value
	if not {
		text = "not." + text
	}
	p := &scanner{s: text, what: "logic tree"}
	tree, err := p.logicTree(0)
	if err != nil {
		return Logic{}, err
	}
	if !p.eof() {
		return Logic{}, p.unexpected("end of input")
	}
	if tree.Filter != nil {
		return Logic{}, p.fail("expecting logic operator (and, or)")
	}
	return Logic{Path: path, Tree: tree}, nil
}

func (p *scanner) logicTree(depth int) (LogicTree, *Error) {
	if depth > maxDepth {
		return LogicTree{}, p.fail("logic tree nested more than %d levels", maxDepth)
	}
	save := p.pos
	// A filter: field.opexpr
	if f, err := p.field(); err == nil && p.accept(".") {
		if e, err := p.opExpr(true); err == nil {
			return LogicTree{Filter: &Filter{Field: f, Expr: e}}, nil
		}
	}
	p.pos = save
	var t LogicTree
	if p.accept("not.") {
		t.Not = true
	}
	switch {
	case p.accept("and"):
	case p.accept("or"):
		t.Or = true
	default:
		return t, p.unexpected("field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)")
	}
	p.ws()
	if !p.accept("(") {
		return t, p.unexpected(`"("`)
	}
	err := p.items(func() *Error {
		p.ws()
		c, err := p.logicTree(depth + 1)
		if err != nil {
			return err
		}
		t.Children = append(t.Children, c)
		p.ws()
		return nil
	})
	return t, err
}
