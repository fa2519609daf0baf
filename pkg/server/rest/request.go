package rest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// targetKind is what a request's path addresses.
type targetKind int

const (
	targetRoot     targetKind = iota // "/": the OpenAPI description
	targetRelation                   // "/{table}": a table or view
	targetRoutine                    // "/rpc/{fn}": a function
)

// apiRequest is a request parsed once and not changed afterwards, as
// PostgREST's ApiRequest: everything the plans are built from, so that a
// plan is a function of the request and the schema cache alone.
type apiRequest struct {
	method string
	// schema is the request's schema; profiled is set when
	// Accept-Profile or Content-Profile chose it (the response then
	// names it in Content-Profile).
	schema   string
	profiled bool
	target   targetKind
	// name is the table or function named by the path. table is the
	// relation, looked up while parsing: an unknown one is answered (404)
	// before anything in the query string.
	name  string
	table *Table
	// query is the parsed query string (nil for the root).
	query  *query.Params
	prefs  prefs
	accept accept
	// rootRange is limit/offset of the top level, intersected with the
	// Range header on GET and HEAD.
	rootRange query.Range
	// payload is the JSON body of POST, PUT and PATCH on a relation.
	payload *payload
	// args are the arguments of a call.
	args *callArgs
	// path, rawQuery and header are what the transaction's request.*
	// settings and Content-Location carry.
	path     string
	rawQuery string
	header   http.Header
}

func (req *apiRequest) readMethod() bool {
	return req.method == http.MethodGet || req.method == http.MethodHead
}

// parseRequest parses the request addressed by the path segments segs, in
// PostgREST's order of errors: schema, path, relation, query string,
// Prefer, Accept, then the body.
//
// The request is returned by value: it lives in the request's reqCtx,
// not in an allocation of its own.
func (s *Server) parseRequest(r *http.Request, snap *snapshot, segs []string) (apiRequest, *apiError) {
	req := apiRequest{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header}
	schema, aerr := s.profile(r, req.readMethod())
	if aerr != nil {
		return apiRequest{}, aerr
	}
	req.schema = schema
	req.profiled = r.Header.Get("Accept-Profile") != "" || r.Header.Get("Content-Profile") != ""
	switch {
	case len(segs) == 1 && segs[0] == "":
		req.target = targetRoot
		return req, nil
	case len(segs) == 1:
		req.target, req.name = targetRelation, segs[0]
		if req.table = snap.Table(schema, req.name); req.table == nil {
			return apiRequest{}, tableNotFound(snap.Schema, schema, req.name)
		}
		if aerr := req.parseCommon(r, snap.timezones, false); aerr != nil {
			return apiRequest{}, aerr
		}
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			raw, aerr := s.readWriteBody(r, true)
			if aerr != nil {
				return apiRequest{}, aerr
			}
			if req.payload, aerr = parsePayload(raw, req.query.Columns == nil); aerr != nil {
				return apiRequest{}, aerr
			}
		}
		return req, nil
	case len(segs) == 2 && segs[0] == "rpc":
		req.target, req.name = targetRoutine, segs[1]
		read := req.readMethod()
		if !read && r.Method != http.MethodPost {
			return apiRequest{}, newErr(405, codeInvalidRPC, "Cannot use the "+r.Method+" method on RPC")
		}
		if aerr := req.parseCommon(r, snap.timezones, read); aerr != nil {
			return apiRequest{}, aerr
		}
		if read {
			req.args = queryArgs(req.query.RPCArgs)
			return req, nil
		}
		raw, aerr := s.readWriteBody(r, false)
		if aerr != nil {
			return apiRequest{}, aerr
		}
		if req.args, aerr = bodyArgs(raw); aerr != nil {
			return apiRequest{}, aerr
		}
		return req, nil
	}
	return apiRequest{}, newErr(404, codeInvalidPath, "Invalid path specified in request URL")
}

// parseCommon parses what every endpoint but the root needs: the query
// string, Prefer, Accept and the Range header.
func (req *apiRequest) parseCommon(r *http.Request, timezones zoneSet, rpcRead bool) *apiError {
	q, err := query.Parse(r.URL.RawQuery, rpcRead)
	if err != nil {
		return parseErr(err)
	}
	req.query = q
	req.prefs = parsePrefs(r.Header, timezones)
	if req.prefs.handling == "strict" && len(req.prefs.invalid) > 0 {
		return newErr(400, codeInvalidPrefs, "Invalid preferences given with handling=strict").
			withDetails("Invalid preferences: " + strings.Join(req.prefs.invalid, ", "))
	}
	acc, aerr := negotiate(r.Header)
	if aerr != nil {
		return aerr
	}
	req.accept = acc
	req.rootRange = rootRange(q.Root(), req.readMethod(), r.Header)
	return nil
}

func parseErr(err error) *apiError {
	var qe *query.Error
	if errors.As(err, &qe) {
		return newErr(400, codeParse, qe.Message).withDetails(qe.Details)
	}
	var re *query.RangeError
	if errors.As(err, &re) {
		return newErr(416, codeInvalidRange, "Requested range not satisfiable").withDetails(re.Details)
	}
	return newErr(400, codeParse, err.Error())
}

// readWriteBody checks the Content-Type of a body and reads it, up to
// MaxBodyBytes; a CSV (table writes) or form body comes back as JSON.
func (s *Server) readWriteBody(r *http.Request, table bool) ([]byte, *apiError) {
	kind, aerr := checkContentType(r.Header, table)
	if aerr != nil {
		return nil, aerr
	}
	b, aerr := s.readRawBody(r)
	if aerr != nil {
		return nil, aerr
	}
	switch kind {
	case bodyTypeCSV:
		return csvToJSON(b)
	case bodyTypeForm:
		return formToJSON(b)
	}
	return b, nil
}

// readRawBody reads a request body, up to MaxBodyBytes.
func (s *Server) readRawBody(r *http.Request) ([]byte, *apiError) {
	b, err := readBody(r, s.cfg.MaxBodyBytes)
	if errors.Is(err, errBodyTooLarge) {
		return nil, newErr(413, codeInvalidBody, fmt.Sprintf("Request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
	}
	if err != nil {
		return nil, newErr(400, codeInvalidBody, "Could not read the request body").withDetails(err.Error())
	}
	return b, nil
}

// rootRange intersects limit/offset with the Range header (GET and HEAD
// only).
func rootRange(rng query.Range, read bool, h http.Header) query.Range {
	if !read {
		return rng
	}
	lo, hi, ok := rangeHeader(h)
	if !ok {
		return rng
	}
	// Intersect [offset, offset+limit-1] with [lo, hi].
	start := max(rng.Offset, lo)
	end := int64(-1)
	if rng.Limit >= 0 {
		end = rng.Offset + rng.Limit - 1
	}
	if hi >= 0 && (end < 0 || hi < end) {
		end = hi
	}
	out := query.Range{Offset: start, Limit: -1}
	if end >= 0 {
		out.Limit = max(end-start+1, 0)
	}
	return out
}

// rangeHeader parses "Range: 0-24" (also "items=0-24"); ok is false when
// absent or malformed (PostgREST then ignores it).
func rangeHeader(h http.Header) (lower, upper int64, ok bool) {
	v := strings.TrimSpace(h.Get("Range"))
	v = strings.TrimPrefix(v, "items=")
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	lo, err := strconv.ParseInt(a, 10, 64)
	if err != nil || lo < 0 {
		return 0, 0, false
	}
	if b == "" {
		return lo, -1, true
	}
	hi, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return lo, hi, true
}
