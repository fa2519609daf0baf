package query

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

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
	ps := &paramState{out: &Params{}, ranges: map[string]*Range{}, seen: map[string]bool{}, rpcRead: rpcRead}
	for _, pr := range pairs {
		if err := ps.add(pr.k, pr.v); err != nil {
			return nil, err
		}
	}
	for _, r := range ps.rangeOrder {
		ps.out.Ranges = append(ps.out.Ranges, *r)
	}
	return ps.out, nil
}

// paramState accumulates the parameters of one query string.
type paramState struct {
	out        *Params
	ranges     map[string]*Range // by embedding path
	rangeOrder []*Range
	seen       map[string]bool // select, columns, on_conflict: the first one wins
	rpcRead    bool
}

func (ps *paramState) add(k, v string) error {
	switch k {
	case "select", "columns", "on_conflict":
		if ps.seen[k] {
			return nil // the first one wins, as in PostgREST's lookup
		}
		ps.seen[k] = true
		return ps.once(k, v)
	}
	if v == "" {
		// PostgREST drops parameters without a value (except select).
		return nil
	}
	switch lastSegment(k) {
	case "order":
		path, err := pathOf(k)
		if err != nil {
			return err
		}
		terms, err := ParseOrder(v)
		if err != nil {
			return err
		}
		ps.out.Order = append(ps.out.Order, Order{Path: path, Terms: terms})
		return nil
	case "limit", "offset":
		return ps.limitOffset(k, v)
	case "and", "or":
		l, err := ParseLogic(k, v)
		if err != nil {
			return err
		}
		ps.out.Logic = append(ps.out.Logic, l)
		return nil
	}
	return ps.filter(k, v)
}

// once parses select=, columns= and on_conflict=.
func (ps *paramState) once(k, v string) error {
	if k == "select" {
		sel, err := ParseSelect(v)
		if err != nil {
			return err
		}
		if sel == nil {
			sel = []SelectItem{}
		}
		ps.out.Select = sel
		return nil
	}
	cols, err := ParseColumns(k, v)
	if err != nil {
		return err
	}
	if k == "columns" {
		ps.out.Columns = cols
	} else {
		ps.out.OnConflict = cols
	}
	return nil
}

// limitOffset sets the limit or offset of the root or of an embedding.
func (ps *paramState) limitOffset(k, v string) error {
	path, err := pathOf(k)
	if err != nil {
		return err
	}
	key := strings.Join(path, "\x00")
	r := ps.ranges[key]
	if r == nil {
		r = &Range{Path: path, Limit: -1}
		ps.ranges[key] = r
	}
	if !slices.Contains(ps.rangeOrder, r) {
		ps.rangeOrder = append(ps.rangeOrder, r)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return nil // PostgREST ignores a limit or offset that is not a number
	}
	if lastSegment(k) == "limit" {
		if n < 0 {
			return &RangeError{Details: "Limit should be greater than or equal to zero."}
		}
		r.Limit = n
		return nil
	}
	r.Offset = max(n, 0)
	return nil
}

// filter parses column=operator.value; on GET /rpc/fn a value that is not
// an operator expression is a function argument.
func (ps *paramState) filter(k, v string) error {
	path, f, err := treePath(k)
	if err != nil {
		return err
	}
	p := &scanner{s: v, what: "filter"}
	e, perr := p.opExpr(false)
	if perr != nil {
		if ps.rpcRead {
			ps.out.RPCArgs = append(ps.out.RPCArgs, Param{Name: k, Value: v})
			return nil
		}
		return perr
	}
	ps.out.Filters = append(ps.out.Filters, Filter{Path: path, Field: f, Expr: e})
	if len(path) == 0 {
		ps.out.FilterFields = append(ps.out.FilterFields, f.Name)
	}
	return nil
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
