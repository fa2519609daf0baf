package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sfp-dev/sfp/pkg/embedded/rest/query"
)

// reqCtx is one request on its way through planning and execution: set
// once, after parsing.
type reqCtx struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	req  *apiRequest
	snap *snapshot
	auth *authResult
}

func (rc *reqCtx) relation() *apiError {
	t := rc.req.table
	switch rc.r.Method {
	case http.MethodGet, http.MethodHead:
		return rc.read(t)
	case http.MethodPost:
		return rc.insert(t, false)
	case http.MethodPut:
		return rc.insert(t, true)
	case http.MethodPatch:
		return rc.update(t)
	case http.MethodDelete:
		return rc.delete(t)
	}
	return newErr(405, codeMethod, "Unsupported HTTP method: "+rc.r.Method)
}

func (rc *reqCtx) bodyKind() bodyKind {
	switch rc.req.accept.mt {
	case mtSingular:
		return bodySingle
	case mtCSV:
		return bodyCSV
	}
	return bodyArray
}

func (rc *reqCtx) planner() *planner { return &planner{sc: rc.snap.Schema, schema: rc.req.schema} }

func singularErr(n int64) *apiError {
	return newErr(406, codeSingular, "Cannot coerce the result to a single JSON object").
		withDetails(fmt.Sprintf("The result contains %d rows", n))
}

// countPlan prepares count=planned|estimated: an EXPLAIN of the count.
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

func (rc *reqCtx) read(t *Table) *apiError {
	pl := rc.planner()
	root, err := pl.buildTree(t, rc.req.query.Select)
	if err != nil {
		return err
	}
	rng := rc.req.rootRange
	if err := pl.applyParams(root, rc.req.query, int64(rc.s.cfg.MaxRows), rng); err != nil {
		return err
	}
	exact := rc.req.prefs.count == "exact" || rc.req.prefs.count == "estimated"
	stmt := readSQL(root, rc.bodyKind(), rc.req.accept.strip, exact)
	spec := txSpec{readOnly: true, rollback: rc.req.prefs.tx == "rollback", stmt: stmt}
	if rc.req.prefs.count == "planned" || rc.req.prefs.count == "estimated" {
		spec.plan = countPlanSQL(root)
	}
	if rc.req.accept.mt == mtSingular {
		spec.check = func(res *result) *apiError {
			if res.pageTotal != 1 {
				return singularErr(res.pageTotal)
			}
			return nil
		}
	}
	res, aerr := rc.run(context.WithoutCancel(rc.r.Context()), spec)
	if aerr != nil {
		return aerr
	}
	total := rc.countTotal(res)
	status, cr := rangeStatus(root.offset, res.pageTotal, total)
	h := rc.w.Header()
	h.Set("Content-Range", cr)
	canon := canonicalQuery(rc.r.URL.RawQuery)
	h.Set("Content-Location", "/"+t.Name+canon)
	if pa := rc.req.prefs.applied(false, false, false, false); pa != "" {
		h.Set("Preference-Applied", pa)
	}
	body := res.body
	if status == 416 {
		e := newErr(416, codeInvalidRange, "Requested range not satisfiable").
			withDetails(fmt.Sprintf("An offset of %d was requested, but there are only %d rows.", root.offset, derefOr(total, 0)))
		writeError(rc.w, e)
		return nil
	}
	return rc.respond(res, status, body, rc.r.Method == http.MethodHead, true)
}

func derefOr(p *int64, d int64) int64 {
	if p == nil {
		return d
	}
	return *p
}

// countTotal picks the total for Content-Range from the exact count or
// the planner's estimate, per Prefer: count=.
func (rc *reqCtx) countTotal(res *result) *int64 {
	switch rc.req.prefs.count {
	case "exact":
		return res.total
	case "planned":
		return res.planRows
	case "estimated":
		if res.total != nil && *res.total > int64(rc.s.cfg.MaxRows) && rc.s.cfg.MaxRows > 0 && res.planRows != nil {
			return res.planRows
		}
		return res.total
	}
	return nil
}

