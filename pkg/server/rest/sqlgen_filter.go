package rest

import "strings"

var simpleOpSQL = map[string]string{
	"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
	"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*",
	"neq": "<>", "cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>",
	"nxr": "&<", "nxl": "&>", "adj": "-|-",
}

var ftsFuncs = map[string]string{
	"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery", "wfts": "websearch_to_tsquery",
}

func starToPercent(v string) string { return strings.ReplaceAll(v, "*", "%") }

// leafSQL writes one filter on qualifier q.
func (s *sqlBuf) leafSQL(q string, l *leaf) {
	e := l.expr
	if l.embed != nil {
		isNull := e.Value == "null"
		if e.Not {
			isNull = !isNull
		}
		s.w(quoteIdent(l.embed.lateral), ".", quoteIdent("pgrst_j"))
		if isNull {
			s.w(" IS NULL")
		} else {
			s.w(" IS NOT NULL")
		}
		return
	}
	if e.Not {
		s.w("NOT ")
	}
	switch e.Op {
	case "is":
		s.fieldSQL(q, l.f)
		switch e.Value {
		case "null":
			s.w(" IS NULL")
		case "not_null":
			s.w(" IS NOT NULL")
		case "true":
			s.w(" IS TRUE")
		case "false":
			s.w(" IS FALSE")
		default:
			s.w(" IS UNKNOWN")
		}
	case "isdistinct":
		s.fieldSQL(q, l.f)
		s.w(" IS DISTINCT FROM ")
		s.arg(e.Value)
	case "in":
		s.fieldSQL(q, l.f)
		if len(e.List) == 1 && e.List[0] == "" {
			s.w(" = ANY('{}')")
			return
		}
		s.w(" = ANY(")
		s.arg(pgArrayLiteral(e.List))
		s.w(")")
	case "fts", "plfts", "phfts", "wfts":
		if l.f.isTS && len(l.f.path) == 0 {
			s.fieldSQL(q, l.f)
		} else {
			s.w("to_tsvector(")
			if e.Lang != "" {
				s.arg(e.Lang)
				s.w("::regconfig, ")
			}
			s.fieldSQL(q, l.f)
			s.w(")")
		}
		s.w(" @@ ", ftsFuncs[e.Op], "(")
		if e.Lang != "" {
			s.arg(e.Lang)
			s.w("::regconfig, ")
		}
		s.arg(e.Value)
		s.w(")")
	default:
		s.fieldSQL(q, l.f)
		s.w(" ", simpleOpSQL[e.Op], " ")
		v := e.Value
		if e.Op == "like" || e.Op == "ilike" {
			v = starToPercent(v)
		}
		switch e.Quant {
		case "any":
			s.w("ANY(")
			s.arg(v)
			s.w(")")
		case "all":
			s.w("ALL(")
			s.arg(v)
			s.w(")")
		default:
			s.arg(v)
		}
	}
}

func (s *sqlBuf) condSQL(q string, c cond) {
	if c.leaf != nil {
		s.leafSQL(q, c.leaf)
		return
	}
	if c.not {
		s.w("NOT ")
	}
	s.w("(")
	if len(c.kids) == 0 {
		if c.or {
			s.w("FALSE")
		} else {
			s.w("TRUE")
		}
	}
	for i, k := range c.kids {
		if i > 0 {
			if c.or {
				s.w(" OR ")
			} else {
				s.w(" AND ")
			}
		}
		s.condSQL(q, k)
	}
	s.w(")")
}

// whereSQL writes the filters of node n, whose table is reachable as q.
func (s *sqlBuf) whereSQL(n *node, q string) { s.whereConds(n.where, q) }

// whereConds writes a WHERE clause of conds on qualifier q.
func (s *sqlBuf) whereConds(conds []cond, q string) {
	for i, w := range conds {
		if i == 0 {
			s.w(" WHERE ")
		} else {
			s.w(" AND ")
		}
		s.condSQL(q, w)
	}
}

func (s *sqlBuf) orderSQL(n *node, q string) {
	for i, o := range n.order {
		if i == 0 {
			s.w(" ORDER BY ")
		} else {
			s.w(", ")
		}
		if o.relation != nil {
			s.fieldSQL(quoteIdent(o.relation.lateral), o.f)
		} else {
			s.fieldSQL(q, o.f)
		}
		if o.hasDir {
			if o.desc {
				s.w(" DESC")
			} else {
				s.w(" ASC")
			}
		}
		switch o.nulls {
		case "first":
			s.w(" NULLS FIRST")
		case "last":
			s.w(" NULLS LAST")
		}
	}
}

func (s *sqlBuf) limitSQL(limit, offset int64) {
	if limit >= 0 {
		s.w(" LIMIT ")
		s.argInt(limit)
	}
	if offset > 0 {
		s.w(" OFFSET ")
		s.argInt(offset)
	}
}

// needsJoinsForCount reports whether counting the root needs its embeds:
// an inner join or a null filter on an embed changes which rows count.
func needsJoinsForCount(n *node) bool {
	for _, c := range n.children {
		if c.inner {
			return true
		}
	}
	var has func(c cond) bool
	has = func(c cond) bool {
		if c.leaf != nil {
			return c.leaf.embed != nil
		}
		for _, k := range c.kids {
			if has(k) {
				return true
			}
		}
		return false
	}
	for _, w := range n.where {
		if has(w) {
			return true
		}
	}
	return false
}
