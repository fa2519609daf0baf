package rest

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// mutateKind is what a write does.
type mutateKind int

const (
	mutateInsert mutateKind = iota // POST: insert, or upsert with a resolution
	mutatePut                      // PUT: upsert of one row by the key in the URL
	mutateUpdate                   // PATCH
	mutateDelete                   // DELETE
)

// mutatePlan is a write on a table or view (PostgREST's MutatePlan): plain
// data built from the request and the schema cache, rendered by mutateSQL.
type mutatePlan struct {
	kind  mutateKind
	table *Table
	// columns are the columns the payload sets (columns= or the body's
	// keys); payload is the body, defaults set for missing=default (an
	// absent key takes the column's default instead of null).
	columns  []*Column
	payload  *payload
	defaults bool
	// filters are the root filters of an update or delete, on the table
	// itself. limit is its limit/offset: when set, the rows are picked by
	// ctid, in tree's order (PostgREST's limited update and delete).
	filters []cond
	limit   query.Range
	// tree is the response: select= with its embeds over the written
	// rows (the root's own filters act on the write, not here).
	tree *node
	// returning is what RETURNING gives the response.
	returning returning
	// conflict and resolution make an insert an upsert: ON CONFLICT
	// (conflict) DO NOTHING or DO UPDATE. putKey holds PUT's key values
	// from the URL, in the order of the table's primary key.
	conflict   []string
	resolution string
	putKey     []string
	// location lists the key columns of the Location header
	// (return=headers-only).
	location []string
	// body is how the rows become the response body: bodyNone unless
	// return=representation.
	body       bodyKind
	stripNulls bool
	// countTotal puts the affected rows in Content-Range's total.
	countTotal bool
	rollback   bool
	checks     resultChecks
	// applied are the preferences reported in Preference-Applied.
	applied prefs
}

// returning is a RETURNING list: every column, the listed ones, or
// (neither) RETURNING 1.
type returning struct {
	all     bool
	columns []string
}

// representation reports whether the written rows make the response body.
func (p *mutatePlan) representation() bool { return p.body != bodyNone }

// merge reports whether the plan updates conflicting rows (and so counts
// the rows it inserted, for 200 against 201).
func (p *mutatePlan) merge() bool { return p.resolution == "merge-duplicates" }

// limited reports whether limit/offset bound the rows an update or delete
// writes.
func (p *mutatePlan) limited() bool { return p.limit.Limit >= 0 || p.limit.Offset > 0 }

// planMutate builds the plan of POST, PUT, PATCH or DELETE on req.table.
func planMutate(req *apiRequest, sc *Schema, opts planOpts) (mutatePlan, *apiError) {
	t := req.table
	p := mutatePlan{
		table:      t,
		body:       bodyNone,
		payload:    req.payload,
		defaults:   req.prefs.missing == "default",
		stripNulls: req.accept.stripNulls,
		rollback:   req.prefs.tx == "rollback",
		checks:     resultChecks{maxAffected: -1, singular: req.accept.media == mtSingular},
		applied:    req.prefs.honoured(),
	}
	if req.prefs.ret == "representation" {
		p.body = req.accept.bodyKind()
	}
	p.applied.ret = req.prefs.ret
	switch req.method {
	case http.MethodPost:
		p.kind = mutateInsert
	case http.MethodPut:
		p.kind = mutatePut
	case http.MethodPatch:
		p.kind = mutateUpdate
	default:
		p.kind = mutateDelete
	}
	if p.kind != mutateDelete {
		cols, aerr := writeColumns(t, req.payload, req.query.Columns)
		if aerr != nil {
			return mutatePlan{}, aerr
		}
		p.columns = cols
	}
	tree, aerr := mutationTree(req, sc, opts.aggregates)
	if aerr != nil {
		return mutatePlan{}, aerr
	}
	p.tree, p.filters = tree, tree.where
	tree.where = nil
	switch p.kind {
	case mutateInsert, mutatePut:
		aerr = p.planInsert(req)
	default:
		aerr = p.planUpdateDelete(req)
	}
	if aerr != nil {
		return mutatePlan{}, aerr
	}
	return p, nil
}

// planInsert adds what an insert, upsert or PUT needs: PUT's key, the
// conflict target and resolution, Location and the response's counts.
func (p *mutatePlan) planInsert(req *apiRequest) *apiError {
	t := p.table
	put := p.kind == mutatePut
	if put {
		key, aerr := putKey(t, req.query, req.payload)
		if aerr != nil {
			return aerr
		}
		p.putKey = key
		p.checks.putRow = true
	}
	// Upsert target: on_conflict columns or the primary key.
	resolution := req.prefs.resolution
	conflict := req.query.OnConflict
	if conflict == nil {
		conflict = t.PK
	}
	for _, c := range conflict {
		if t.Column(c) == nil {
			return columnNotFound(t, c)
		}
	}
	if len(conflict) == 0 {
		resolution = "" // nothing to conflict on: a plain insert
	}
	switch {
	case put:
		p.resolution, p.conflict = "merge-duplicates", t.PK
	case resolution != "":
		p.resolution, p.conflict = resolution, conflict
	}
	headersOnly := req.prefs.ret == "headers-only" && !put
	p.returning = returningCols(p.tree, t, p.representation(), headersOnly)
	if headersOnly && len(t.PK) > 0 {
		p.location = t.PK
	}
	if !put {
		p.countTotal = req.prefs.count != ""
		p.applied.resolution = p.resolution
		p.applied.missing = req.prefs.missing
	}
	return nil
}

