package rest

// upsertCounters count, in a transaction-local setting, the rows an upsert
// inserted: the INSERT's WHERE adds one per row it tries, DO UPDATE's
// WHERE takes one back per row it updates (both always true), so what is
// left tells 201 from 200.
const (
	insertedPlus  = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) + 1)::text, true) <> '0'"
	insertedMinus = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) - 1)::text, true) <> '-1'"
)

// mutateSQL renders a write: the statement in pgrst_source, then the
// response over its rows.
func mutateSQL(p *mutatePlan) *sqlBuf {
	s := &sqlBuf{}
	switch p.kind {
	case mutateInsert, mutatePut:
		s.insertSQL(p)
	case mutateUpdate:
		s.updateSQL(p)
	default:
		s.deleteSQL(p)
	}
	s.outerSQL(outerSpec{
		root:          p.tree,
		body:          p.body,
		stripNulls:    p.stripNulls,
		countInserted: p.merge(),
		location:      p.location,
	})
	return s
}

func (s *sqlBuf) insertSQL(p *mutatePlan) {
	t := p.table
	s.w("WITH pgrst_source AS (INSERT INTO ", qualified(t.Schema, t.Name))
	if len(p.columns) > 0 {
		s.w("(")
		for i, c := range p.columns {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c.Name))
		}
		s.w(")")
	}
	s.w(" SELECT ")
	for i, c := range p.columns {
		if i > 0 {
			s.w(", ")
		}
		s.w(`"pgrst_body".`, quoteIdent(c.Name))
	}
	s.w(" FROM ")
	s.payloadSQL(p.payload.raw, p.columns, p.defaults, false)
	conds := 0
	where := func() {
		if conds == 0 {
			s.w(" WHERE ")
		} else {
			s.w(" AND ")
		}
		conds++
	}
	if p.merge() {
		where()
		s.w(insertedPlus)
	}
	for i, k := range p.putKey {
		where()
		s.w(`"pgrst_body".`, quoteIdent(t.PK[i]), " = ")
		s.arg(k)
	}
	if p.resolution != "" {
		s.w(" ON CONFLICT (")
		for i, c := range p.conflict {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c))
		}
		s.w(")")
		if p.resolution == "ignore-duplicates" || len(p.columns) == 0 {
			s.w(" DO NOTHING")
		} else {
			s.w(" DO UPDATE SET ")
			for i, c := range p.columns {
				if i > 0 {
					s.w(", ")
				}
				s.w(quoteIdent(c.Name), " = EXCLUDED.", quoteIdent(c.Name))
			}
			s.w(" WHERE ", insertedMinus)
		}
	}
	s.returningSQL(t, p.returning)
	s.w(")")
}

func (s *sqlBuf) updateSQL(p *mutatePlan) {
	t := p.table
	q := qualified(t.Schema, t.Name)
	if len(p.columns) == 0 {
		// Nothing to set: an empty result with the table's shape.
		s.w("WITH pgrst_source AS (SELECT ")
		if p.returning.all || len(p.returning.columns) == 0 {
			s.w(q, ".*")
		} else {
			for i, c := range p.returning.columns {
				if i > 0 {
					s.w(", ")
				}
				s.w(q, ".", quoteIdent(c))
			}
		}
		s.w(" FROM ", q, " WHERE false)")
		return
	}
	s.w("WITH pgrst_source AS (UPDATE ", q, " SET ")
	for i, c := range p.columns {
		if i > 0 {
			s.w(", ")
		}
		s.w(quoteIdent(c.Name), ` = "pgrst_body".`, quoteIdent(c.Name))
	}
	s.w(" FROM ")
	s.payloadSQL(p.payload.raw, p.columns, p.defaults, true)
	s.writeWhere(p)
	s.returningSQL(t, p.returning)
	s.w(")")
}

func (s *sqlBuf) deleteSQL(p *mutatePlan) {
	s.w("WITH pgrst_source AS (DELETE FROM ", qualified(p.table.Schema, p.table.Name))
	s.writeWhere(p)
	s.returningSQL(p.table, p.returning)
	s.w(")")
}

// writeWhere renders the root filters of an update or delete on the table
// itself. A limited one picks its rows by ctid, chosen by the filters and
// the order, so only tables support it.
func (s *sqlBuf) writeWhere(p *mutatePlan) {
	q := qualified(p.table.Schema, p.table.Name)
	if p.limited() {
		s.w(" WHERE ", q, ".ctid = ANY(ARRAY(SELECT ", q, ".ctid FROM ", q)
		s.whereConds(p.filters, q)
		s.orderSQL(p.tree, q)
		s.limitSQL(p.limit.Limit, p.limit.Offset)
		s.w("))")
		return
	}
	s.whereConds(p.filters, q)
}

func (s *sqlBuf) returningSQL(t *Table, r returning) {
	q := qualified(t.Schema, t.Name)
	switch {
	case r.all:
		s.w(" RETURNING ", q, ".*")
	case len(r.columns) == 0:
		s.w(" RETURNING 1")
	default:
		s.w(" RETURNING ")
		for i, c := range r.columns {
			if i > 0 {
				s.w(", ")
			}
			s.w(q, ".", quoteIdent(c))
		}
	}
}

// payloadSQL writes the FROM items that turn the JSON body ($n, always an
// array here) into typed rows named pgrst_body.
func (s *sqlBuf) payloadSQL(body []byte, cols []*Column, defaults bool, limitOne bool) {
	if defaults {
		s.w("(SELECT ")
		s.argBytes(body)
		s.w("::jsonb AS json_data) pgrst_payload, LATERAL (SELECT jsonb_agg(jsonb_build_object(")
		n := 0
		for _, c := range cols {
			if c.Default == "" {
				continue
			}
			if n > 0 {
				s.w(", ")
			}
			n++
			s.w(quoteLiteral(c.Name), ", ", c.Default)
		}
		s.w(") || elem) AS val FROM jsonb_array_elements(pgrst_payload.json_data) elem) pgrst_json_defs, ")
	} else {
		s.w("(SELECT ")
		s.argBytes(body)
		s.w("::json AS json_data) pgrst_payload, ")
	}
	s.w("LATERAL (SELECT ")
	if len(cols) == 0 {
		if defaults {
			s.w("FROM jsonb_array_elements(pgrst_json_defs.val) _")
		} else {
			s.w("FROM json_array_elements(pgrst_payload.json_data) _")
		}
	} else {
		for i, c := range cols {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c.Name))
		}
		if defaults {
			s.w(" FROM jsonb_to_recordset(pgrst_json_defs.val) AS _(")
		} else {
			s.w(" FROM json_to_recordset(pgrst_payload.json_data) AS _(")
		}
		for i, c := range cols {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c.Name), " ", c.Type)
		}
		s.w(")")
	}
	if limitOne {
		s.w(" LIMIT 1")
	}
	s.w(") pgrst_body")
}
