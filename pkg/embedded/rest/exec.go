package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// setupSQL sets the request context, as PostgREST does at the start of
// every transaction, followed by n pairs of parameters for the
// impersonated role's own settings (ALTER ROLE … SET) and the Prefer
// timezone. The text depends only on n, so each variant is prepared once
// per connection.
func setupSQL(n int, readOnly bool) string {
	if n < len(setupSQLs) {
		if readOnly {
			return setupSQLsRO[n]
		}
		return setupSQLs[n]
	}
	return buildSetupSQL(n, readOnly)
}

var setupSQLs, setupSQLsRO = func() (rw, ro []string) {
	for i := 0; i < 8; i++ {
		rw = append(rw, buildSetupSQL(i, false))
		ro = append(ro, buildSetupSQL(i, true))
	}
	return rw, ro
}()

func buildSetupSQL(n int, readOnly bool) string {
	var b strings.Builder
	b.WriteString("select ")
	if readOnly {
		// Reads run in the implicit transaction of one pipeline (until its
		// Sync): made read-only here instead of by a BEGIN.
		b.WriteString("set_config('transaction_read_only', 'on', true), ")
	}
	b.WriteString(`set_config('search_path', $1, true), set_config('role', $2, true),` +
		` set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true),` +
		` set_config('request.path', $5, true), set_config('request.headers', $6, true),` +
		` set_config('request.cookies', $7, true)`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, ", set_config($%d, $%d, true)", 8+2*i, 9+2*i)
	}
	return b.String()
}

const beginRW = "begin isolation level read committed"

// result is the single row every generated statement returns.
type result struct {
	total      *int64
	pageTotal  int64
	body       []byte
	gucHeaders *string
	gucStatus  *string
	inserted   *int64
	location   []string
	planRows   *int64
}

// txSpec is one request's transaction.
type txSpec struct {
	readOnly bool
	rollback bool // Prefer: tx=rollback
	stmt     *sqlBuf
	// plan, when set, is an EXPLAIN (FORMAT JSON) run before stmt for
	// count=planned/estimated.
	plan *sqlBuf
	// check inspects the result before commit; an error rolls back.
	check func(*result) *apiError
}

// setupParams returns the setup statement and its parameters; scratch is
// a buffer the parameters may use (valid until the pipeline is written).
func (rc *reqCtx) setupParams(readOnly bool, scratch *[]byte) (string, [][]byte) {
	rs := rc.snap.roleSettings[rc.auth.role]
	ks, vs := rs[0], rs[1]
	n := len(ks)
	if rc.prefs.timezone != "" {
		n++
	}
	params := make([][]byte, 0, 7+2*n)
	headers := appendHeadersJSON((*scratch)[:0], rc.r.Header)
	if cap(headers) <= maxKeptBuffer {
		*scratch = headers
	}
	params = append(params, textParam(rc.s.paths[rc.schema]), textParam(rc.auth.role), rc.auth.claims,
		textParam(rc.r.Method), textParam(rc.r.URL.Path), headers, cookiesJSON(rc.r))
	for i := range ks {
		params = append(params, textParam(ks[i]), textParam(vs[i]))
	}
	if rc.prefs.timezone != "" {
		params = append(params, textParam("timezone"), textParam(rc.prefs.timezone))
	}
	return setupSQL(n, readOnly), params
}

// run executes the request's transaction. A read-only request is one
// pipeline (settings, statement, Sync) in an implicit transaction: one
// round trip, nothing to commit; it goes on a shared read connection when
// one has room (mux.go). A write is BEGIN, settings and statement in one
// pipeline, then COMMIT or ROLLBACK once the result is checked.
func (rc *reqCtx) run(ctx context.Context, spec txSpec) (*result, *apiError) {
	defer spec.stmt.release()
	defer spec.plan.release()
	if spec.readOnly && rc.s.mux != nil {
		if mc := rc.s.mux.acquire(ctx); mc != nil {
			res, err := rc.sendShared(mc, spec)
			rc.s.mux.done(mc)
			if err == nil {
				rc.s.mux.shared.Add(1)
				return rc.checked(res, spec)
			}
			if !errors.Is(err, errMuxDead) && !isLostStatement(err) {
				return nil, pgError(err, rc.auth.authed)
			}
			rc.s.mux.retried.Add(1)
			// The shared connection broke or lost its statements before
			// answering: a read is safe to run again on a connection of
			// its own.
		}
	}
	conn, err := rc.s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return nil, pgError(err, rc.auth.authed)
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			_, _ = conn.Exec(context.Background(), "rollback")
		}
		conn.Release()
	}()
	pc := conn.Conn().PgConn()
	res, err := rc.send(ctx, pc, spec)
	if isLostStatement(err) && !conn.Conn().IsClosed() {
		// Someone else discarded this connection's prepared statements
		// (nothing ran: the statement could not be bound). Prepare anew.
		connStatements(pc).forget()
		if pc.TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "rollback")
		}
		res, err = rc.send(ctx, pc, spec)
	}
	if err != nil {
		return nil, pgError(err, rc.auth.authed)
	}
	if spec.readOnly {
		return rc.checked(res, spec)
	}
	if _, aerr := rc.checked(res, spec); aerr != nil {
		return nil, aerr // a write rolls back in the deferred function
	}
	end := "commit"
	if spec.rollback {
		end = "rollback"
	}
	if _, err := conn.Exec(ctx, end); err != nil {
		return nil, pgError(err, rc.auth.authed)
	}
	return res, nil
}