// rangeStatus is PostgREST's rangeStatusHeader.
func rangeStatus(lower, queryTotal int64, total *int64) (int, string) {
	upper := lower + queryTotal - 1
	totalStr := "*"
	if total != nil {
		totalStr = strconv.FormatInt(*total, 10)
	}
	rangeStr := "*"
	if (total == nil || *total != 0) && lower <= upper {
		rangeStr = strconv.FormatInt(lower, 10) + "-" + strconv.FormatInt(upper, 10)
	}
	status := 200
	if total != nil {
		switch {
		case lower > *total:
			status = 416
		case 1+upper-lower < *total:
			status = 206
		}
	}
	return status, rangeStr + "/" + totalStr
}

func contentRange(lower, upper int64, total *int64) string {
	_, s := rangeStatus(lower, upper-lower+1, total)
	return s
}

// canonicalQuery is the query string sorted by key, as in Content-Location.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	if strings.ContainsAny(raw, "%+;") || strings.Count(raw, "&") >= 64 {
		return canonicalQuerySlow(raw)
	}
	// Without escapes or semicolons url.ParseQuery would only split: do
	// the same on a slice, sort it stably by key, and encode it alike.
	type kv struct{ k, v string }
	var buf [16]kv
	pairs := buf[:0]
	for rest := raw; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		pairs = append(pairs, kv{k, v})
	}
	slices.SortStableFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	b.Grow(len(raw) + len(raw)/2 + 1)
	b.WriteByte('?')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.v))
	}
	return b.String()
}

