package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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

func (rc *reqCtx) setupArgs(readOnly bool) (string, []any) {
	rs := rc.snap.roleSettings[rc.auth.role]
	ks, vs := rs[0], rs[1]
	n := len(ks)
	if rc.prefs.timezone != "" {
		n++
	}
	args := make([]any, 0, 7+2*n)
	args = append(args, rc.s.paths[rc.schema], rc.auth.role, string(rc.auth.claims), rc.r.Method,
		rc.r.URL.Path, headersJSON(rc.r.Header), cookiesJSON(rc.r))
	for i := range ks {
		args = append(args, ks[i], vs[i])
	}
	if rc.prefs.timezone != "" {
		args = append(args, "timezone", rc.prefs.timezone)
	}
	return setupSQL(n, readOnly), args
}

// run executes the request's transaction. A read-only request is one
// pipeline (settings, statement, Sync) in an implicit transaction: one
// round trip, nothing to commit. A write is BEGIN, settings and statement
// in one pipeline, then COMMIT or ROLLBACK once the result is checked.
func (rc *reqCtx) run(ctx context.Context, spec txSpec) (*result, *apiError) {
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
	b := &pgx.Batch{}
	if !spec.readOnly {
		b.Queue(beginRW)
	}
	setup, setupArgs := rc.setupArgs(spec.readOnly)
	b.Queue(setup, setupArgs...)
	if spec.plan != nil {
		b.Queue(spec.plan.b.String(), spec.plan.args...)
	}
	b.Queue(spec.stmt.b.String(), spec.stmt.args...)
	br := conn.SendBatch(ctx, b)
	res := &result{}
	if !spec.readOnly {
		_, err = br.Exec()
	}
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil && spec.plan != nil {
		var raw []byte
		if err = br.QueryRow().Scan(&raw); err == nil {
			res.planRows = planRows(raw)
		}
	}
	if err == nil {
		err = br.QueryRow().Scan(&res.total, &res.pageTotal, &res.body, &res.gucHeaders, &res.gucStatus, &res.inserted, &res.location)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, pgError(err, rc.auth.authed)
	}
	if spec.check != nil {
		if aerr := spec.check(res); aerr != nil {
			return nil, aerr // a write rolls back in the deferred function
		}
	}
	if spec.readOnly {
		return res, nil
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
