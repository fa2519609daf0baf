package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/sfp-dev/sfp/pkg/embedded/rest/pgexec"
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
// a buffer the parameters may use (valid until the transaction ends).
func (rc *reqCtx) setupParams(readOnly bool, scratch *[]byte) (string, [][]byte) {
	rs := rc.snap.roleSettings[rc.auth.role]
	ks, vs := rs[0], rs[1]
	n := len(ks)
	if rc.req.prefs.timezone != "" {
		n++
	}
	params := make([][]byte, 0, 7+2*n)
	headers := appendHeadersJSON((*scratch)[:0], rc.r.Header)
	if cap(headers) <= maxKeptBuffer {
		*scratch = headers
	}
	params = append(params, textParam(rc.s.paths[rc.req.schema]), textParam(rc.auth.role), rc.auth.claims,
		textParam(rc.r.Method), textParam(rc.r.URL.Path), headers, cookiesJSON(rc.r))
	for i := range ks {
		params = append(params, textParam(ks[i]), textParam(vs[i]))
	}
	if rc.req.prefs.timezone != "" {
		params = append(params, textParam("timezone"), textParam(rc.req.prefs.timezone))
	}
	return setupSQL(n, readOnly), params
}

// scratchBufs hold request.headers while a transaction runs.
var scratchBufs = sync.Pool{New: func() any { return new([]byte) }}

// run executes the request's transaction (pgexec: one pipeline, on a
// shared connection for a read when one has room) and maps what went wrong
// to PostgREST's errors. The result is scanned and checked before a write
// commits, so a failed check rolls it back.
func (rc *reqCtx) run(ctx context.Context, spec txSpec) (*result, *apiError) {
	defer spec.stmt.release()
	defer spec.plan.release()
	scratch := scratchBufs.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxKeptBuffer {
			scratchBufs.Put(scratch)
		}
	}()
	setup, params := rc.setupParams(spec.readOnly, scratch)
	var res *result
	var checkErr *apiError
	xs := pgexec.Spec{
		Setup:    pgexec.Statement{SQL: setup, Params: params},
		Main:     pgexec.Statement{SQL: spec.stmt.text(), Params: spec.stmt.args},
		ReadOnly: spec.readOnly,
		Rollback: spec.rollback,
		Check: func(r *pgexec.Result) error {
			var err error
			if res, err = scanResult(r); err != nil {
				return err
			}
			if spec.check != nil {
				if checkErr = spec.check(res); checkErr != nil {
					return checkErr
				}
			}
			return nil
		},
	}
	if spec.plan != nil {
		xs.CountPlan = &pgexec.Statement{SQL: spec.plan.text(), Params: spec.plan.args}
	}
	if _, err := rc.s.exec.Execute(ctx, xs); err != nil {
		if checkErr != nil {
			return nil, checkErr
		}
		return nil, pgError(err, rc.auth.authed)
	}
	return res, nil
}

// scanResult reads the statement's row (text format): total_result_set,
// page_total, body, response_headers, response_status,
// response_inserted, location; and the planner's estimate.
func scanResult(r *pgexec.Result) (*result, error) {
	v := r.Row
	if len(v) != 7 {
		return nil, fmt.Errorf("statement returned %d columns, want 7", len(v))
	}
	res := &result{body: v[2]}
	var err error
	if res.total, err = parseInt8(v[0]); err != nil {
		return nil, err
	}
	pt, err := parseInt8(v[1])
	if err != nil {
		return nil, err
	}
	if pt != nil {
		res.pageTotal = *pt
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
		return nil, err
	}
	if res.location, err = parseTextArray(v[6]); err != nil {
		return nil, err
	}
	if r.CountPlan != nil {
		res.planRows = planRows(r.CountPlan)
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

// maxKeptBuffer is the largest buffer kept in a pool for the next
// request (a large request's is dropped).
const maxKeptBuffer = 64 << 10

// textParam is a string as a text-format parameter, without copying: the
// bytes are only read while the Bind message is encoded. An empty string
// is an empty value, never NULL (nil).
func textParam(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// parseInt8 reads a bigint in text format; NULL is nil.
func parseInt8(v []byte) (*int64, error) {
	if v == nil {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parse bigint %q: %w", v, err)
	}
	return &n, nil
}

// parseTextArray reads a one-dimensional text[] in text format; NULL is nil.
func parseTextArray(v []byte) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, fmt.Errorf("parse text[] %q: not a one-dimensional array", v)
	}
	body := v[1 : len(v)-1]
	out := []string{}
	if len(body) == 0 {
		return out, nil
	}
	for i := 0; ; {
		var elem []byte
		if i < len(body) && body[i] == '"' {
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
					if i == len(body) {
						return nil, fmt.Errorf("parse text[] %q: unterminated escape", v)
					}
				}
				elem = append(elem, body[i])
			}
			if i == len(body) {
				return nil, fmt.Errorf("parse text[] %q: unterminated quote", v)
			}
			i++
			out = append(out, string(elem))
		} else {
			j := i
			for j < len(body) && body[j] != ',' {
				j++
			}
			raw := string(body[i:j])
			if raw == "NULL" {
				return nil, fmt.Errorf("parse text[] %q: NULL element", v)
			}
			out = append(out, raw)
			i = j
		}
		if i == len(body) {
			return out, nil
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("parse text[] %q: expected ','", v)
		}
		i++
	}
}