// checked applies the spec's check to a read's result.
func (rc *reqCtx) checked(res *result, spec txSpec) (*result, *apiError) {
	if spec.check != nil {
		if aerr := spec.check(res); aerr != nil {
			return nil, aerr
		}
	}
	return res, nil
}

// scratchBufs hold request.headers for reads on shared connections (a
// pooled connection keeps its own buffer).
var scratchBufs = sync.Pool{New: func() any { return new([]byte) }}

// sendShared runs a read's pipeline on a shared connection.
func (rc *reqCtx) sendShared(mc *muxConn, spec txSpec) (*result, error) {
	scratch := scratchBufs.Get().(*[]byte)
	p, res, rows := rc.pipeline(spec, scratch)
	err := mc.run(p)
	if cap(*scratch) <= maxKeptBuffer {
		scratchBufs.Put(scratch)
	}
	if err != nil {
		return nil, err
	}
	if *rows != 1 {
		return nil, fmt.Errorf("statement returned %d rows, want 1", *rows)
	}
	return res, nil
}

// send runs the request's pipeline and reads the statement's row.
func (rc *reqCtx) send(ctx context.Context, pc *pgconn.PgConn, spec txSpec) (*result, error) {
	p, res, rows := rc.pipeline(spec, &connStatements(pc).scratch)
	if err := p.run(ctx, pc); err != nil {
		return nil, err
	}
	if *rows != 1 {
		return nil, fmt.Errorf("statement returned %d rows, want 1", *rows)
	}
	return res, nil
}

// pipeline builds the request's statements: BEGIN for a write, the
// settings, the planner's estimate when asked for, the statement.
func (rc *reqCtx) pipeline(spec txSpec, scratch *[]byte) (*pipeline, *result, *int) {
	p := &pipeline{}
	if !spec.readOnly {
		p.add(beginRW, nil, nil)
	}
	setup, params := rc.setupParams(spec.readOnly, scratch)
	p.add(setup, params, nil)
	res := &result{}
	if spec.plan != nil {
		p.add(spec.plan.text(), spec.plan.args, func(v [][]byte) error {
			if len(v) > 0 {
				res.planRows = planRows(v[0])
			}
			return nil
		})
	}
	rows := new(int)
	p.add(spec.stmt.text(), spec.stmt.args, func(v [][]byte) error {
		*rows++
		return res.scan(v)
	})
	return p, res, rows
}

// scan reads the statement's row (text format): total_result_set,
// page_total, body, response_headers, response_status,
// response_inserted, location.
func (res *result) scan(v [][]byte) error {
	if len(v) != 7 {
		return fmt.Errorf("statement returned %d columns, want 7", len(v))
	}
	var err error
	if res.total, err = parseInt8(v[0]); err != nil {
		return err
	}
	pt, err := parseInt8(v[1])
	if err != nil {
		return err
	}
	if pt != nil {
		res.pageTotal = *pt
	}
	if v[2] != nil {
		res.body = append(make([]byte, 0, len(v[2])), v[2]...)
	}
	if v[3] != nil {
		h := string(v[3])
		res.gucHeaders = &h
	}
	if v[4] != nil {
		st := string(v[4])
		res.gucStatus = &st
	}
	if res.inserted, err = parseInt8(v[5]); err != nil {
		return err
	}
	res.location, err = parseTextArray(v[6])
	return err
}

func planRows(raw []byte) *int64 {
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if json.Unmarshal(raw, &plan) != nil || len(plan) == 0 {
		return nil
	}
	n := int64(plan[0].Plan.Rows)
	return &n
}

// gucOverrides applies response.status and response.headers set by the
// SQL (PostgREST's response GUCs); headers already present are kept.
func gucOverrides(res *result, status int, h map[string][]string) (int, *apiError) {
	if res.gucStatus != nil {
		n := 0
		for _, c := range *res.gucStatus {
			if c < '0' || c > '9' {
				return 0, newErr(500, "PGRST112", "response.status guc must be a valid status code")
			}
			n = n*10 + int(c-'0')
		}
		if n < 100 || n > 999 {
			return 0, newErr(500, "PGRST112", "response.status guc must be a valid status code")
		}
		status = n
	}
	if res.gucHeaders != nil {
		var hs []map[string]string
		if json.Unmarshal([]byte(*res.gucHeaders), &hs) != nil {
			return 0, newErr(500, "PGRST111", "response.headers guc must be a JSON array composed of objects with a single key and a string value")
		}
		seen := map[string]bool{}
		for _, m := range hs {
			if len(m) != 1 {
				return 0, newErr(500, "PGRST111", "response.headers guc must be a JSON array composed of objects with a single key and a string value")
			}
			for k, v := range m {
				ck := canonicalHeader(k)
				if !seen[ck] {
					// The function's headers replace the server's.
					delete(h, ck)
					seen[ck] = true
				}
				h[ck] = append(h[ck], v)
			}
		}
	}
	return status, nil
}

func canonicalHeader(k string) string {
	parts := strings.Split(strings.ToLower(k), "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}