// planUpdateDelete adds what PATCH and DELETE need: the limited range and
// max-affected.
func (p *mutatePlan) planUpdateDelete(req *apiRequest) *apiError {
	p.limit = req.query.Root()
	if p.limited() && p.table.IsView {
		return newErr(400, "PGRST127", "Feature not implemented").
			withDetails("limit and offset on PATCH and DELETE need a table, not a view")
	}
	p.returning = returningCols(p.tree, p.table, p.representation(), false)
	p.countTotal = req.prefs.count != ""
	p.checks.maxAffected = req.prefs.strictMaxAffected()
	p.applied.maxAffected = p.checks.maxAffected
	if p.kind == mutateUpdate {
		p.applied.missing = req.prefs.missing
	}
	return nil
}

// putKey checks PUT's rules and returns the key values from the URL: the
// filters must be eq on all and only the primary key columns (405
// PGRST105), without limit or offset (PGRST114), and the body one row
// carrying the key (PGRST115; the values themselves are compared by the
// statement, and a mismatch writes nothing, which the result check
// answers alike).
func putKey(t *Table, q *query.Params, p *payload) ([]string, *apiError) {
	if r := q.Root(); r.Limit >= 0 || r.Offset > 0 {
		return nil, newErr(400, codePutLimit, "limit/offset querystring parameters are not allowed for PUT")
	}
	vals := map[string]string{}
	ok := len(t.PK) > 0 && len(q.Logic) == 0
	for _, f := range q.Filters {
		if len(f.Path) > 0 {
			continue
		}
		if !opExprIsEq(f.Expr) || len(f.Field.JSONPath) > 0 || !slices.Contains(t.PK, f.Field.Name) {
			ok = false
			break
		}
		if _, dup := vals[f.Field.Name]; dup {
			ok = false
			break
		}
		vals[f.Field.Name] = f.Expr.Value
	}
	if !ok || len(vals) != len(t.PK) {
		return nil, newErr(405, codeInvalidFilters, "Filters must include all and only primary key columns with 'eq' operators")
	}
	if p.rows != 1 {
		return nil, errPutMismatch()
	}
	key := make([]string, len(t.PK))
	for i, k := range t.PK {
		if !slices.Contains(p.keys, k) {
			return nil, errPutMismatch()
		}
		key[i] = vals[k]
	}
	return key, nil
}

func errPutMismatch() *apiError {
	return newErr(400, codePutMatchingPK, "Payload values do not match URL in primary key column(s)")
}

// opExprIsEq reports whether e is a plain eq filter (PUT's key filters).
func opExprIsEq(e query.OpExpr) bool { return e.Op == "eq" && !e.Not && e.Quant == "" }

func columnNotInCache(t *Table, col string) *apiError {
	return newErr(400, codeColumnNotFound, fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", col, t.Name))
}

// writeColumns resolves the columns a write sets: columns= or the keys
// of the body, each checked against the schema cache.
func writeColumns(t *Table, p *payload, columns []string) ([]*Column, *apiError) {
	names := p.keys
	if columns != nil {
		names = columns
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
func mutationTree(req *apiRequest, sc *Schema, aggregates bool) (*node, *apiError) {
	pl := &planner{sc: sc, schema: req.schema, aggregates: aggregates}
	root, err := pl.buildTree(req.table, req.query.Select)
	if err != nil {
		return nil, err
	}
	if err := pl.applyParams(root, req.query, 0, query.Range{Limit: -1}); err != nil {
		return nil, err
	}
	return root, nil
}

// returningCols lists what a mutation must return for the response: the
// selected root columns, the columns embeds join on, and the key for a
// Location header. Neither means RETURNING 1.
func returningCols(root *node, t *Table, need bool, pk bool) returning {
	if !need && !pk {
		return returning{}
	}
	var r returning
	seen := map[string]bool{}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			r.columns = append(r.columns, c)
		}
	}
	if need {
		if root.allStar {
			return returning{all: true}
		}
		for _, c := range root.children {
			if c.rel.Function != nil {
				// A computed relationship takes the whole row.
				return returning{all: true}
			}
		}
		for _, sf := range root.sels {
			if sf.star {
				return returning{all: true}
			}
			if !sf.countStar {
				add(sf.f.col)
			}
		}
		for _, c := range root.children {
			for _, p := range c.rel.Columns {
				add(p[0])
			}
			if j := c.rel.Junction; j != nil {
				for _, p := range j.Source {
					add(p[0])
				}
			}
		}
	}
	if pk {
		for _, c := range t.PK {
			add(c)
		}
	}
	return r
}

// resultChecks are what a result must satisfy before its transaction
// commits; the first that fails answers, and the transaction rolls back.
type resultChecks struct {
	// putRow: PUT wrote exactly one row (the body matched the URL's key).
	putRow bool
	// maxAffectedNeedsSet: max-affected was given (with handling=strict)
	// for a function that does not return a set.
	maxAffectedNeedsSet bool
	// maxAffected: at most this many rows (handling=strict); -1 none.
	maxAffected int64
	// singular: exactly one row (application/vnd.pgrst.object+json).
	singular bool
}

func (c resultChecks) check(res *result) *apiError {
	if c.putRow && res.pageTotal != 1 {
		return errPutMismatch()
	}
	if c.maxAffectedNeedsSet {
		return newErr(400, "PGRST128", "Function must return SETOF or TABLE when max-affected preference is used with handling=strict")
	}
	if c.maxAffected >= 0 && res.pageTotal > c.maxAffected {
		return newErr(400, codeMaxAffected, "Query result exceeds max-affected preference constraint").
			withDetails(fmt.Sprintf("The query affects %d rows", res.pageTotal))
	}
	if c.singular && res.pageTotal != 1 {
		return singularErr(res.pageTotal)
	}
	return nil
}

func singularErr(n int64) *apiError {
	return newErr(406, codeSingular, "Cannot coerce the result to a single JSON object").
		withDetails(fmt.Sprintf("The result contains %d rows", n))
}