func canonicalQuerySlow(raw string) string {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range vals[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return "?" + b.String()
}

// respond writes a successful response: GUC overrides, content headers
// and the body.
func (rc *reqCtx) respond(res *result, status int, body []byte, head bool, withBody bool) *apiError {
	h := rc.w.Header()
	if withBody {
		h.Set("Content-Type", rc.req.accept.ct)
		if rc.req.profiled {
			h.Set("Content-Profile", rc.req.schema)
		}
	}
	st, aerr := gucOverrides(res, status, h)
	if aerr != nil {
		return aerr
	}
	if !withBody {
		body = nil
	}
	if !head {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	rc.w.WriteHeader(st)
	if !head && len(body) > 0 {
		_, _ = rc.w.Write(body)
	}
	return nil
}

func columnNotInCache(t *Table, col string) *apiError {
	return newErr(400, codeColumnNotFound, fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", col, t.Name))
}

// writeColumns resolves the columns a write sets: columns= or the keys
// of the body, each checked against the schema cache.
func (rc *reqCtx) writeColumns(t *Table, p *payload) ([]*Column, *apiError) {
	names := p.keys
	if rc.req.query.Columns != nil {
		names = rc.req.query.Columns
	}
	cols := make([]*Column, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		c := t.Column(n)
		if c == nil {
			return nil, columnNotInCache(t, n)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// mutationTree builds the response shape of a write: select= with its
// embeds (and their filters); the root's own filters act on the write.
func (rc *reqCtx) mutationTree(t *Table) (*node, *apiError) {
	pl := rc.planner()
	sel := rc.req.query.Select
	root, err := pl.buildTree(t, sel)
	if err != nil {
		return nil, err
	}
	if err := pl.applyParams(root, rc.req.query, 0, query.Range{Limit: -1}); err != nil {
		return nil, err
	}
	return root, nil
}

// writeWhere renders the root filters of a write on the table itself.
// A limit or offset on PATCH/DELETE limits the rows written, chosen by
// the root filters and order (PostgREST's limited update/delete); the rows
// are picked by ctid, so only tables support it.
func writeWhere(s *sqlBuf, root *node, t *Table, rng query.Range) {
	q := qualified(t.Schema, t.Name)
	if rng.Limit >= 0 || rng.Offset > 0 {
		s.w(" WHERE ", q, ".ctid = ANY(ARRAY(SELECT ", q, ".ctid FROM ", q)
		s.whereSQL(root, q)
		s.orderSQL(root, q)
		s.limitSQL(rng.Limit, rng.Offset)
		s.w("))")
		return
	}
	s.whereSQL(root, q)
}

func (rc *reqCtx) writeRange(t *Table) (query.Range, *apiError) {
	rng := rc.req.query.Root()
	if (rng.Limit >= 0 || rng.Offset > 0) && t.IsView {
		return rng, newErr(400, "PGRST127", "Feature not implemented").
			withDetails("limit and offset on PATCH and DELETE need a table, not a view")
	}
	return rng, nil
}

const (
	insertedPlus  = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) + 1)::text, true) <> '0'"
	insertedMinus = "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) - 1)::text, true) <> '-1'"
)

func (rc *reqCtx) insert(t *Table, isPut bool) *apiError {
	p := rc.req.payload
	cols, aerr := rc.writeColumns(t, p)
	if aerr != nil {
		return aerr
	}
	root, aerr := rc.mutationTree(t)
	if aerr != nil {
		return aerr
	}
	var putVals map[string]string
	if isPut {
		if r := rc.req.query.Root(); r.Limit >= 0 || r.Offset > 0 {
			return newErr(400, codePutLimit, "limit/offset querystring parameters are not allowed for PUT")
		}
		putVals = map[string]string{}
		ok := len(t.PK) > 0 && len(rc.req.query.Logic) == 0
		for _, f := range rc.req.query.Filters {
			if len(f.Path) > 0 {
				continue
			}
			if !opExprIsEq(f.Expr) || len(f.Field.JSONPath) > 0 || !contains(t.PK, f.Field.Name) {
				ok = false
				break
			}
			if _, dup := putVals[f.Field.Name]; dup {
				ok = false
				break
			}
			putVals[f.Field.Name] = f.Expr.Value
		}
		if !ok || len(putVals) != len(t.PK) {
			return newErr(405, codeInvalidFilters, "Filters must include all and only primary key columns with 'eq' operators")
		}
		if p.rows != 1 {
			return newErr(400, codePutMatchingPK, "Payload values do not match URL in primary key column(s)")
		}
		for _, k := range t.PK {
			if !contains(p.keys, k) {
				return newErr(400, codePutMatchingPK, "Payload values do not match URL in primary key column(s)")
			}
		}
		root.where = nil
	}
	// Upsert target: on_conflict columns or the primary key.
	resolution := rc.req.prefs.resolution
	conflict := rc.req.query.OnConflict
	if conflict == nil {
		conflict = t.PK
	}
	for _, c := range conflict {
		if t.Column(c) == nil {
			return columnNotFound(t, c)
		}
	}
	if len(conflict) == 0 {
		resolution = ""
	}
	if isPut {
		resolution = "merge-duplicates"
		conflict = t.PK
	}
	merge := resolution == "merge-duplicates"
	ret := rc.req.prefs.ret
	headersOnly := ret == "headers-only" && !isPut
	need := ret == "representation"
	all, rcols := returningCols(root, t, need, headersOnly)
	defaults := rc.req.prefs.missing == "default"

	s := &sqlBuf{}
	s.w("WITH pgrst_source AS (INSERT INTO ", qualified(t.Schema, t.Name))
	if len(cols) > 0 {
		s.w("(")
		for i, c := range cols {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c.Name))
		}
		s.w(")")
	}
	s.w(" SELECT ")
	for i, c := range cols {
		if i > 0 {
			s.w(", ")
		}
		s.w(`"pgrst_body".`, quoteIdent(c.Name))
	}
	s.w(" FROM ")
	s.payloadSQL(p.raw, cols, defaults, false)
	var conds []func()
	if merge {
		conds = append(conds, func() { s.w(insertedPlus) })
	}
	if isPut {
		for _, k := range t.PK {
			k := k
			conds = append(conds, func() {
				s.w(`"pgrst_body".`, quoteIdent(k), " = ")
				s.arg(putVals[k])
			})
		}
	}
	for i, c := range conds {
		if i == 0 {
			s.w(" WHERE ")
		} else {
			s.w(" AND ")
		}
		c()
	}
	if resolution != "" {
		s.w(" ON CONFLICT (")
		for i, c := range conflict {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c))
		}
		s.w(")")
		if resolution == "ignore-duplicates" || len(cols) == 0 {
			s.w(" DO NOTHING")
		} else {
			s.w(" DO UPDATE SET ")
			for i, c := range cols {
				if i > 0 {
					s.w(", ")
				}
				s.w(quoteIdent(c.Name), " = EXCLUDED.", quoteIdent(c.Name))
			}
			s.w(" WHERE ", insertedMinus)
		}
	}
	s.returningSQL(t, all, rcols)
	s.w(")")
	kind := bodyNone
	if need {
		kind = rc.bodyKind()
	}
	var location []string
	if headersOnly && len(t.PK) > 0 {
		location = t.PK
	}
	totalExpr := func() { s.w("NULL::bigint") }
	root.where = nil
	s.outerSQL(root, kind, rc.req.accept.strip, totalExpr, merge, location, false)

	spec := txSpec{rollback: rc.req.prefs.tx == "rollback", stmt: s}
	spec.check = func(res *result) *apiError {
		if isPut && res.pageTotal != 1 {
			return newErr(400, codePutMatchingPK, "Payload values do not match URL in primary key column(s)")
		}
		if rc.req.accept.mt == mtSingular && res.pageTotal != 1 {
			return singularErr(res.pageTotal)
		}
		return nil
	}
	res, aerr := rc.run(context.WithoutCancel(rc.r.Context()), spec)
	if aerr != nil {
		return aerr
	}
	h := rc.w.Header()
	if isPut {
		status := 204
		if need {
			status = 200
			if res.inserted != nil && *res.inserted > 0 {
				status = 201
			}
		}
		if pa := rc.req.prefs.applied(false, false, true, false); pa != "" {
			h.Set("Preference-Applied", pa)
		}
		return rc.respond(res, status, res.body, false, need)
	}
	if len(res.location) > 0 && res.pageTotal == 1 {
		var parts []string
		for _, kv := range res.location {
			k, v, _ := strings.Cut(kv, "=")
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		h.Set("Location", "/"+t.Name+"?"+strings.Join(parts, "&"))
	}
	var total *int64
	if rc.req.prefs.count == "exact" || rc.req.prefs.count == "estimated" || rc.req.prefs.count == "planned" {
		n := res.pageTotal
		total = &n
	}
	h.Set("Content-Range", contentRange(1, 0, total))
	if pa := rc.req.prefs.applied(resolution != "" && (len(t.PK) > 0 || rc.req.query.OnConflict != nil), true, true, false); pa != "" {
		h.Set("Preference-Applied", pa)
	}
	status := 201
	if merge && res.inserted != nil && *res.inserted <= 0 {
		status = 200
	}
	return rc.respond(res, status, res.body, false, need)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (rc *reqCtx) maxAffectedCheck(res *result) *apiError {
	if rc.req.prefs.handling == "strict" && rc.req.prefs.maxAffected >= 0 && res.pageTotal > rc.req.prefs.maxAffected {
		return newErr(400, codeMaxAffected, "Query result exceeds max-affected preference constraint").
			withDetails(fmt.Sprintf("The query affects %d rows", res.pageTotal))
	}
	if rc.req.accept.mt == mtSingular && res.pageTotal != 1 {
		return singularErr(res.pageTotal)
	}
	return nil
}

func (rc *reqCtx) update(t *Table) *apiError {
	p := rc.req.payload
	cols, aerr := rc.writeColumns(t, p)
	if aerr != nil {
		return aerr
	}
	root, aerr := rc.mutationTree(t)
	if aerr != nil {
		return aerr
	}
	rng, aerr := rc.writeRange(t)
	if aerr != nil {
		return aerr
	}
	need := rc.req.prefs.ret == "representation"
	all, rcols := returningCols(root, t, need, false)
	s := &sqlBuf{}
	q := qualified(t.Schema, t.Name)
	if len(cols) == 0 {
		// Nothing to set: an empty result with the table's shape.
		s.w("WITH pgrst_source AS (SELECT ")
		if all || len(rcols) == 0 {
			s.w(q, ".*")
		} else {
			for i, c := range rcols {
				if i > 0 {
					s.w(", ")
				}
				s.w(q, ".", quoteIdent(c))
			}
		}
		s.w(" FROM ", q, " WHERE false)")
	} else {
		s.w("WITH pgrst_source AS (UPDATE ", q, " SET ")
		for i, c := range cols {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(c.Name), ` = "pgrst_body".`, quoteIdent(c.Name))
		}
		s.w(" FROM ")
		s.payloadSQL(p.raw, cols, rc.req.prefs.missing == "default", true)
		writeWhere(s, root, t, rng)
		s.returningSQL(t, all, rcols)
		s.w(")")
	}
	kind := bodyNone
	if need {
		kind = rc.bodyKind()
	}
	root.where = nil
	s.outerSQL(root, kind, rc.req.accept.strip, func() { s.w("NULL::bigint") }, false, nil, false)
	res, aerr := rc.run(context.WithoutCancel(rc.r.Context()), txSpec{rollback: rc.req.prefs.tx == "rollback", stmt: s, check: rc.maxAffectedCheck})
	if aerr != nil {
		return aerr
	}
	return rc.writeResult(res, need)
}

