package realtimeserver

import (
	"encoding/json"
	"strings"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// appendValue appends the JSON form of a column's text value (as the
// replication stream carries it) the way the official server renders it:
// to_jsonb of the typed value, after wal2json's own rules (NaN and
// ±Infinity become null, bytea loses its \x prefix).
func appendValue(dst []byte, t *typeInfo, text string) []byte {
	switch t.kind {
	case jsonNumber:
		switch strings.ToLower(text) {
		case "nan", "infinity", "-infinity", "+infinity":
			return append(dst, "null"...)
		}
		if isJSONNumber(text) {
			return append(dst, text...)
		}
		return phoenix.AppendString(dst, text)
	case jsonBool:
		if text == "t" || text == "true" {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case jsonRaw:
		if json.Valid([]byte(text)) {
			return append(dst, text...)
		}
		return phoenix.AppendString(dst, text)
	case jsonBytea:
		return phoenix.AppendString(dst, strings.TrimPrefix(text, `\x`))
	case jsonTimestamptz:
		return phoenix.AppendString(dst, isoTimestamp(text, true))
	case jsonTimestamp:
		return phoenix.AppendString(dst, isoTimestamp(text, false))
	case jsonTimetz:
		return phoenix.AppendString(dst, expandOffset(text))
	case jsonArray:
		if out, ok := appendArray(dst, t.elem, text); ok {
			return out
		}
		return phoenix.AppendString(dst, text)
	}
	return phoenix.AppendString(dst, text)
}

// isJSONNumber reports whether s is a valid JSON number literal.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return false
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		start := i + 1
		if i = skipDigits(s, start); i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(s, i); i == start {
			return false
		}
	}
	return i == len(s)
}

// skipDigits returns the index of the first byte at or after i in s that
// is not a decimal digit.
func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// isoTimestamp turns "2024-05-01 10:00:00.5+00" into
// "2024-05-01T10:00:00.5+00:00", the form to_jsonb gives timestamps.
func isoTimestamp(s string, tz bool) string {
	if s == "infinity" || s == "-infinity" {
		return s
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return s
	}
	rest := s[sp+1:]
	bc := ""
	if strings.HasSuffix(rest, " BC") {
		rest, bc = strings.TrimSuffix(rest, " BC"), " BC"
	}
	if tz {
		rest = expandOffset(rest)
	}
	return s[:sp] + "T" + rest + bc
}

// expandOffset turns a trailing "+HH" zone offset into "+HH:MM".
func expandOffset(s string) string {
	i := strings.LastIndexAny(s, "+-")
	if i < 0 || i < len(s)-9 {
		return s
	}
	off := s[i+1:]
	if len(off) == 2 && off[0] >= '0' && off[0] <= '9' && off[1] >= '0' && off[1] <= '9' {
		return s + ":00"
	}
	return s
}

// appendArray renders a PostgreSQL array literal (any number of dimensions)
// as nested JSON arrays of converted elements.
func appendArray(dst []byte, elem *typeInfo, s string) ([]byte, bool) {
	if elem == nil {
		return dst, false
	}
	// Arrays with explicit bounds ("[0:1]={1,2}") keep their elements.
	if strings.HasPrefix(s, "[") {
		if eq := strings.Index(s, "={"); eq > 0 {
			s = s[eq+1:]
		}
	}
	p := arrayParser{s: s, elem: elem, dst: dst}
	if !p.parse() || p.i != len(p.s) {
		return dst, false
	}
	return p.dst, true
}

type arrayParser struct {
	s    string
	i    int
	elem *typeInfo
	dst  []byte
}

func (p *arrayParser) parse() bool {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	p.dst = append(p.dst, '[')
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.dst = append(p.dst, ']')
		return true
	}
	for {
		if p.i < len(p.s) && p.s[p.i] == '{' {
			if !p.parse() {
				return false
			}
		} else {
			v, quoted, ok := p.element()
			if !ok {
				return false
			}
			if !quoted && strings.EqualFold(v, "NULL") {
				p.dst = append(p.dst, "null"...)
			} else {
				p.dst = appendValue(p.dst, p.elem, v)
			}
		}
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.dst = append(p.dst, ',')
		case '}':
			p.i++
			p.dst = append(p.dst, ']')
			return true
		default:
			return false
		}
	}
}

func (p *arrayParser) element() (string, bool, bool) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case c == '\\' && p.i+1 < len(p.s):
				b.WriteByte(p.s[p.i+1])
				p.i += 2
			case c == '"':
				p.i++
				return b.String(), true, true
			default:
				b.WriteByte(c)
				p.i++
			}
		}
		return "", false, false
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' {
		p.i++
	}
	if p.i == start {
		return "", false, false
	}
	return strings.TrimSpace(p.s[start:p.i]), false, true
}
