package rest

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// explain answers Accept: application/vnd.pgrst.plan (db-plan-enabled)
// with the EXPLAIN of the statement spec would run, in the same
// transaction context (settings and pre-request). The transaction rolls
// back, unless EXPLAIN ANALYZE ran a write without Prefer: tx=rollback:
// as PostgREST, that commits.
func (rc *reqCtx) explain(ctx context.Context, spec txSpec) *apiError {
	defer spec.stmt.release()
	defer spec.countPlan.release()
	a := rc.req.accept
	if !rc.conf.plan {
		return newErr(406, codeMediaType, "None of these media types are available: "+strings.Split(a.contentType, ";")[0])
	}
	conn, err := rc.s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return pgError(err, rc.auth.authed)
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	scratch := new([]byte)
	setup, params := rc.setupParams(spec.readOnly, scratch)
	stmts := []struct {
		sql    string
		params [][]byte
	}{{"BEGIN", nil}, {setup, params}}
	if rc.conf.preRequest != "" {
		stmts = append(stmts, struct {
			sql    string
			params [][]byte
		}{rc.conf.preRequest, nil})
	}
	for _, st := range stmts {
		if _, err := pc.ExecParams(ctx, st.sql, st.params, nil, nil, nil).Close(); err != nil {
			pc.Exec(ctx, "ROLLBACK").Close() //nolint:errcheck
			return pgError(err, rc.auth.authed)
		}
	}
	opts := append([]string{"FORMAT " + strings.ToUpper(a.plan)}, a.planOptions...)
	rr := pc.ExecParams(ctx, "EXPLAIN ("+strings.Join(opts, ", ")+") "+spec.stmt.text(), spec.stmt.args, nil, nil, nil)
	var lines [][]byte
	for rr.NextRow() {
		if v := rr.Values(); len(v) > 0 {
			lines = append(lines, append([]byte(nil), v[0]...))
		}
	}
	if _, err := rr.Close(); err != nil {
		pc.Exec(ctx, "ROLLBACK").Close() //nolint:errcheck
		return pgError(err, rc.auth.authed)
	}
	end := "ROLLBACK"
	analyze := false
	for _, o := range a.planOptions {
		analyze = analyze || o == "ANALYZE"
	}
	if analyze && !spec.readOnly && !spec.rollback {
		end = "COMMIT"
	}
	if _, err := pc.Exec(ctx, end).ReadAll(); err != nil {
		return pgError(err, rc.auth.authed)
	}
	body := bytes.Join(lines, []byte("\n"))
	h := rc.w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rc.w.WriteHeader(http.StatusOK)
	if rc.req.method != http.MethodHead {
		rc.w.Write(body) //nolint:errcheck
	}
	return nil
}
