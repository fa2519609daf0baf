package rest

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/sfp-dev/sfp/pkg/embedded/rest/query"
)

// sqlBuf accumulates SQL text and its parameters. Everything that comes
// from a request is either an identifier checked against the schema cache
// and quoted by quoteIdent, a cast checked by the parser to hold only
// letters, digits, '_', '$' and spaces, or a parameter ($n). Parameters
// are in PostgreSQL's text format (the server infers their types).
//
// The text is built in a pooled buffer: text returns it without a copy,
// valid until release (the statement cache keeps a copy of what it keeps).
type sqlBuf struct {
	b      []byte
	args   [][]byte
	pooled *[]byte
}

var sqlBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (s *sqlBuf) w(parts ...string) {
	if s.b == nil {
		s.pooled = sqlBufPool.Get().(*[]byte)
		s.b = (*s.pooled)[:0]
	}
	for _, p := range parts {
		s.b = append(s.b, p...)
	}
}

// text is the SQL, valid until release.
func (s *sqlBuf) text() string { return unsafe.String(unsafe.SliceData(s.b), len(s.b)) }

// release returns the buffer to the pool; s must not be used afterwards.
func (s *sqlBuf) release() {
	if s == nil || s.pooled == nil {
		return
	}
	if cap(s.b) <= maxKeptBuffer {
		*s.pooled = s.b[:0]
		sqlBufPool.Put(s.pooled)
	}
	s.pooled, s.b = nil, nil
}

// arg appends a text parameter and writes its placeholder.
func (s *sqlBuf) arg(v string) { s.argBytes(textParam(v)) }

// argBytes appends a parameter given as bytes (a JSON body) and writes
// its placeholder; nil is sent as an empty value, not NULL.
func (s *sqlBuf) argBytes(v []byte) {
	if v == nil {
		v = []byte{}
	}
	s.args = append(s.args, v)
	s.w("$")
	s.b = strconv.AppendInt(s.b, int64(len(s.args)), 10)
}

// argInt appends an integer parameter and writes its placeholder.
func (s *sqlBuf) argInt(v int64) { s.argBytes(strconv.AppendInt(nil, v, 10)) }

