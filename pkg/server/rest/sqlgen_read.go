package rest

// readSQL builds the statement of a GET/HEAD on a table or view. The rows
// are a subquery of the final SELECT, not a CTE: PostgreSQL inlines a CTE
// used once anyway, but executing the plan it builds from the subquery is
// measurably cheaper (pgbench, by-key read: about 7% of the backend's
// time). CSV reads the rows twice (header and body) and keeps the CTE.
func readSQL(p *readPlan) *sqlBuf {
	root, kind, count := p.root, p.body, p.exactCount()
	s := &sqlBuf{}
	q := qualified(root.table.Schema, root.table.Name)
	source := func() {
		s.w("SELECT ")
		groups := s.selectList(root, q)
		s.w(" FROM ", q)
		s.joins(root, q)
		s.whereSQL(root, q)
		s.groupBySQL(groups)
		s.orderSQL(root, q)
		s.limitSQL(root.limit, root.offset)
	}
	csv := kind == bodyCSV
	if csv || count {
		s.w("WITH ")
		if csv {
			s.w("pgrst_source AS (")
			source()
			s.w(")")
			if count {
				s.w(", ")
			}
		}
		if count {
			s.w("pgrst_source_count AS (SELECT 1 FROM ", q)
			if needsJoinsForCount(root) {
				s.joins(root, q)
			}
			s.whereSQL(root, q)
			s.w(")")
		}
		s.w(" ")
	}
	s.w("SELECT ")
	if count {
		s.w("(SELECT pg_catalog.count(*) FROM pgrst_source_count)")
	} else {
		s.w("NULL::bigint")
	}
	s.w(" AS total_result_set, pg_catalog.count(*) AS page_total, ")
	s.bodySQL(kind, p.stripNulls)
	s.w(" AS body", resultTail, ", NULL::bigint AS response_inserted, NULL::text[] AS location")
	if csv {
		s.w(" FROM (SELECT * FROM pgrst_source) _postgrest_t")
	} else {
		s.w(" FROM (")
		source()
		s.w(") _postgrest_t")
	}
	return s
}

// countPlanSQL is the EXPLAIN of a read's count, for count=planned and
// count=estimated: the planner's row estimate.
func countPlanSQL(root *node) *sqlBuf {
	s := &sqlBuf{}
	q := qualified(root.table.Schema, root.table.Name)
	s.w("EXPLAIN (FORMAT JSON) SELECT 1 FROM ", q)
	if needsJoinsForCount(root) {
		s.joins(root, q)
	}
	s.whereSQL(root, q)
	return s
}
