package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

func isJSONType(t string) bool { return t == "json" || t == "jsonb" }

// pickFunction chooses the overload whose named parameters fit the
// arguments: every argument is a parameter and every parameter without a
// default is given. A POST may also call a function taking one unnamed
// json/jsonb parameter with the whole body.
func pickFunction(fs []*Function, keys []string, post bool) (*Function, bool, *apiError) {
	var matches []*Function
	for _, f := range fs {
		if fitsArgs(f, keys) {
			matches = append(matches, f)
		}
	}
	if len(matches) == 0 && post {
		for _, f := range fs {
			if len(f.Params) == 1 && f.Params[0].Name == "" && isJSONType(f.Params[0].Type) {
				return f, true, nil
			}
		}
	}
	switch len(matches) {
	case 0:
		return nil, false, nil
	case 1:
		return matches[0], false, nil
	}
	var names []string
	for _, f := range matches {
		var ps []string
		for _, p := range f.Params {
			ps = append(ps, p.Name+" => "+p.Type)
		}
		names = append(names, fmt.Sprintf("%s.%s(%s)", f.Schema, f.Name, strings.Join(ps, ", ")))
	}
	return nil, false, newErr(300, codeAmbiguousRPC, "Could not choose the best candidate function between: "+strings.Join(names, ", ")).
		withHint("Try renaming the parameters or the function itself in the database so function overloading can be resolved")
}

