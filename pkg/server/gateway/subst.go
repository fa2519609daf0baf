package gateway

import (
	"bytes"
	"fmt"
)

// substitute replaces $NAME and ${NAME} with values from env, line by line,
// before the YAML is parsed — what the official Kong entrypoint does to
// kong.yml, so both runtimes read the same document. Lines whose first
// non-blank character is '#' are comments and left alone; "$(" starts a
// request-transformer template and is left alone too. A variable missing
// from env is an error naming it with file and line, never an empty string.
// Values may not contain line breaks or other control characters: they
// would change the document's structure (and the line numbers).
func substitute(data []byte, file string, env map[string]string) ([]byte, error) {
	if bytes.IndexByte(data, '$') < 0 {
		return data, nil
	}
	out := make([]byte, 0, len(data)+256)
	line := 1
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		var l []byte
		if end < 0 {
			l, data = data, nil
		} else {
			l, data = data[:end+1], data[end+1:]
		}
		if isCommentLine(l) || bytes.IndexByte(l, '$') < 0 {
			out = append(out, l...)
			line++
			continue
		}
		var err error
		out, err = substituteLine(out, l, file, line, env)
		if err != nil {
			return nil, err
		}
		line++
	}
	return out, nil
}

func isCommentLine(l []byte) bool {
	t := bytes.TrimLeft(l, " \t")
	return len(t) > 0 && t[0] == '#'
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isNameChar(c byte) bool  { return isNameStart(c) || (c >= '0' && c <= '9') }

func substituteLine(out, l []byte, file string, line int, env map[string]string) ([]byte, error) {
	for i := 0; i < len(l); {
		c := l[i]
		if c != '$' || i+1 >= len(l) {
			out = append(out, c)
			i++
			continue
		}
		var name string
		next := l[i+1]
		switch {
		case next == '{':
			close := bytes.IndexByte(l[i+2:], '}')
			if close < 0 {
				return nil, &ConfigError{File: file, Line: line, Msg: "unterminated ${ in variable reference"}
			}
			name = string(l[i+2 : i+2+close])
			if !validVarName(name) {
				return nil, &ConfigError{File: file, Line: line, Msg: fmt.Sprintf("invalid variable name %q in ${…}", name)}
			}
			i += 3 + close
		case isNameStart(next):
			j := i + 2
			for j < len(l) && isNameChar(l[j]) {
				j++
			}
			name = string(l[i+1 : j])
			i = j
		default: // "$(" template, "$$", a lone "$": literal
			out = append(out, c)
			i++
			continue
		}
		v, ok := env[name]
		if !ok {
			return nil, &ConfigError{File: file, Line: line, Msg: fmt.Sprintf("undefined variable $%s", name)}
		}
		for k := 0; k < len(v); k++ {
			if v[k] < 0x20 && v[k] != '\t' || v[k] == 0x7f {
				return nil, &ConfigError{File: file, Line: line, Msg: fmt.Sprintf("value of $%s contains a line break or control character", name)}
			}
		}
		out = append(out, v...)
	}
	return out, nil
}

func validVarName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}
