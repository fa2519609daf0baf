package query

import (
	"net/url"
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
