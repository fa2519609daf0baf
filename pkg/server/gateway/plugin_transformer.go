package gateway

import (
	"fmt"
	"net/http"
	"strings"
)

type namedTemplate struct {
	name  string
	value *template
}

type renamePair struct{ from, to string }

type transformOps struct {
	remove          []string
	rename          []renamePair
	replace, add    []namedTemplate
	append          []namedTemplate
	removeQ         []string
	renameQ         []renamePair
	replaceQ, addQ  []namedTemplate
	appendQ         []namedTemplate
	uri             *template
	needsHeaderEnv  bool
	needsQueryEnv   bool
	templated       int // entries whose value has an expression
	touchesQuery    bool
	touchesHeaders  bool
	hostReplacement bool
}

type requestTransformer struct{ ops transformOps }

func buildRequestTransformer(conf *object, p *parser) (plugin, error) {
	t := &requestTransformer{}
	if err := conf.unsupported("http_method", nil, " (method changes)"); err != nil {
		return nil, err
	}
	for _, op := range []string{"remove", "rename", "replace", "add", "append"} {
		sub, err := conf.sub(op, fmt.Sprintf("%s.%s", conf.what, op))
		if err != nil {
			return nil, err
		}
		if err := sub.unsupported("body", isEmptyList, " (body transformations)"); err != nil {
			return nil, err
		}
		if op == "replace" {
			uri, err := sub.str("uri", "")
			if err != nil {
				return nil, err
			}
			if uri != "" {
				if t.ops.uri, err = compileTemplate(uri); err != nil {
					return nil, p.d.errf(sub.line("uri"), "%s: uri: %v", sub.what, err)
				}
				if !t.ops.uri.plain {
					t.ops.templated++
				}
			}
		}
		for _, target := range []string{"headers", "querystring"} {
			entries, err := sub.strings(target)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if err := t.addEntry(op, target, e); err != nil {
					return nil, p.d.errf(sub.line(target), "%s.%s: %v", sub.what, target, err)
				}
			}
		}
		if err := sub.done(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addEntry parses "name:value" as Kong does: the name runs to the first
// colon, further colons are skipped, and the rest is the value.
func (t *requestTransformer) addEntry(op, target, entry string) error {
	name, value, hasColon := strings.Cut(entry, ":")
	value = strings.TrimLeft(value, ":")
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("entry %q has no name", entry)
	}
	headers := target == "headers"
	if headers && !validHeaderName(name) {
		return fmt.Errorf("%q is not a valid header name", name)
	}
	if op != "remove" && !hasColon {
		return fmt.Errorf("key '%s' has no value", entry)
	}
	o := &t.ops
	if headers {
		o.touchesHeaders = true
	} else {
		o.touchesQuery = true
	}
	switch op {
	case "remove":
		if headers {
			o.remove = append(o.remove, name)
		} else {
			o.removeQ = append(o.removeQ, name)
		}
		return nil
	case "rename":
		to := strings.TrimSpace(value)
		if to == "" || (headers && !validHeaderName(to)) {
			return fmt.Errorf("rename %q needs a valid new name", entry)
		}
		if headers {
			o.rename = append(o.rename, renamePair{name, to})
		} else {
			o.renameQ = append(o.renameQ, renamePair{name, to})
		}
		return nil
	}
	if headers {
		value = strings.TrimSpace(value) // HTTP drops optional whitespace around values
	}
	tpl, err := compileTemplate(value)
	if err != nil {
		return err
	}
	if !tpl.plain {
		o.needsHeaderEnv, o.needsQueryEnv = true, true
		o.templated++
	}
	nt := namedTemplate{name: name, value: tpl}
	switch {
	case op == "replace" && headers:
		o.replace = append(o.replace, nt)
	case op == "add" && headers:
		o.add = append(o.add, nt)
	case op == "append" && headers:
		o.append = append(o.append, nt)
	case op == "replace":
		o.replaceQ = append(o.replaceQ, nt)
	case op == "add":
		o.addQ = append(o.addQ, nt)
	default:
		o.appendQ = append(o.appendQ, nt)
	}
	return nil
}

// transformRun is one request's pass through a request-transformer.
// Templates see the request as it was when the plugin started, as in
// Kong, where the template environment is read before any change: the
// tables read the live request and take a copy just before the first
// change (copy on write), which most requests never need. The tables are
// made only when an expression is evaluated or a copy is due, so a
// request that renders nothing allocates nothing here.
type transformRun struct {
	x        *exchange
	o        *transformOps
	env      *templateEnv
	ht       *headerTable
	qt       *queryTable
	rendered int // expressions evaluated so far
}

// hasTables tells whether this plugin's templates read the request.
func (r *transformRun) hasTables() bool { return r.o.needsHeaderEnv || r.o.uri != nil }

func (r *transformRun) tables() {
	if r.env == nil {
		r.ht, r.qt = &headerTable{h: r.x.header}, &queryTable{q: r.x.query}
		r.env = &templateEnv{headers: r.ht, query: r.qt}
	}
}

// snapshot is called before each change of the request: while an
// expression may still read the tables, they must keep the original.
func (r *transformRun) snapshot() {
	if !r.hasTables() || r.rendered >= r.o.templated {
		return
	}
	r.tables()
	if !r.ht.copied {
		r.ht.h, r.ht.copied = r.x.header.Clone(), true
		r.qt.q = r.x.query.clone()
	}
}

func (r *transformRun) render(tpl *template, header bool) (string, bool) {
	var env *templateEnv
	if !tpl.plain {
		r.rendered++
		if r.hasTables() {
			r.tables()
			env = r.env
		} else {
			env = &templateEnv{}
		}
	}
	v, err := tpl.render(env)
	if err != nil {
		r.x.g.logger.Error("request-transformer template failed", "route", r.x.route.route.Name, "error", err)
		return "", false
	}
	if header {
		v = strings.TrimSpace(v)
		if strings.ContainsAny(v, "\r\n\x00") {
			r.x.g.logger.Error("request-transformer template rendered an invalid header value", "route", r.x.route.route.Name)
			return "", false
		}
	}
	return v, true
}

// holdsOnly reports whether h's one value for name is v already, so that
// setting it would change nothing. kong.yml's REST routes replace the
// Authorization header with a template whose value, for a client sending
// its own bearer token, is that same header: skipping the no-op spares the
// request the copy of its headers and query that a change would take
// first (snapshot).
func holdsOnly(h http.Header, name, v string) bool {
	vals := h[http.CanonicalHeaderKey(name)]
	return len(vals) == 1 && vals[0] == v
}

// addHeaders renders and adds each header of nts but Host (only replace
// sets the upstream's Host): with onlyAbsent, only the headers the request
// lacks (add), else beside any value it has (append). It reports false
// when a template fails.
func (r *transformRun) addHeaders(h http.Header, nts []namedTemplate, onlyAbsent bool) bool {
	for _, nt := range nts {
		if strings.EqualFold(nt.name, "host") || (onlyAbsent && len(h.Values(nt.name)) > 0) {
			continue
		}
		v, ok := r.render(nt.value, true)
		if !ok {
			return false
		}
		r.snapshot()
		h.Add(nt.name, v)
	}
	return true
}

// setQuery renders and sets each argument of nts whose presence in q is
// present: replace touches only the arguments the request has, add only
// those it lacks. It reports false when a template fails.
func (r *transformRun) setQuery(q *queryArgs, nts []namedTemplate, present bool) bool {
	for _, nt := range nts {
		if q.has(nt.name) != present {
			continue
		}
		v, ok := r.render(nt.value, false)
		if !ok {
			return false
		}
		q.set(nt.name, v)
	}
	return true
}

func transformFailed() *reply {
	return kongError(http.StatusInternalServerError, "An unexpected error occurred")
}

func (t *requestTransformer) access(x *exchange) *reply {
	o := &t.ops
	run := transformRun{x: x, o: o}
	if o.uri != nil {
		v, ok := run.render(o.uri, false)
		if !ok || !strings.HasPrefix(v, "/") {
			return transformFailed()
		}
		x.uri = v
	}
	if o.touchesHeaders {
		h := x.header
		for _, name := range o.remove {
			run.snapshot()
			h.Del(name)
		}
		for _, rn := range o.rename {
			if vals := h.Values(rn.from); len(vals) > 0 {
				run.snapshot()
				vals = append([]string(nil), vals...)
				h.Del(rn.from)
				h[http.CanonicalHeaderKey(rn.to)] = vals
			}
		}
		for _, nt := range o.replace {
			isHost := strings.EqualFold(nt.name, "host")
			if !isHost && len(h.Values(nt.name)) == 0 {
				continue
			}
			v, ok := run.render(nt.value, true)
			if !ok {
				return transformFailed()
			}
			switch {
			case isHost:
				x.host = v
			case !holdsOnly(h, nt.name, v):
				run.snapshot()
				h.Set(nt.name, v)
			}
		}
		if !run.addHeaders(h, o.add, true) || !run.addHeaders(h, o.append, false) {
			return transformFailed()
		}
	}
	if o.touchesQuery {
		q := x.query
		run.snapshot() // query changes are rarer; copy up front
		for _, name := range o.removeQ {
			q.del(name)
		}
		for _, rn := range o.renameQ {
			q.rename(rn.from, rn.to)
		}
		if !run.setQuery(q, o.replaceQ, true) || !run.setQuery(q, o.addQ, false) {
			return transformFailed()
		}
		for _, nt := range o.appendQ {
			v, ok := run.render(nt.value, false)
			if !ok {
				return transformFailed()
			}
			q.add(nt.name, v)
		}
	}
	return nil
}

// headerTable exposes request headers to templates as ngx.req.get_headers
// does: names are case-insensitive and '_' stands for '-'.
type headerTable struct {
	h      http.Header
	copied bool
}

func (t *headerTable) index(k any) any {
	s, ok := k.(string)
	if !ok {
		return nil
	}
	vals := t.h.Values(strings.ReplaceAll(s, "_", "-"))
	switch len(vals) {
	case 0:
		return nil
	case 1:
		return vals[0]
	default:
		return listTable(vals)
	}
}

// queryTable exposes query arguments: a flag without '=' is true, a
// repeated argument a list.
type queryTable struct{ q *queryArgs }

func (t *queryTable) index(k any) any {
	s, ok := k.(string)
	if !ok {
		return nil
	}
	var vals []string
	flag := false
	for _, a := range t.q.list() {
		if a.key == s {
			if !a.hasValue {
				flag = true
			}
			vals = append(vals, a.value)
		}
	}
	switch {
	case len(vals) == 0:
		return nil
	case len(vals) == 1 && flag:
		return true
	case len(vals) == 1:
		return vals[0]
	default:
		return listTable(vals)
	}
}
