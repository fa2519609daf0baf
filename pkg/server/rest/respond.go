package rest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The response stage: each plan's result mapped to status, Content-Range,
// Location, Preference-Applied and body, then the SQL's own
// response.status and response.headers applied.

// reply is a successful response before the SQL's overrides.
type reply struct {
	status int
	body   []byte
	// typed: the response has a body of the negotiated media type
	// (Content-Type and Content-Profile are set, even when it is empty).
	typed bool
	// head: HEAD, the headers alone (and no Content-Length).
	head bool
}

// respondRead answers a read: the page with Content-Range (206 when a
// count shows it is partial), or 416 past the end.
func (rc *reqCtx) respondRead(p *readPlan, res *result) *apiError {
	total := p.total(res)
	status, cr := rangeStatus(p.root.offset, res.pageTotal, total)
	h := rc.w.Header()
	h.Set("Content-Range", cr)
	h.Set("Content-Location", "/"+rc.req.table.Name+canonicalQuery(rc.req.rawQuery))
	setPreferenceApplied(h, p.applied)
	if status == 416 {
		writeError(rc.w, rangeNotSatisfiable(p.root.offset, total))
		return nil
	}
	return rc.respond(res, reply{status: status, body: res.body, typed: true, head: rc.req.method == http.MethodHead})
}

// respondMutate answers a write: 201 (200 when an upsert only updated)
// for POST, 200/201/204 for PUT, 200 with the rows or 204 for PATCH and
// DELETE; Location for return=headers-only.
func (rc *reqCtx) respondMutate(p *mutatePlan, res *result) *apiError {
	h := rc.w.Header()
	setPreferenceApplied(h, p.applied)
	var total *int64
	if p.countTotal {
		n := res.pageTotal
		total = &n
	}
	switch p.kind {
	case mutatePut:
		if !p.representation() {
			return rc.respond(res, reply{status: 204})
		}
		status := 200
		if res.inserted != nil && *res.inserted > 0 {
			status = 201
		}
		return rc.respond(res, reply{status: status, body: res.body, typed: true})
	case mutateInsert:
		if len(res.location) > 0 && res.pageTotal == 1 {
			h.Set("Location", location(p.table, res.location))
		}
		h.Set("Content-Range", contentRange(1, 0, total))
		status := 201
		if p.merge() && res.inserted != nil && *res.inserted <= 0 {
			status = 200
		}
		return rc.respond(res, reply{status: status, body: res.body, typed: p.representation()})
	case mutateDelete:
		h.Set("Content-Range", contentRange(1, 0, total))
	default:
		h.Set("Content-Range", contentRange(0, res.pageTotal-1, total))
	}
	if p.representation() {
		return rc.respond(res, reply{status: 200, body: res.body, typed: true})
	}
	return rc.respond(res, reply{status: 204})
}

// location is the Location header of an insert: the table filtered by
// the key of the row (key=value pairs, as the SQL returned them).
func location(t *Table, pairs []string) string {
	parts := make([]string, 0, len(pairs))
	for _, kv := range pairs {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return "/" + t.Name + "?" + strings.Join(parts, "&")
}

// respondCall answers a call: the result with Content-Range (a function
// not returning a set counts as one row), 204 for void, 416 past the end.
func (rc *reqCtx) respondCall(p *callPlan, res *result) *apiError {
	f := p.function
	pageTotal := res.pageTotal
	if !f.ReturnsSet {
		pageTotal = 1
	}
	var total *int64
	if p.count {
		total = res.total
		if !f.ReturnsSet {
			one := int64(1)
			total = &one
		}
	}
	status, cr := rangeStatus(p.tree.offset, pageTotal, total)
	h := rc.w.Header()
	h.Set("Content-Range", cr)
	setPreferenceApplied(h, p.applied)
	if f.Void {
		return rc.respond(res, reply{status: 204})
	}
	if status == 416 {
		writeError(rc.w, rangeNotSatisfiable(p.tree.offset, total))
		return nil
	}
	return rc.respond(res, reply{status: status, body: res.body, typed: true, head: rc.req.method == http.MethodHead})
}

func setPreferenceApplied(h http.Header, applied prefs) {
	if pa := applied.header(); pa != "" {
		h.Set("Preference-Applied", pa)
	}
}

func rangeNotSatisfiable(offset int64, total *int64) *apiError {
	return newErr(416, codeInvalidRange, "Requested range not satisfiable").
		withDetails(fmt.Sprintf("An offset of %d was requested, but there are only %d rows.", offset, derefOr(total, 0)))
}

func derefOr(p *int64, d int64) int64 {
	if p == nil {
		return d
	}
	return *p
}

// respond writes a successful response: the SQL's overrides, content
// headers and the body.
func (rc *reqCtx) respond(res *result, r reply) *apiError {
	h := rc.w.Header()
	if r.typed {
		h.Set("Content-Type", rc.req.accept.contentType)
		if rc.req.profiled {
			h.Set("Content-Profile", rc.req.schema)
		}
	}
	st, aerr := gucOverrides(res, r.status, h)
	if aerr != nil {
		return aerr
	}
	body := r.body
	if !r.typed {
		body = nil
	}
	if !r.head {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	rc.w.WriteHeader(st)
	if !r.head && len(body) > 0 {
		_, _ = rc.w.Write(body)
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
	keys := slices.Sorted(maps.Keys(vals))
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
