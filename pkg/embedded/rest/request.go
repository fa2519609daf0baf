package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// prefs are the recognised Prefer tokens (RFC 7240), first one wins.
type prefs struct {
	ret         string // representation, minimal, headers-only
	count       string // exact, planned, estimated
	resolution  string // merge-duplicates, ignore-duplicates
	missing     string // default, null
	tx          string // commit, rollback
	handling    string // strict, lenient
	timezone    string
	maxAffected int64 // -1 = none
	invalid     []string
}

func parsePrefs(h http.Header, timezones map[string]bool) prefs {
	p := prefs{maxAffected: -1}
	for _, line := range h.Values("Prefer") {
		for _, tok := range strings.Split(line, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			k, v, _ := strings.Cut(tok, "=")
			set := func(dst *string, allowed ...string) bool {
				for _, a := range allowed {
					if v == a {
						if *dst == "" {
							*dst = v
						}
						return true
					}
				}
				return false
			}
			ok := false
			switch k {
			case "return":
				ok = set(&p.ret, "representation", "minimal", "headers-only")
			case "count":
				ok = set(&p.count, "exact", "planned", "estimated")
			case "resolution":
				ok = set(&p.resolution, "merge-duplicates", "ignore-duplicates")
			case "missing":
				ok = set(&p.missing, "default", "null")
			case "tx":
				ok = set(&p.tx, "commit", "rollback")
			case "handling":
				ok = set(&p.handling, "strict", "lenient")
			case "timezone":
				if timezones[v] {
					if p.timezone == "" {
						p.timezone = v
					}
					ok = true
				}
			case "max-affected":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					if p.maxAffected < 0 {
						p.maxAffected = n
					}
					ok = true
				}
			}
			if !ok {
				p.invalid = append(p.invalid, tok)
			}
		}
	}
	return p
}

// applied renders Preference-Applied with the preferences the endpoint
// honours, in PostgREST's order.
func (p prefs) applied(resolution, missing, ret, maxAffected bool) string {
	var out []string
	if resolution && p.resolution != "" {
		out = append(out, "resolution="+p.resolution)
	}
	if missing && p.missing != "" {
		out = append(out, "missing="+p.missing)
	}
	if ret && p.ret != "" {
		out = append(out, "return="+p.ret)
	}
	if p.count != "" {
		out = append(out, "count="+p.count)
	}
	if p.tx != "" {
		out = append(out, "tx="+p.tx)
	}
	if p.handling != "" {
		out = append(out, "handling="+p.handling)
	}
	if p.timezone != "" {
		out = append(out, "timezone="+p.timezone)
	}
	if maxAffected && p.handling == "strict" && p.maxAffected >= 0 {
		out = append(out, "max-affected="+strconv.FormatInt(p.maxAffected, 10))
	}
	return strings.Join(out, ", ")
}

// mediaType is what the client accepts back.
type mediaType int

const (
	mtJSON mediaType = iota
	mtSingular
	mtCSV
)

type accept struct {
	mt    mediaType
	strip bool // nulls=stripped
	ct    string
}

// negotiate picks the response media type from Accept as PostgREST does:
// the acceptable types by quality, the first one this server produces wins.
func negotiate(h http.Header) (accept, *apiError) {
	vals := h.Values("Accept")
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return accept{mt: mtJSON, ct: "application/json; charset=utf-8"}, nil
	}
	// One media type without parameters (what clients send): the answer
	// the general case below would give, without its allocations.
	if !strings.ContainsAny(vals[0], ",;") {
		switch strings.TrimSpace(vals[0]) {
		case "application/json", "*/*", "application/*":
			return accept{mt: mtJSON, ct: "application/json; charset=utf-8"}, nil
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			return accept{mt: mtSingular, ct: "application/vnd.pgrst.object+json; charset=utf-8"}, nil
		}
	}
	type cand struct {
		typ    string
		params map[string]string
		q      float64
		i      int
	}
	var cands []cand
	var names []string
	for i, part := range strings.Split(vals[0], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		segs := strings.Split(part, ";")
		c := cand{typ: strings.ToLower(strings.TrimSpace(segs[0])), q: 1, i: i, params: map[string]string{}}
		for _, s := range segs[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(s), "=")
			k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
			if k == "q" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					c.q = f
				}
				continue
			}
			c.params[k] = v
		}
		names = append(names, part)
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].q > cands[b].q })
	for _, c := range cands {
		if c.q <= 0 {
			continue
		}
		strip := c.params["nulls"] == "stripped"
		switch c.typ {
		case "application/json", "*/*", "application/*":
			return accept{mt: mtJSON, ct: "application/json; charset=utf-8"}, nil
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			ct := "application/vnd.pgrst.array+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8"
			}
			return accept{mt: mtJSON, strip: strip, ct: ct}, nil
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			ct := "application/vnd.pgrst.object+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.object+json; nulls=stripped; charset=utf-8"
			}
			return accept{mt: mtSingular, strip: strip, ct: ct}, nil
		case "text/csv":
			return accept{mt: mtCSV, ct: "text/csv; charset=utf-8"}, nil
		}
	}
	return accept{}, newErr(406, codeMediaType, "None of these media types are available: "+strings.Join(names, ", "))
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

// errBodyTooLarge is returned by readBody past MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// payload is a validated JSON body of a write.
type payload struct {
	raw    []byte   // always a JSON array of objects
	keys   []string // keys of the objects (all objects have the same keys)
	single bool     // the body was one object
	rows   int
}

var errInvalidJSON = newErr(400, codeInvalidBody, "Empty or invalid json")

// parsePayload checks the body is a JSON object or an array of objects
// with the same keys, as PostgREST requires without columns=.
func parsePayload(body []byte, checkKeys bool) (*payload, *apiError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errInvalidJSON
	}
	p := &payload{}
	switch trimmed[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(trimmed, &obj) != nil {
			return nil, errInvalidJSON
		}
		p.single = true
		p.rows = 1
		for k := range obj {
			p.keys = append(p.keys, k)
		}
		sort.Strings(p.keys)
		raw := make([]byte, 0, len(trimmed)+2)
		raw = append(raw, '[')
		raw = append(raw, trimmed...)
		p.raw = append(raw, ']')
	case '[':
		var arr []map[string]json.RawMessage
		if json.Unmarshal(trimmed, &arr) != nil {
			return nil, errInvalidJSON
		}
		for _, o := range arr {
			if o == nil {
				return nil, errInvalidJSON
			}
		}
		p.rows = len(arr)
		p.raw = trimmed
		if len(arr) > 0 {
			for k := range arr[0] {
				p.keys = append(p.keys, k)
			}
			sort.Strings(p.keys)
			if checkKeys {
				for _, o := range arr[1:] {
					if len(o) != len(p.keys) {
						return nil, newErr(400, codeInvalidBody, "All object keys must match")
					}
					for _, k := range p.keys {
						if _, ok := o[k]; !ok {
							return nil, newErr(400, codeInvalidBody, "All object keys must match")
						}
					}
				}
			}
		}
	default:
		return nil, errInvalidJSON
	}
	return p, nil
}

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

func cookiesJSON(r *http.Request) []byte {
	if len(r.Header["Cookie"]) == 0 {
		return []byte("{}")
	}
	cs := r.Cookies()
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
