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
	if p.plannedCount() {
		spec.countPlan = countPlanSQL(p.root)
	}
	return rc.execute(ctx, spec, func(res result) *apiError { return rc.respondRead(&p, &res) })
}

// mutate answers POST, PUT, PATCH and DELETE on a table or view.
func (rc *reqCtx) mutate(ctx context.Context) *apiError {
	p, aerr := planMutate(&rc.req, rc.snap.Schema, rc.planOpts())
	if aerr != nil {
		return aerr
	}
	spec := txSpec{rollback: p.rollback, stmt: mutateSQL(&p), checks: p.checks}
	return rc.execute(ctx, spec, func(res result) *apiError { return rc.respondMutate(&p, &res) })
}

// call answers GET, HEAD and POST on /rpc/{fn}.
func (rc *reqCtx) call(ctx context.Context) *apiError {
	p, aerr := planCall(&rc.req, rc.snap.Schema, rc.planOpts())
	if aerr != nil {
		return aerr
	}
	spec := txSpec{readOnly: p.readOnly, rollback: p.rollback, stmt: callSQL(&p), checks: p.checks}
	return rc.execute(ctx, spec, func(res result) *apiError { return rc.respondCall(&p, &res) })
}

// execute is the stage the three handlers share once their SQL is
// rendered: the transaction, then respond maps its result to the
// response; a request for the plan (Accept: application/vnd.pgrst.plan)
// gets EXPLAIN's output instead, which releases spec's statements too.
func (rc *reqCtx) execute(ctx context.Context, spec txSpec, respond func(result) *apiError) *apiError {
	if rc.req.accept.plan != "" {
		return rc.explain(ctx, spec)
	}
	res, aerr := rc.run(ctx, spec)
	if aerr != nil {
		return aerr
	}
	return respond(res)
}

// planOpts are the settings the plans take from the server's
// configuration.
func (rc *reqCtx) planOpts() planOpts {
	return planOpts{maxRows: rc.conf.maxRows, aggregates: rc.conf.aggregates}
}
