package gateway

import (
	"net/url"
	"strings"
)

// queryArgs is the query string bound for the upstream. It is parsed only
// when a plugin looks at it, and re-encoded only when a plugin changes it:
// untouched arguments keep their exact bytes and order, which matters to
// PostgREST (repeated filters, operators in values).
type queryArgs struct {
	raw    string
	args   []queryArg
	parsed bool
	dirty  bool
}

type queryArg struct {
	key, value string
	hasValue   bool   // "k=v" or "k=", not a bare "k"
	raw        string // original segment; "" once changed
}

func newQueryArgs(raw string) *queryArgs { return &queryArgs{raw: raw} }

func (q *queryArgs) list() []queryArg {
	if !q.parsed {
		q.parsed = true
		for _, seg := range strings.Split(q.raw, "&") {
			if seg == "" {
				continue
			}
			k, v, hasValue := strings.Cut(seg, "=")
			q.args = append(q.args, queryArg{key: unescapeQuery(k), value: unescapeQuery(v), hasValue: hasValue, raw: seg})
		}
	}
	return q.args
}

func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s // as nginx: a malformed escape stays as written
	}
	return u
}

// stringValues returns the values of name as key-auth reads them: a lone
// bare flag ("?apikey") is not a string value and yields nothing.
func (q *queryArgs) stringValues(name string) []string {
	var out []string
	flag := false
	for _, a := range q.list() {
		if a.key == name {
			if !a.hasValue {
				flag = true
			}
			out = append(out, a.value)
		}
	}
	if len(out) == 1 && flag {
		return nil
	}
	return out
}

func (q *queryArgs) has(name string) bool {
	for _, a := range q.list() {
		if a.key == name {
			return true
		}
	}
	return false
}

func (q *queryArgs) del(name string) {
	args := q.list()
	kept := args[:0]
	for _, a := range args {
		if a.key != name {
			kept = append(kept, a)
		} else {
			q.dirty = true
		}
	}
	q.args = kept
}

// set replaces every value of name with one, where the first one stood.
func (q *queryArgs) set(name, value string) {
	args := q.list()
	out := make([]queryArg, 0, len(args)+1)
	placed := false
	for _, a := range args {
		if a.key != name {
			out = append(out, a)
			continue
		}
		if !placed {
			out = append(out, queryArg{key: name, value: value, hasValue: true})
			placed = true
		}
	}
	if !placed {
		out = append(out, queryArg{key: name, value: value, hasValue: true})
	}
	q.args, q.dirty = out, true
}

func (q *queryArgs) add(name, value string) {
	q.list()
	q.args = append(q.args, queryArg{key: name, value: value, hasValue: true})
	q.dirty = true
}

func (q *queryArgs) rename(from, to string) {
	for i, a := range q.list() {
		if a.key == from {
			q.args[i].key, q.args[i].raw = to, ""
			q.dirty = true
		}
	}
}

func (q *queryArgs) clone() *queryArgs {
	c := *q
	c.args = append([]queryArg(nil), q.list()...)
	c.parsed = true
	return &c
}

func (q *queryArgs) encode() string {
	if !q.dirty {
		return q.raw
	}
	var b strings.Builder
	for _, a := range q.args {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		if a.raw != "" {
			b.WriteString(a.raw)
			continue
		}
		b.WriteString(escapeQuery(a.key))
		if a.hasValue {
			b.WriteByte('=')
			b.WriteString(escapeQuery(a.value))
		}
	}
	return b.String()
}

// escapeQuery encodes as nginx's encode_args does (%20 for a space).
func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