func fitsArgs(f *Function, keys []string) bool {
	for _, k := range keys {
		found := false
		for _, p := range f.Params {
			if p.Name == k {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, p := range f.Params {
		if p.HasDefault {
			continue
		}
		if p.Name == "" || !contains(keys, p.Name) {
			return false
		}
	}
	return true
}

func (rc *reqCtx) noRPC(name string, keys []string, post bool) *apiError {
	fn := rc.req.schema + "." + name
	msg := "Could not find the function " + fn
	det := "Searched for the function " + fn
	if len(keys) == 0 {
		msg += " without parameters"
		det += " without parameters"
	} else {
		msg += "(" + strings.Join(keys, ", ") + ")"
		if len(keys) > 1 {
			det += " with parameters " + strings.Join(keys, ", ")
		} else {
			det += " with parameter " + keys[0]
		}
	}
	if post {
		det += " or with a single unnamed json/jsonb parameter"
	}
	e := newErr(404, codeNoRPC, msg+" in the schema cache").withDetails(det + ", but no matches were found in the schema cache.")
	var names []string
	for k := range rc.snap.Functions {
		if k[0] == rc.req.schema {
			names = append(names, k[1])
		}
	}
	if fs := rc.snap.Functions[[2]string{rc.req.schema, name}]; len(fs) > 0 {
		var sigs []string
		for _, f := range fs {
			var ps []string
			for _, p := range f.Params {
				ps = append(ps, p.Name)
			}
			sort.Strings(ps)
			sigs = append(sigs, "("+strings.Join(ps, ", ")+")")
		}
		sorted := append([]string{}, keys...)
		sort.Strings(sorted)
		if s := suggest("("+strings.Join(sorted, ", ")+")", sigs); s != "" {
			e.withHint("Perhaps you meant to call the function " + fn + s)
		}
	} else if s := suggest(name, names); s != "" {
		e.withHint("Perhaps you meant to call the function " + rc.req.schema + "." + s)
	}
	return e
}

func (rc *reqCtx) rpc() *apiError {
	name := rc.req.name
	read := rc.req.readMethod()
	keys := rc.req.args.names
	body := rc.req.args.body
	getArgs := rc.req.args.values
	inBody := func(k string) bool { return contains(keys, k) }
	fs := rc.snap.Functions[[2]string{rc.req.schema, name}]
	f, wholeBody, aerr := pickFunction(fs, keys, !read)
	if aerr != nil {
		return aerr
	}
	if f == nil || (!read && !rc.req.args.object && !wholeBody) {
		return rc.noRPC(name, keys, !read)
	}

	// The call.
	s := &sqlBuf{}
	scalar := !f.Composite
	call := func() {
		s.w(qualified(f.Schema, f.Name), "(")
		switch {
		case wholeBody:
			s.argBytes(body)
			s.w("::", f.Params[0].Type)
		case read:
			i := 0
			for _, p := range f.Params {
				vals, ok := getArgs[p.Name]
				if !ok {
					continue
				}
				if i > 0 {
					s.w(", ")
				}
				i++
				if p.Variadic {
					s.w("VARIADIC ")
				}
				s.w(quoteIdent(p.Name), " := ")
				if p.Variadic {
					s.arg(pgArrayLiteral(vals))
				} else {
					s.arg(vals[0])
				}
				s.w("::", p.Type)
			}
		default:
			i := 0
			for _, p := range f.Params {
				if !inBody(p.Name) {
					continue
				}
				if i > 0 {
					s.w(", ")
				}
				i++
				if p.Variadic {
					s.w("VARIADIC ")
				}
				s.w(quoteIdent(p.Name), ` := "pgrst_body".`, quoteIdent(p.Name))
			}
		}
		s.w(")")
	}
	s.w("WITH pgrst_source AS (SELECT ")
	if scalar {
		s.w(`pgrst_call."pgrst_scalar"`)
	} else {
		s.w("pgrst_call.*")
	}
	s.w(" FROM ")
	if !read && !wholeBody && len(keys) > 0 {
		s.w("(SELECT ")
		s.argBytes(body)
		s.w("::json AS json_data) pgrst_payload, LATERAL (SELECT ")
		i := 0
		var typed []string
		for _, p := range f.Params {
			if !inBody(p.Name) {
				continue
			}
			if i > 0 {
				s.w(", ")
			}
			i++
			s.w(quoteIdent(p.Name))
			typed = append(typed, quoteIdent(p.Name)+" "+p.Type)
		}
		s.w(" FROM json_to_record(pgrst_payload.json_data) AS _(", strings.Join(typed, ", "), ") LIMIT 1) pgrst_body, LATERAL ")
	}
	if scalar {
		s.w("(SELECT ")
		call()
		s.w(` AS "pgrst_scalar") pgrst_call`)
	} else {
		call()
		s.w(" pgrst_call")
	}
	s.w(")")

	// The result shape.
	var root *node
	if f.RetTable != nil {
		pl := rc.planner()
		var err *apiError
		if root, err = pl.buildTree(f.RetTable, rc.req.query.Select); err != nil {
			return err
		}
		if err := pl.applyParams(root, rc.req.query, rc.maxRowsFor(f), rc.req.rootRange); err != nil {
			return err
		}
	} else {
		t := &Table{Schema: f.Schema, Name: f.Name, Open: true}
		pl := rc.planner()
		var err *apiError
		if scalar {
			root = &node{table: t, allStar: true, limit: -1}
		} else if root, err = pl.buildTree(t, rc.req.query.Select); err != nil {
			return err
		}
		if err := pl.applyParams(root, rc.req.query, rc.maxRowsFor(f), rc.req.rootRange); err != nil {
			return err
		}
	}
	kind := rc.bodyKind()
	switch {
	case f.Void:
		kind = bodyNone
	case kind == bodyCSV:
	case scalar && (!f.ReturnsSet || kind == bodySingle):
		kind = bodyScalar
	case scalar:
		kind = bodyScalarSet
	case !f.ReturnsSet:
		kind = bodySingleComp
	}
	count := rc.req.prefs.count != ""
	total := func() {
		if !count {
			s.w("NULL::bigint")
			return
		}
		s.w("(SELECT pg_catalog.count(*) FROM pgrst_source")
		s.whereSQL(root, "pgrst_source")
		s.w(")")
	}
	s.outerSQL(root, kind, rc.req.accept.strip, total, false, nil, scalar)

	spec := txSpec{readOnly: read || f.Volatility != 'v', rollback: rc.req.prefs.tx == "rollback", stmt: s}
	spec.check = func(res *result) *apiError {
		if rc.req.prefs.handling == "strict" && rc.req.prefs.maxAffected >= 0 {
			if !f.ReturnsSet {
				return newErr(400, "PGRST128", "Function must return SETOF or TABLE when max-affected preference is used with handling=strict")
			}
			if res.pageTotal > rc.req.prefs.maxAffected {
				return newErr(400, codeMaxAffected, "Query result exceeds max-affected preference constraint").
					withDetails(fmt.Sprintf("The query affects %d rows", res.pageTotal))
			}
		}
		if rc.req.accept.mt == mtSingular && f.ReturnsSet && res.pageTotal != 1 {
			return singularErr(res.pageTotal)
		}
		return nil
	}
	res, aerr := rc.run(context.WithoutCancel(rc.r.Context()), spec)
	if aerr != nil {
		return aerr
	}
	pageTotal := res.pageTotal
	if !f.ReturnsSet {
		pageTotal = 1
	}
	var tot *int64
	if count {
		tot = res.total
		if !f.ReturnsSet {
			one := int64(1)
			tot = &one
		}
	}
	status, cr := rangeStatus(root.offset, pageTotal, tot)
	h := rc.w.Header()
	h.Set("Content-Range", cr)
	if pa := rc.req.prefs.applied(false, false, false, true); pa != "" {
		h.Set("Preference-Applied", pa)
	}
	if f.Void {
		return rc.respond(res, 204, nil, false, false)
	}
	if status == 416 {
		writeError(rc.w, newErr(416, codeInvalidRange, "Requested range not satisfiable").
			withDetails(fmt.Sprintf("An offset of %d was requested, but there are only %d rows.", root.offset, derefOr(tot, 0))))
		return nil
	}
	return rc.respond(res, status, res.body, rc.r.Method == http.MethodHead, true)
}

func (rc *reqCtx) maxRowsFor(f *Function) int64 {
	if !f.ReturnsSet {
		return 0
	}
	return int64(rc.s.cfg.MaxRows)
}

// root answers GET / with a minimal OpenAPI description of what is
// exposed (PostgREST serves its full OpenAPI document there).
func (rc *reqCtx) root() *apiError {
	if rc.r.Method != http.MethodGet && rc.r.Method != http.MethodHead {
		return newErr(405, codeMethod, "Unsupported HTTP method: "+rc.r.Method)
	}
	paths := map[string]any{"/": map[string]any{"get": map[string]any{"tags": []string{"Introspection"}, "summary": "OpenAPI description (this document)"}}}
	for k, t := range rc.snap.Tables {
		if k[0] != rc.req.schema {
			continue
		}
		ops := map[string]any{"get": map[string]any{"tags": []string{t.Name}}}
		if t.Insertable {
			ops["post"] = map[string]any{"tags": []string{t.Name}}
		}
		if t.Updatable {
			ops["patch"] = map[string]any{"tags": []string{t.Name}}
		}
		if t.Deletable {
			ops["delete"] = map[string]any{"tags": []string{t.Name}}
		}
		paths["/"+t.Name] = ops
	}
	for k := range rc.snap.Functions {
		if k[0] == rc.req.schema {
			paths["/rpc/"+k[1]] = map[string]any{"post": map[string]any{"tags": []string{"(rpc) " + k[1]}}}
		}
	}
	doc := map[string]any{
		"swagger":  "2.0",
		"info":     map[string]any{"title": "sfp embedded REST (PostgREST-compatible)", "version": "13"},
		"basePath": "/",
		"schemes":  []string{"http"},
		"consumes": []string{"application/json"},
		"produces": []string{"application/json"},
		"paths":    paths,
	}
	b, _ := json.Marshal(doc)
	h := rc.w.Header()
	h.Set("Content-Type", "application/openapi+json; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	rc.w.WriteHeader(200)
	if rc.r.Method == http.MethodGet {
		_, _ = rc.w.Write(b)
	}
	return nil
}
