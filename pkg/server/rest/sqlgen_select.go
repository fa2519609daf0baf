package rest

// outputNames are the JSON keys a node's select produces, used to spread
// a to-one embed into its parent.
func (n *node) outputNames() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, sf := range n.sels {
		if sf.star {
			for _, c := range n.table.Columns {
				add(c.Name)
			}
			continue
		}
		if sf.alias != "" {
			add(sf.alias)
		} else {
			add(sf.f.col)
		}
	}
	if n.allStar && len(n.sels) == 0 {
		for _, c := range n.table.Columns {
			add(c.Name)
		}
	}
	for _, c := range n.children {
		if c.spread {
			for _, x := range c.outputNames() {
				add(x)
			}
		} else if !c.isEmpty() {
			add(c.name)
		}
	}
	return out
}

// isEmpty is true for an embed that selects nothing (rel()), used only to
// filter its parent.
func (n *node) isEmpty() bool {
	return len(n.sels) == 0 && !n.allStar && len(n.children) == 0
}

// selectList writes the select list of node n whose table is reachable as q.
func (s *sqlBuf) selectList(n *node, q string) {
	first := true
	sep := func() {
		if !first {
			s.w(", ")
		}
		first = false
	}
	starDone := false
	if n.allStar && len(n.sels) == 0 {
		sep()
		s.w(q, ".*")
		starDone = true
	}
	for _, sf := range n.sels {
		if sf.star {
			if !starDone {
				sep()
				s.w(q, ".*")
				starDone = true
			}
			continue
		}
		sep()
		if sf.cast != "" {
			s.w("CAST(")
			s.fieldSQL(q, sf.f)
			s.w(" AS ", sf.cast, ")")
		} else {
			s.fieldSQL(q, sf.f)
		}
		if sf.alias != "" {
			s.w(" AS ", quoteIdent(sf.alias))
		}
	}
	for _, c := range n.children {
		lat := quoteIdent(c.lateral)
		switch {
		case c.spread:
			for _, name := range c.outputNames() {
				sep()
				s.w(lat, ".", quoteIdent(name), " AS ", quoteIdent(name))
			}
		case c.isEmpty():
		case c.toOne:
			sep()
			s.w(lat, `."pgrst_j" AS `, quoteIdent(c.name))
		default:
			sep()
			s.w("COALESCE(", lat, `."pgrst_j", '[]') AS `, quoteIdent(c.name))
		}
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
		if c.toOne {
			s.w(`SELECT row_to_json("pgrst_r") AS "pgrst_j", "pgrst_r".* FROM (`)
		} else {
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
	s.selectList(c, q)
	s.w(" FROM ", qualified(c.table.Schema, c.table.Name), " AS ", q)
	if j := c.rel.Junction; j != nil {
		// Many-to-many: the junction joins the target to the parent.
		jq := quoteIdent(c.alias + "_j")
		s.w(" INNER JOIN ", qualified(j.Table.Schema, j.Table.Name), " AS ", jq, " ON ")
		for i, pair := range j.Target {
			if i > 0 {
				s.w(" AND ")
			}
			s.w(jq, ".", quoteIdent(pair[1]), " = ", q, ".", quoteIdent(pair[0]))
		}
		s.joins(c, q)
		s.w(" WHERE ")
		for i, pair := range j.Source {
			if i > 0 {
				s.w(" AND ")
			}
			s.w(jq, ".", quoteIdent(pair[1]), " = ", parentQ, ".", quoteIdent(pair[0]))
		}
	} else {
		s.joins(c, q)
		s.w(" WHERE ")
		for i, pair := range c.rel.Columns {
			if i > 0 {
				s.w(" AND ")
			}
			s.w(q, ".", quoteIdent(pair[1]), " = ", parentQ, ".", quoteIdent(pair[0]))
		}
	}
	for _, w := range c.where {
		s.w(" AND ")
		s.condSQL(q, w)
	}
	s.orderSQL(c, q)
	s.limitSQL(c.limit, c.offset)
}
