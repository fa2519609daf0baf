package query

import (
	"net/url"
	"strconv"
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

// --- select ---

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
	save := p.pos
	alias, hasAlias := p.alias()
	if p.accept("count()") {
		it = SelectItem{Field: Field{Name: "*"}, Aggregate: "count", Alias: alias}
		if p.accept("::") {
			c, ok := p.identifier()
			if !ok {
				return SelectItem{}, p.unexpected("letter or digit")
			}
			it.AggregateCast = c
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
	if p.accept("::") {
		c, ok := p.identifier()
		if !ok {
			return SelectItem{}, p.unexpected("letter or digit")
		}
		it.Cast = c
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
		} else if p.accept("::") {
			c, ok := p.identifier()
			if !ok {
				return SelectItem{}, p.unexpected("letter or digit")
			}
			it.AggregateCast = c
		}
	}
	p.ws()
	if !p.selectEnd() {
		return SelectItem{}, p.unexpected(`letter, digit, "-", "->>", "->", "::", ".", ")", "," or end of input`)
	}
	return it, nil
}

// --- filters ---

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
		e.Op = "isdistinct"
		v, err := p.singleVal(inLogic)
		e.Value = v
		return e, err
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
		e.Op = op
		v, err := p.singleVal(inLogic)
		e.Value = v
		return e, err
	}
	for _, op := range simpleOps {
		if p.accept(op + ".") {
			e.Op = op
			v, err := p.singleVal(inLogic)
			e.Value = v
			return e, err
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
		e.Op = op
		v, err := p.singleVal(inLogic)
		e.Value = v
		return e, err
	}
	p.pos = opStart
	return e, p.unexpected("operator (eq, gt, ...)")
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
	for {
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
		if p.accept(",") {
			continue
		}
		if p.accept(")") {
			p.ws()
			return list, nil
		}
		return nil, p.unexpected(`"," or ")"`)
	}
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

// --- logic trees ---

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
	for {
		p.ws()
		c, err := p.logicTree(depth + 1)
		if err != nil {
			return t, err
		}
		t.Children = append(t.Children, c)
		p.ws()
		if p.accept(",") {
			continue
		}
		if p.accept(")") {
			p.ws()
			return t, nil
		}
		return t, p.unexpected(`"," or ")"`)
	}
}

// --- order ---

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

// --- the whole query string ---

type kv struct{ k, v string }

// splitQuery splits a raw query string into decoded pairs in order, with '+'
// as a space (as PostgREST's parseQueryReplacePlus does).
func splitQuery(raw string) ([]kv, error) {
	var out []kv
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, &Error{Message: "failed to parse the query string", Details: err.Error()}
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, &Error{Message: "failed to parse the query string", Details: err.Error()}
		}
		out = append(out, kv{k, v})
	}
	return out, nil
}

func lastSegment(k string) string {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[i+1:]
	}
	return k
}

func pathOf(k string) ([]string, error) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return nil, nil
	}
	p := &scanner{s: k[:i], what: "tree path"}
	var names []string
	for {
		n, err := p.fieldName()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if !p.accept(".") {
			break
		}
	}
	if !p.eof() {
		return nil, p.unexpected(`"." or end of input`)
	}
	return names, nil
}

// Parse parses a raw (still URL-encoded) query string. rpcRead is true for
// GET/HEAD /rpc/fn, where parameters whose value is not an operator
// expression are function arguments.
func Parse(raw string, rpcRead bool) (*Params, error) {
	pairs, err := splitQuery(raw)
	if err != nil {
		return nil, err
	}
	out := &Params{}
	ranges := map[string]*Range{}
	rangeFor := func(k string) (*Range, error) {
		path, err := pathOf(k)
		if err != nil {
			return nil, err
		}
		key := strings.Join(path, "\x00")
		r := ranges[key]
		if r == nil {
			r = &Range{Path: path, Limit: -1}
			ranges[key] = r
		}
		return r, nil
	}
	var rangeOrder []*Range
	seenSelect, seenColumns, seenOnConflict := false, false, false
	for _, pr := range pairs {
		k, v := pr.k, pr.v
		switch k {
		case "select":
			if seenSelect {
				continue // the first one wins, as in PostgREST's lookup
			}
			seenSelect = true
			sel, err := ParseSelect(v)
			if err != nil {
				return nil, err
			}
			if sel == nil {
				sel = []SelectItem{}
			}
			out.Select = sel
			continue
		case "columns":
			if seenColumns {
				continue
			}
			seenColumns = true
			cols, err := ParseColumns("columns", v)
			if err != nil {
				return nil, err
			}
			out.Columns = cols
			continue
		case "on_conflict":
			if seenOnConflict {
				continue
			}
			seenOnConflict = true
			cols, err := ParseColumns("on_conflict", v)
			if err != nil {
				return nil, err
			}
			out.OnConflict = cols
			continue
		}
		if v == "" {
			// PostgREST drops parameters without a value (except select).
			continue
		}
		switch lastSegment(k) {
		case "order":
			path, err := pathOf(k)
			if err != nil {
				return nil, err
			}
			terms, err := ParseOrder(v)
			if err != nil {
				return nil, err
			}
			out.Order = append(out.Order, Order{Path: path, Terms: terms})
		case "limit", "offset":
			r, err := rangeFor(k)
			if err != nil {
				return nil, err
			}
			if !containsRange(rangeOrder, r) {
				rangeOrder = append(rangeOrder, r)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				continue // PostgREST ignores a limit or offset that is not a number
			}
			if lastSegment(k) == "limit" {
				if n < 0 {
					return nil, &RangeError{Details: "Limit should be greater than or equal to zero."}
				}
				r.Limit = n
			} else {
				if n < 0 {
					n = 0
				}
				r.Offset = n
			}
		case "and", "or":
			l, err := ParseLogic(k, v)
			if err != nil {
				return nil, err
			}
			out.Logic = append(out.Logic, l)
		default:
			path, f, err := treePath(k)
			if err != nil {
				return nil, err
			}
			p := &scanner{s: v, what: "filter"}
			e, perr := p.opExpr(false)
			if perr != nil {
				if rpcRead {
					out.RPCArgs = append(out.RPCArgs, Param{Name: k, Value: v})
					continue
				}
				return nil, perr
			}
			out.Filters = append(out.Filters, Filter{Path: path, Field: f, Expr: e})
			if len(path) == 0 {
				out.FilterFields = append(out.FilterFields, f.Name)
			}
		}
	}
	for _, r := range rangeOrder {
		out.Ranges = append(out.Ranges, *r)
	}
	return out, nil
}

func containsRange(rs []*Range, r *Range) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// Root returns the range of the root level, with Limit -1 when absent.
func (p *Params) Root() Range {
	for _, r := range p.Ranges {
		if len(r.Path) == 0 {
			return r
		}
	}
	return Range{Limit: -1}
}