// writeResult answers PATCH and DELETE: 200 with the rows or 204.
func (rc *reqCtx) writeResult(res *result, need bool) *apiError {
	h := rc.w.Header()
	var total *int64
	if rc.req.prefs.count != "" {
		n := res.pageTotal
		total = &n
	}
	if rc.r.Method == http.MethodDelete {
		h.Set("Content-Range", contentRange(1, 0, total))
	} else {
		h.Set("Content-Range", contentRange(0, res.pageTotal-1, total))
	}
	if pa := rc.req.prefs.applied(false, rc.r.Method == http.MethodPatch, true, true); pa != "" {
		h.Set("Preference-Applied", pa)
	}
	if need {
		return rc.respond(res, 200, res.body, false, true)
	}
	return rc.respond(res, 204, nil, false, false)
}

func (rc *reqCtx) delete(t *Table) *apiError {
	root, aerr := rc.mutationTree(t)
	if aerr != nil {
		return aerr
	}
	rng, aerr := rc.writeRange(t)
	if aerr != nil {
		return aerr
	}
	need := rc.req.prefs.ret == "representation"
	all, rcols := returningCols(root, t, need, false)
	s := &sqlBuf{}
	s.w("WITH pgrst_source AS (DELETE FROM ", qualified(t.Schema, t.Name))
	writeWhere(s, root, t, rng)
	s.returningSQL(t, all, rcols)
	s.w(")")
	kind := bodyNone
	if need {
		kind = rc.bodyKind()
	}
	root.where = nil
	s.outerSQL(root, kind, rc.req.accept.strip, func() { s.w("NULL::bigint") }, false, nil, false)
	res, aerr := rc.run(context.WithoutCancel(rc.r.Context()), txSpec{rollback: rc.req.prefs.tx == "rollback", stmt: s, check: rc.maxAffectedCheck})
	if aerr != nil {
		return aerr
	}
	return rc.writeResult(res, need)
}
