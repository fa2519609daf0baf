package rest

import "strconv"

// isEmpty is true for an embed that selects nothing (rel()), used only to
// filter its parent.
func (n *node) isEmpty() bool {
	return len(n.sels) == 0 && !n.allStar && len(n.children) == 0
}

// selectList writes the select list of node n whose table is reachable
// as q. For a grouped level it returns the positions of the values that
// are not aggregates, its GROUP BY (positions, so a JSON path's parameters
// are not repeated).
func (s *sqlBuf) selectList(n *node, q string) []int {
	pos := 0
	var groups []int
	item := func(agg bool) {
		if pos > 0 {
			s.w(", ")
		}
		pos++
		if n.grouped && !agg {
			groups = append(groups, pos)
		}
	}
	star := func() {
		if !n.grouped {
			item(false)
			s.w(q, ".*")
			return
		}
		for _, c := range n.table.Columns {
			item(false)
			s.w(q, ".", quoteIdent(c.Name))
		}
	}
	starDone := false
	if n.allStar && len(n.sels) == 0 {
		star()
		starDone = true
	}
	for i := range n.sels {
		sf := &n.sels[i]
		switch {
		case sf.star:
			if !starDone {
				star()
				starDone = true
			}
			continue
		case sf.hoistAs != "":
			// Aggregated by the level this spread is spread into.
			item(false)
			s.valueSQL(q, sf)
			s.w(" AS ", quoteIdent(sf.hoistAs))
			continue
		case sf.agg != "":
			item(true)
			s.aggSQL(sf, func() { s.valueSQL(q, sf) })
		default:
			item(false)
			s.valueSQL(q, sf)
		}
		if sf.alias != "" || sf.agg != "" {
			s.w(" AS ", quoteIdent(sf.name()))
		}
	}
	// A grouped level groups by its embeds too: as jsonb, json has no
	// equality.
	asJSONB := ""
	if n.grouped {
		asJSONB = "::jsonb"
	}
	for _, c := range n.children {
		lat := quoteIdent(c.lateral)
		switch {
		case c.spread:
			for _, sc := range c.spreadCols() {
				if sc.agg != nil {
					item(true)
					s.aggSQL(sc.agg, func() { s.w(lat, ".", quoteIdent(sc.src)) })
				} else {
					item(false)
					s.w(lat, ".", quoteIdent(sc.src))
					if !c.toOne {
						s.w(asJSONB)
					}
				}
				s.w(" AS ", quoteIdent(sc.name))
			}
		case c.isEmpty():
		case c.toOne:
			item(false)
			s.w(lat, `."pgrst_j"`, asJSONB, " AS ", quoteIdent(c.name))
		default:
			item(false)
			s.w("COALESCE(", lat, `."pgrst_j"`, asJSONB, ", '[]') AS ", quoteIdent(c.name))
		}
	}
	return groups
}

// valueSQL writes a selected column (or computed field), with its JSON
// path and cast; count() has none.
func (s *sqlBuf) valueSQL(q string, sf *selField) {
	switch {
	case sf.countStar:
		s.w("1")
	case sf.cast != "":
		s.w("CAST(")
		s.fieldSQL(q, sf.f)
		s.w(" AS ", sf.cast, ")")
	default:
		s.fieldSQL(q, sf.f)
	}
}

// aggSQL writes aggregate sf of the value arg writes, with its cast.
func (s *sqlBuf) aggSQL(sf *selField, arg func()) {
	if sf.aggCast != "" {
		s.w("CAST(")
	}
	s.w("pg_catalog.", sf.agg, "(")
	if sf.countStar {
		s.w("*")
	} else {
		arg()
	}
	s.w(")")
	if sf.aggCast != "" {
		s.w(" AS ", sf.aggCast, ")")
	}
}

// groupBySQL writes the GROUP BY of a grouped level.
func (s *sqlBuf) groupBySQL(groups []int) {
	for i, g := range groups {
		if i == 0 {
			s.w(" GROUP BY ")
		} else {
			s.w(", ")
		}
		s.b = strconv.AppendInt(s.b, int64(g), 10)
	}
}

