package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unsafe"

	"github.com/sfp-dev/sfp/pkg/server/rest/pgexec"
)

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
	// countPlan, when set, is an EXPLAIN (FORMAT JSON) run before stmt
	// for count=planned/estimated.
	countPlan *sqlBuf
	// checks inspect the result before commit; a failure rolls back.
	checks resultChecks
}

// scratchBufs hold request.headers while a transaction runs.
var scratchBufs = sync.Pool{New: func() any { return new([]byte) }}

// run executes the request's transaction (pgexec: one pipeline, on a
// shared connection for a read when one has room) and maps what went wrong
// to PostgREST's errors. The result is scanned and checked before a write
// commits, so a failed check rolls it back.
//
// A client that disconnects does not cancel a transaction already under
// way (the statement timeout bounds it): the context's values apply, its
// cancellation does not.
func (rc *reqCtx) run(ctx context.Context, spec txSpec) (result, *apiError) {
	ctx = context.WithoutCancel(ctx)
	defer spec.stmt.release()
	defer spec.countPlan.release()
	scratch := scratchBufs.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxKeptBuffer {
			scratchBufs.Put(scratch)
		}
	}()
	setup, params := rc.setupParams(spec.readOnly, scratch)
	xs := pgexec.Spec{
		Setup:    pgexec.Statement{SQL: setup, Params: params},
		Main:     pgexec.Statement{SQL: spec.stmt.text(), Params: spec.stmt.args},
		ReadOnly: spec.readOnly,
		Rollback: spec.rollback,
	}
	if rc.conf.preRequest != "" {
		xs.PreRequest = &pgexec.Statement{SQL: rc.conf.preRequest}
	}
	if spec.countPlan != nil {
		xs.CountPlan = &pgexec.Statement{SQL: spec.countPlan.text(), Params: spec.countPlan.args}
	}
	if spec.readOnly {
		// Nothing to commit: the result is checked once it is back, with
		// no callback (and none of its allocations) on the hot path.
		r, err := rc.s.exec.Execute(ctx, xs)
		if err != nil {
			return result{}, pgError(err, rc.auth.authed)
		}
		res, err := scanResult(r)
		if err != nil {
			return result{}, pgError(err, rc.auth.authed)
		}
		if aerr := spec.checks.check(&res); aerr != nil {
			return result{}, aerr
		}
		return res, nil
	}
	var res result
	var checkErr *apiError
	xs.Check = func(r *pgexec.Result) error {
		var err error
		if res, err = scanResult(r); err != nil {
			return err
		}
		if checkErr = spec.checks.check(&res); checkErr != nil {
			return checkErr
		}
		return nil
	}
	if _, err := rc.s.exec.Execute(ctx, xs); err != nil {
		if checkErr != nil {
			return result{}, checkErr
		}
		return result{}, pgError(err, rc.auth.authed)
	}
	return res, nil
}

// scanResult reads the statement's row (text format): total_result_set,
// page_total, body, response_headers, response_status,
// response_inserted, location; and the planner's estimate.
func scanResult(r *pgexec.Result) (result, error) {
	v := r.Row
	if len(v) != 7 {
		return result{}, fmt.Errorf("statement returned %d columns, want 7", len(v))
	}
	res := result{body: v[2]}
	var err error
	if res.total, err = parseInt8(v[0]); err != nil {
		return result{}, err
	}
	if v[1] != nil {
		// Never NULL (count(*)); parsed without parseInt8's allocation.
		if res.pageTotal, err = strconv.ParseInt(unsafe.String(unsafe.SliceData(v[1]), len(v[1])), 10, 64); err != nil {
			return result{}, fmt.Errorf("parse page_total %q: %w", v[1], err)
		}
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
		return result{}, err
	}
	if res.location, err = parseTextArray(v[6]); err != nil {
		return result{}, err
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
