package rest

// readPlan is a GET or HEAD on a table or view (PostgREST's ReadPlan):
// plain data built from the request and the schema cache, rendered by
// readSQL.
type readPlan struct {
	// root is the table with its select list, embeds, filters, order and
	// range (db-max-rows applied).
	root       *node
	body       bodyKind
	stripNulls bool
	// count is Prefer: count= ("", exact, planned or estimated);
	// estimateAbove is db-max-rows, the exact count above which
	// count=estimated takes the planner's estimate.
	count         string
	estimateAbove int64
	rollback      bool
	checks        resultChecks
	// applied are the preferences reported in Preference-Applied.
	applied prefs
}

// exactCount reports whether the statement counts the rows (exact, or
// estimated when the count turns out small).
func (p *readPlan) exactCount() bool { return p.count == "exact" || p.count == "estimated" }

// plannedCount reports whether the planner's estimate is asked for.
func (p *readPlan) plannedCount() bool { return p.count == "planned" || p.count == "estimated" }

// planOpts are the settings a plan depends on (the server's
// configuration, possibly from the database).
type planOpts struct {
	// maxRows is db-max-rows (0 for none).
	maxRows int64
	// aggregates is db-aggregates-enabled.
	aggregates bool
}

// planRead builds the plan of a read of req.table.
func planRead(req *apiRequest, sc *Schema, opts planOpts) (readPlan, *apiError) {
	maxRows := opts.maxRows
	pl := &planner{sc: sc, schema: req.schema, aggregates: opts.aggregates}
	root, err := pl.buildTree(req.table, req.query.Select)
	if err != nil {
		return readPlan{}, err
	}
	if err := pl.applyParams(root, req.query, maxRows, req.rootRange); err != nil {
		return readPlan{}, err
	}
	return readPlan{
		root:          root,
		body:          req.accept.bodyKind(),
		stripNulls:    req.accept.stripNulls,
		count:         req.prefs.count,
		estimateAbove: maxRows,
		rollback:      req.prefs.tx == "rollback",
		checks:        resultChecks{maxAffected: -1, singular: req.accept.media == mtSingular},
		applied:       req.prefs.honoured(),
	}, nil
}

// total is the Content-Range total: the exact count or the planner's
// estimate, per Prefer: count=.
func (p *readPlan) total(res *result) *int64 {
	switch p.count {
	case "exact":
		return res.total
	case "planned":
		return res.planRows
	case "estimated":
		if res.total != nil && *res.total > p.estimateAbove && p.estimateAbove > 0 && res.planRows != nil {
			return res.planRows
		}
		return res.total
	}
	return nil
}
