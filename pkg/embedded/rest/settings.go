package rest

import (
	"net/http"
	"slices"
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
