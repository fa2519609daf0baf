package rest

// resultSource is the CTE holding the rows of a write or a call.
const resultSource = "pgrst_source"

// bodyKind is how the result rows become the response body.
type bodyKind int

const (
	bodyArray bodyKind = iota
	bodySingle
	bodyScalar     // RPC returning one scalar
	bodyScalarSet  // RPC returning a set of scalars
	bodySingleComp // RPC returning one composite
	bodyNone
	bodyCSV
)

func (s *sqlBuf) bodySQL(kind bodyKind, strip bool) {
	wrap := func(expr string) string {
		if strip {
			return "json_strip_nulls(" + expr + ")"
		}
		return expr
	}
	switch kind {
	case bodyArray:
		s.w("coalesce(", wrap("json_agg(_postgrest_t)"), ", '[]')::text")
	case bodySingle, bodySingleComp:
		s.w("coalesce(", wrap("json_agg(_postgrest_t)->0"), ", 'null')::text")
	case bodyScalar:
		s.w(`coalesce(json_agg(_postgrest_t."pgrst_scalar")->0, 'null')::text`)
	case bodyScalarSet:
		s.w(`coalesce(json_agg(_postgrest_t."pgrst_scalar"), '[]')::text`)
	case bodyCSV:
		s.w(`(SELECT coalesce(string_agg(a.k, ','), '') FROM (SELECT json_object_keys(r)::text AS k FROM (SELECT row_to_json(hh) AS r FROM pgrst_source AS hh LIMIT 1) s) a)`,
			` || E'\n' || coalesce(string_agg(substring(_postgrest_t::text, 2, length(_postgrest_t::text) - 2), E'\n'), '')`)
	default:
		s.w("NULL::text")
	}
}

// The final SELECT of every statement returns the same columns.
const resultTail = `, nullif(current_setting('response.headers', true), '') AS response_headers` +
	`, nullif(current_setting('response.status', true), '') AS response_status`

// outerSpec is the final SELECT of a write or a call, over the rows in
// pgrst_source.
type outerSpec struct {
	// root is the response's shape over pgrst_source: select list,
	// embeds, and (for a call) filters, order and range.
	root       *node
	body       bodyKind
	stripNulls bool
	// countAll makes total_result_set the count of pgrst_source under
	// the root's filters (a call with Prefer: count); else NULL.
	countAll bool
	// countInserted makes response_inserted the rows an upsert inserted
	// (upsertCounters).
	countInserted bool
	// location lists the columns of the first row that make the Location
	// header (return=headers-only).
	location []string
	// scalar: pgrst_source has the one column pgrst_scalar (a function
	// returning a scalar or a set of scalars).
	scalar bool
}

// outerSQL writes the final SELECT over pgrst_source for mutations and
// RPC: the response shape and the counters. page_total is count(*), not
// count of the whole row: PostgreSQL flattens the subquery of a call to a
// non-volatile scalar function into the outer query, and every reference
// to its row would call the function again.
func (s *sqlBuf) outerSQL(o outerSpec) {
	const q = resultSource
	root := o.root
	s.w(" SELECT ")
	if o.countAll {
		s.w("(SELECT pg_catalog.count(*) FROM pgrst_source")
		s.whereSQL(root, q)
		s.w(")")
	} else {
		s.w("NULL::bigint")
	}
	s.w(" AS total_result_set, pg_catalog.count(*) AS page_total, ")
	s.bodySQL(o.body, o.stripNulls)
	s.w(" AS body", resultTail, ", ")
	if o.countInserted {
		s.w("nullif(current_setting('pgrst.inserted', true), '')::bigint")
	} else {
		s.w("NULL::bigint")
	}
	s.w(" AS response_inserted, ")
	if len(o.location) > 0 {
		s.w("(SELECT array_agg(j.key || '=' || coalesce('eq.' || j.value, 'is.null')) FROM (SELECT row_to_json(_) AS r FROM pgrst_source AS _ LIMIT 1) d CROSS JOIN json_each_text(d.r) AS j WHERE j.key = ANY(")
		s.arg(pgArrayLiteral(o.location))
		s.w("))")
	} else {
		s.w("NULL::text[]")
	}
	s.w(" AS location FROM (")
	switch {
	case o.body == bodyNone:
		s.w("SELECT * FROM pgrst_source")
	case o.scalar:
		s.w(`SELECT pgrst_source."pgrst_scalar" FROM pgrst_source`)
		s.whereSQL(root, q)
		s.orderSQL(root, q)
		s.limitSQL(root.limit, root.offset)
	default:
		s.w("SELECT ")
		groups := s.selectList(root, q)
		s.w(" FROM pgrst_source")
		s.joins(root, q)
		s.whereSQL(root, q)
		s.groupBySQL(groups)
		s.orderSQL(root, q)
		s.limitSQL(root.limit, root.offset)
	}
	s.w(") _postgrest_t")
}