// joins writes the LATERAL joins of n's embeds; q reaches n's table.
func (s *sqlBuf) joins(n *node, q string) {
	for _, c := range n.children {
		lat := quoteIdent(c.lateral)
		if c.inner {
			s.w(" INNER JOIN LATERAL (")
		} else {
			s.w(" LEFT JOIN LATERAL (")
		}
		switch {
		case c.toOne:
			s.w(`SELECT row_to_json("pgrst_r") AS "pgrst_j", "pgrst_r".* FROM (`)
		case c.spread:
			// A to-many spread: each value becomes an array, the arrays
			// correlated; pgrst_j is NULL without rows (for !inner and
			// null filters).
			s.w(`SELECT NULLIF(pg_catalog.count(*), 0) AS "pgrst_j"`)
			for _, sc := range c.spreadCols() {
				s.w(`, COALESCE(json_agg("pgrst_r".`, quoteIdent(sc.src), "), '[]') AS ", quoteIdent(sc.src))
			}
			s.w(" FROM (")
		default:
			s.w(`SELECT json_agg("pgrst_r") AS "pgrst_j" FROM (`)
		}
		s.childSelect(c, q)
		s.w(`) AS "pgrst_r") AS `, lat)
		if c.inner && !c.toOne {
			s.w(" ON ", lat, `."pgrst_j" IS NOT NULL`)
		} else {
			s.w(" ON TRUE")
		}
	}
}

func (s *sqlBuf) childSelect(c *node, parentQ string) {
	q := quoteIdent(c.alias)
	s.w("SELECT ")
	groups := s.selectList(c, q)
	s.childFrom(c, q, parentQ)
	for _, w := range c.where {
		s.w(" AND ")
		s.condSQL(q, w)
	}
	s.groupBySQL(groups)
	s.orderSQL(c, q)
	s.limitSQL(c.limit, c.offset)
}

// childFrom writes the FROM, joins and join conditions of embed c (its
// table reachable as q, its parent's as parentQ), up to a WHERE its
// filters can follow with AND.
func (s *sqlBuf) childFrom(c *node, q, parentQ string) {
	pairs := func(ps [][2]string, left, right string) {
		for i, p := range ps {
			if i > 0 {
				s.w(" AND ")
			}
			s.w(left, ".", quoteIdent(p[1]), " = ", right, ".", quoteIdent(p[0]))
		}
	}
	switch {
	case c.rel.Function != nil:
		// A computed relationship: the function of the parent's row.
		f := c.rel.Function
		s.w(" FROM ", qualified(f.Schema, f.Name), "(")
		if parentQ == resultSource {
			// The rows a write or a call returned: a record of the
			// table's columns (all of them, see returningCols).
			pt := c.parent.table
			s.w("CAST(ROW(", parentQ, ".*) AS ", qualified(pt.Schema, pt.Name), ")")
		} else {
			s.w(parentQ, ".*")
		}
		s.w(") AS ", q)
		s.joins(c, q)
		s.w(" WHERE TRUE")
	case c.rel.Junction != nil:
		// Many-to-many: the junction joins the target to the parent.
		j := c.rel.Junction
		jq := quoteIdent(c.alias + "_j")
		s.w(" FROM ", qualified(c.table.Schema, c.table.Name), " AS ", q)
		s.w(" INNER JOIN ", qualified(j.Table.Schema, j.Table.Name), " AS ", jq, " ON ")
		pairs(j.Target, jq, q)
		s.joins(c, q)
		s.w(" WHERE ")
		pairs(j.Source, jq, parentQ)
	default:
		s.w(" FROM ", qualified(c.table.Schema, c.table.Name), " AS ", q)
		s.joins(c, q)
		s.w(" WHERE ")
		pairs(c.rel.Columns, q, parentQ)
	}
}
