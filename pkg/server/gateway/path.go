package gateway

import (
	"net/url"
	"strings"
)

// normalizePath prepares an escaped request path for routing, as Kong 3
// normalises before matching: percent-encoded unreserved characters are
// decoded (other escapes kept, with upper-case hex), repeated slashes merged
// and "." / ".." segments resolved, so "/auth/v1/verify/../admin" cannot
// ride an open route onto another path. It reports false for a path that is
// not absolute or has a malformed escape.
func normalizePath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	needs := strings.Contains(p, "%") || strings.Contains(p, "//") || strings.Contains(p, "/.")
	if !needs {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	s := b.String()
	segs := strings.Split(s[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := strings.HasSuffix(s, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case "":
			continue
		case ".":
			if last {
				trailing = true
			}
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				trailing = true
			}
			continue
		}
		out = append(out, seg)
	}
	res := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		res += "/"
	}
	return res, true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 32
	}
	return c
}

func isUnreserved(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~'
}

// upstreamPath joins the service path and the request path the way Kong's
// default path_handling "v0" does. reqPath is the normalised request path
// and prefix the route path it matched.
func upstreamPath(base, reqPath, prefix string, strip bool) string {
	if strings.HasSuffix(base, "/") {
		if strip {
			postfix := reqPath[len(prefix):]
			switch {
			case postfix == "":
				if base == "/" {
					return "/"
				}
				if strings.HasSuffix(reqPath, "/") {
					return base
				}
				return base[:len(base)-1]
			case postfix[0] == '/':
				return base[:len(base)-1] + postfix
			default:
				return base + postfix
			}
		}
		return base + reqPath[1:]
	}
	if strip {
		postfix := reqPath[len(prefix):]
		switch {
		case postfix == "":
			if len(reqPath) > 1 && strings.HasSuffix(reqPath, "/") {
				return base + "/"
			}
			return base
		case postfix[0] == '/':
			return base + postfix
		default:
			return base + "/" + postfix
		}
	}
	if reqPath == "/" {
		return base
	}
	return base + reqPath
}

// setEscapedPath points u at an escaped path, keeping the exact escaping.
func setEscapedPath(u *url.URL, escaped string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		u.Path, u.RawPath = escaped, ""
		return
	}
	u.Path = p
	u.RawPath = ""
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
}
