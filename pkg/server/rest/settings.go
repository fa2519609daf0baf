package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	return appendJSONStringLower(b, s, false)
}

// appendJSONStringLower appends s as a JSON string, ASCII letters lowered
// when lower is set (header names are ASCII tokens). Runs of bytes that
// need nothing are copied at once.
func appendJSONStringLower(b []byte, s string, lower bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && (!lower || c < 'A' || c > 'Z') {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c+('a'-'A'))
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// headersJSON renders request.headers: lowercase names, the last value of
// a repeated header winning as in PostgREST's map.
func headersJSON(h http.Header) []byte { return appendHeadersJSON(nil, h) }

// appendHeadersJSON appends request.headers to b.
func appendHeadersJSON(b []byte, h http.Header) []byte {
	n := 2
	for k, vs := range h {
		if len(vs) > 0 {
			n += len(k) + len(vs[len(vs)-1]) + 6
		}
	}
	b = slices.Grow(b, n+n/8)
	b = append(b, '{')
	first := true
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONStringLower(b, k, true)
		b = append(b, ':')
		b = appendJSONString(b, vs[len(vs)-1])
	}
	return append(b, '}')
}

// cookiesJSON renders request.cookies.
func cookiesJSON(h http.Header) []byte {
	if len(h["Cookie"]) == 0 {
		return []byte("{}")
	}
	cs := (&http.Request{Header: h}).Cookies()
	if len(cs) == 0 {
		return []byte("{}")
	}
	b := []byte{'{'}
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.Name)
		b = append(b, ':')
		b = appendJSONString(b, c.Value)
	}
	return append(b, '}')
}

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
		` set_config('request.cookies', $7, true), set_config('application_name', $8, true)`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, ", set_config($%d, $%d, true)", 9+2*i, 10+2*i)
	}
	return b.String()
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
	params := make([][]byte, 0, 8+2*n)
	headers := appendHeadersJSON((*scratch)[:0], rc.req.header)
	if cap(headers) <= maxKeptBuffer {
		*scratch = headers
	}
	params = append(params, textParam(rc.conf.paths[rc.req.schema]), textParam(rc.auth.role), rc.auth.claims,
		textParam(rc.req.method), textParam(rc.req.path), headers, cookiesJSON(rc.req.header),
		textParam(appName(rc.req.header)))
	for i := range ks {
		params = append(params, textParam(ks[i]), textParam(vs[i]))
	}
	if rc.req.prefs.timezone != "" {
		params = append(params, textParam("timezone"), textParam(rc.req.prefs.timezone))
	}
	return setupSQL(n, readOnly), params
}

// appName is the request's application_name while its transaction runs:
// the gateway's request id (X-Request-Id), so pg_stat_activity and
// postgres.log (%a) name the request a statement belongs to; outside a
// request the connection's own name returns. PostgreSQL keeps 63 bytes.
func appName(h http.Header) string {
	if v := h["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return "sfp rest"
}