// quoteIdent quotes an identifier, doubling quotes and dropping anything
// from a NUL on (PostgreSQL cannot store NUL in names).
func quoteIdent(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a string literal. It is used only for text that comes
// from the database's own catalog (column names in jsonb_build_object),
// never for request values.
func quoteLiteral(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return `'` + s + `'`
}

func qualified(schema, name string) string { return quoteIdent(schema) + "." + quoteIdent(name) }

// fieldSQL writes q."col" with its JSON path.
func (s *sqlBuf) fieldSQL(q string, f field) {
	if f.toJSON {
		s.w("to_jsonb(", q, ".", quoteIdent(f.col), ")")
	} else {
		s.w(q, ".", quoteIdent(f.col))
	}
	for _, op := range f.path {
		if op.Text {
			s.w("->>")
		} else {
			s.w("->")
		}
		s.arg(op.Key)
		if op.Index {
			s.w("::int")
		}
	}
}

// pgArrayLiteral builds '{"a","b"}' from the values of in.(…); it is sent
// as a parameter, so only array-literal escaping is needed.
func pgArrayLiteral(vals []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if j := strings.IndexByte(v, 0); j >= 0 {
			v = v[:j]
		}
		b.WriteByte('"')
		v = strings.ReplaceAll(v, `\`, `\\`)
		v = strings.ReplaceAll(v, `"`, `\"`)
		b.WriteString(v)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

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
	s.joins(c, q)
	s.w(" WHERE ")
	for i, pair := range c.rel.Columns {
		if i > 0 {
			s.w(" AND ")
		}
		s.w(q, ".", quoteIdent(pair[1]), " = ", parentQ, ".", quoteIdent(pair[0]))
	}
	for _, w := range c.where {
		s.w(" AND ")
		s.condSQL(q, w)
	}
	s.orderSQL(c, q)
	s.limitSQL(c.limit, c.offset)
}

func (s *sqlBuf) whereSQL(n *node, q string) {
	for i, w := range n.where {
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

// readSQL builds the statement of a GET/HEAD on a table or view. The rows
// are a subquery of the final SELECT, not a CTE: PostgreSQL inlines a CTE
// used once anyway, but executing the plan it builds from the subquery is
// measurably cheaper (pgbench, by-key read: about 7% of the backend's
// time). CSV reads the rows twice (header and body) and keeps the CTE.
func readSQL(root *node, kind bodyKind, strip, count bool) *sqlBuf {
	s := &sqlBuf{}
	q := qualified(root.table.Schema, root.table.Name)
	source := func() {
		s.w("SELECT ")
		s.selectList(root, q)
		s.w(" FROM ", q)
		s.joins(root, q)
		s.whereSQL(root, q)
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
	s.bodySQL(kind, strip)
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

// outerSQL writes the final SELECT over pgrst_source for mutations and
// RPC: the response shape (root node over pgrst_source) and the counters.
// page_total is count(*), not count of the whole row: PostgreSQL flattens
// the subquery of a call to a non-volatile scalar function into the outer
// query, and every reference to its row would call the function again.
func (s *sqlBuf) outerSQL(root *node, kind bodyKind, strip bool, total func(), inserted bool, location []string, scalar bool) {
	s.w(" SELECT ")
	total()
	s.w(" AS total_result_set, pg_catalog.count(*) AS page_total, ")
	s.bodySQL(kind, strip)
	s.w(" AS body", resultTail, ", ")
	if inserted {
		s.w("nullif(current_setting('pgrst.inserted', true), '')::bigint")
	} else {
		s.w("NULL::bigint")
	}
	s.w(" AS response_inserted, ")
	if len(location) > 0 {
		s.w("(SELECT array_agg(j.key || '=' || coalesce('eq.' || j.value, 'is.null')) FROM (SELECT row_to_json(_) AS r FROM pgrst_source AS _ LIMIT 1) d CROSS JOIN json_each_text(d.r) AS j WHERE j.key = ANY(")
		s.arg(pgArrayLiteral(location))
		s.w("))")
	} else {
		s.w("NULL::text[]")
	}
	s.w(" AS location FROM (")
	q := "pgrst_source"
	switch {
	case kind == bodyNone:
		s.w("SELECT * FROM pgrst_source")
	case scalar:
		s.w(`SELECT pgrst_source."pgrst_scalar" FROM pgrst_source`)
		s.whereSQL(root, q)
		s.orderSQL(root, q)
		s.limitSQL(root.limit, root.offset)
	default:
		s.w("SELECT ")
		s.selectList(root, q)
		s.w(" FROM pgrst_source")
		s.joins(root, q)
		s.whereSQL(root, q)
		s.orderSQL(root, q)
		s.limitSQL(root.limit, root.offset)
	}
	s.w(") _postgrest_t")
}

// returningCols lists what a mutation must return for the response: the
// selected root columns, the columns embeds join on, and the key for a
// Location header. nil means RETURNING 1.
func returningCols(root *node, t *Table, need bool, pk bool) (all bool, cols []string) {
	if !need && !pk {
		return false, nil
	}
	seen := map[string]bool{}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	if need {
		if root.allStar {
			return true, nil
		}
		for _, sf := range root.sels {
			if sf.star {
				return true, nil
			}
			add(sf.f.col)
		}
		for _, c := range root.children {
			for _, p := range c.rel.Columns {
				add(p[0])
			}
		}
	}
	if pk {
		for _, c := range t.PK {
			add(c)
		}
	}
	return false, cols
}

func (s *sqlBuf) returningSQL(t *Table, all bool, cols []string) {
	q := qualified(t.Schema, t.Name)
	switch {
	case all:
		s.w(" RETURNING ", q, ".*")
	case len(cols) == 0:
		s.w(" RETURNING 1")
	default:
		s.w(" RETURNING ")
		for i, c := range cols {
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

// opExprIsEq reports whether e is a plain eq filter (PUT's key filters).
func opExprIsEq(e query.OpExpr) bool { return e.Op == "eq" && !e.Not && e.Quant == "" }
