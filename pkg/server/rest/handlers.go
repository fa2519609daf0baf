package rest

import (
	"context"
	"net/http"
)

// reqCtx is one request on its way from its plan to its response: set
// once, after parsing.
type reqCtx struct {
	s    *Server
	w    http.ResponseWriter
	req  apiRequest
	snap *snapshot
	auth *authResult
	// conf is the configuration (with the database's settings) the
	// request started with.
	conf *runConfig
}

// Each handler runs PostgREST's stages: plan (plain data, from the request
// and the schema cache), SQL (rendered from the plan), the transaction,
// then the response (mapped from the plan and the result).

// read answers GET and HEAD on a table or view.
func (rc *reqCtx) read(ctx context.Context) *apiError {
	p, aerr := planRead(&rc.req, rc.snap.Schema, rc.planOpts())
	if aerr != nil {
		return aerr
	}
	spec := txSpec{readOnly: true, rollback: p.rollback, stmt: readSQL(&p), checks: p.checks}
	if rc.req.accept.plan != "" {
		return rc.explain(ctx, spec)
	}
	if p.plannedCount() {
		spec.countPlan = countPlanSQL(p.root)
	}
	res, aerr := rc.run(ctx, spec)
	if aerr != nil {
		return aerr
	}
	return rc.respondRead(&p, &res)
}

// mutate answers POST, PUT, PATCH and DELETE on a table or view.
func (rc *reqCtx) mutate(ctx context.Context) *apiError {
	p, aerr := planMutate(&rc.req, rc.snap.Schema, rc.planOpts())
	if aerr != nil {
		return aerr
	}
	spec := txSpec{rollback: p.rollback, stmt: mutateSQL(&p), checks: p.checks}
	if rc.req.accept.plan != "" {
		return rc.explain(ctx, spec)
	}
	res, aerr := rc.run(ctx, spec)
	if aerr != nil {
		return aerr
	}
	return rc.respondMutate(&p, &res)
}

// call answers GET, HEAD and POST on /rpc/{fn}.
func (rc *reqCtx) call(ctx context.Context) *apiError {
	p, aerr := planCall(&rc.req, rc.snap.Schema, rc.planOpts())
	if aerr != nil {
		return aerr
	}
	spec := txSpec{readOnly: p.readOnly, rollback: p.rollback, stmt: callSQL(&p), checks: p.checks}
	if rc.req.accept.plan != "" {
		return rc.explain(ctx, spec)
	}
	res, aerr := rc.run(ctx, spec)
	if aerr != nil {
		return aerr
	}
	return rc.respondCall(&p, &res)
}

// planOpts are the settings the plans take from the server's
// configuration.
func (rc *reqCtx) planOpts() planOpts {
	return planOpts{maxRows: rc.conf.maxRows, aggregates: rc.conf.aggregates}
}
