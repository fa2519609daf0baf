package rest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// argsMode is how a call passes its arguments.
type argsMode int

const (
	// argsNamed: POST with a JSON object, each key a named parameter,
	// typed by json_to_record.
	argsNamed argsMode = iota
	// argsWholeBody: POST whose whole body goes to the function's one
	// unnamed json or jsonb parameter.
	argsWholeBody
	// argsQuery: GET or HEAD, the query string's values as parameters
	// (repeated for a variadic one).
	argsQuery
)

// callArg is a parameter a call passes, in the function's order.
type callArg struct {
	name     string
	typ      string
	variadic bool
	// values are a query-string argument's values (argsQuery); a
	// variadic parameter takes them all as an array.
	values []string
}

// callPlan is a call to a function through /rpc (PostgREST's CallPlan):
// plain data built from the request and the schema cache, rendered by
// callSQL.
type callPlan struct {
	function *Function
	mode     argsMode
	args     []callArg
	// payload is the JSON body of a POST.
	payload []byte
	// tree is the result's shape: select=, filters, order and range over
	// the function's rows (a table's or an open record's columns).
	tree *node
	// scalar: the function returns a scalar or a set of scalars.
	scalar     bool
	body       bodyKind
	stripNulls bool
	// count puts the function's row count (under the filters) in
	// Content-Range.
	count bool
	// readOnly runs the call in a read-only transaction: GET and HEAD,
	// and calls of STABLE or IMMUTABLE functions.
	readOnly bool
	rollback bool
	checks   resultChecks
	// applied are the preferences reported in Preference-Applied.
	applied prefs
}

// planCall builds the plan of a call of req.name: the overload the
// arguments fit, how they are passed, and the result's shape.
func planCall(req *apiRequest, sc *Schema, opts planOpts) (callPlan, *apiError) {
	read := req.readMethod()
	a := req.args
	f, wholeBody, aerr := pickFunction(sc.Functions[[2]string{req.schema, req.name}], a.names, !read)
	if aerr != nil {
		return callPlan{}, aerr
	}
	if f == nil || (!read && !a.object && !wholeBody) {
		return callPlan{}, noRPC(sc, req.schema, req.name, a.names, !read)
	}
	p := callPlan{
		function:   f,
		scalar:     !f.Composite,
		stripNulls: req.accept.stripNulls,
		count:      req.prefs.count != "",
		readOnly:   read || f.Volatility != 'v',
		rollback:   req.prefs.tx == "rollback",
		checks:     resultChecks{maxAffected: -1},
		applied:    req.prefs.honoured(),
	}
	switch {
	case wholeBody:
		p.mode, p.payload = argsWholeBody, a.body
	case read:
		p.mode = argsQuery
		for _, fp := range f.Params {
			if vals, ok := a.values[fp.Name]; ok {
				p.args = append(p.args, callArg{name: fp.Name, typ: fp.Type, variadic: fp.Variadic, values: vals})
			}
		}
	default:
		p.mode, p.payload = argsNamed, a.body
		for _, fp := range f.Params {
			if slices.Contains(a.names, fp.Name) {
				p.args = append(p.args, callArg{name: fp.Name, typ: fp.Type, variadic: fp.Variadic})
			}
		}
	}
	if p.tree, aerr = callTree(req, sc, f, p.scalar, opts); aerr != nil {
		return callPlan{}, aerr
	}
	p.body = callBodyKind(f, req.accept.bodyKind())
	if ma := req.prefs.strictMaxAffected(); ma >= 0 {
		if f.ReturnsSet {
			p.checks.maxAffected = ma
		} else {
			p.checks.maxAffectedNeedsSet = true
		}
	}
	p.checks.singular = req.accept.media == mtSingular && f.ReturnsSet
	p.applied.maxAffected = req.prefs.strictMaxAffected()
	return p, nil
}

// callTree is the shape of a call's result: a table's rows, the columns
// of a composite (any name, PostgreSQL checks it), or a scalar.
func callTree(req *apiRequest, sc *Schema, f *Function, scalar bool, opts planOpts) (*node, *apiError) {
	maxRows := opts.maxRows
	if !f.ReturnsSet {
		maxRows = 0
	}
	pl := &planner{sc: sc, schema: req.schema, aggregates: opts.aggregates}
	t := f.RetTable
	if t == nil {
		t = &Table{Schema: f.Schema, Name: f.Name, Open: true}
	}
	var root *node
	if f.RetTable == nil && scalar {
		root = &node{table: t, allStar: true, limit: -1}
	} else {
		var err *apiError
		if root, err = pl.buildTree(t, req.query.Select); err != nil {
			return nil, err
		}
	}
	if err := pl.applyParams(root, req.query, maxRows, req.rootRange); err != nil {
		return nil, err
	}
	return root, nil
}

// callBodyKind is how a call's rows become the body, given what Accept
// asked for (kind).
func callBodyKind(f *Function, kind bodyKind) bodyKind {
	scalar := !f.Composite
	switch {
	case f.Void:
		return bodyNone
	case kind == bodyCSV:
		return kind
	case scalar && (!f.ReturnsSet || kind == bodySingle):
		return bodyScalar
	case scalar:
		return bodyScalarSet
	case !f.ReturnsSet:
		return bodySingleComp
	}
	return kind
}

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
		if p.Name == "" || !slices.Contains(keys, p.Name) {
			return false
		}
	}
	return true
}

// noRPC is PostgREST's PGRST202, with a hint naming the closest function
// or parameter list.
func noRPC(sc *Schema, schema, name string, keys []string, post bool) *apiError {
	fn := schema + "." + name
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
	for k := range sc.Functions {
		if k[0] == schema {
			names = append(names, k[1])
		}
	}
	if fs := sc.Functions[[2]string{schema, name}]; len(fs) > 0 {
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
		e.withHint("Perhaps you meant to call the function " + schema + "." + s)
	}
	return e
}
