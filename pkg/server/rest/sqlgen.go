package rest

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// sqlBuf accumulates SQL text and its parameters. Everything that comes
// from a request is either an identifier checked against the schema cache
// and quoted by quoteIdent, a cast checked by the parser to hold only
// letters, digits, '_', '$' and spaces, or a parameter ($n). Parameters
// are in PostgreSQL's text format (the server infers their types).
//
// The text is built in a pooled buffer: text returns it without a copy,
// valid until release (the statement cache keeps a copy of what it keeps).
type sqlBuf struct {
	b      []byte
	args   [][]byte
	pooled *[]byte
}

var sqlBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (s *sqlBuf) w(parts ...string) {
	if s.b == nil {
		s.pooled = sqlBufPool.Get().(*[]byte)
		s.b = (*s.pooled)[:0]
	}
	for _, p := range parts {
		s.b = append(s.b, p...)
	}
}

// text is the SQL, valid until release.
func (s *sqlBuf) text() string { return unsafe.String(unsafe.SliceData(s.b), len(s.b)) }

// release returns the buffer to the pool; s must not be used afterwards.
func (s *sqlBuf) release() {
	if s == nil || s.pooled == nil {
		return
	}
	if cap(s.b) <= maxKeptBuffer {
		*s.pooled = s.b[:0]
		sqlBufPool.Put(s.pooled)
	}
	s.pooled, s.b = nil, nil
}

// arg appends a text parameter and writes its placeholder.
func (s *sqlBuf) arg(v string) { s.argBytes(textParam(v)) }

// argBytes appends a parameter given as bytes (a JSON body) and writes
// its placeholder; nil is sent as an empty value, not NULL.
func (s *sqlBuf) argBytes(v []byte) {
	if v == nil {
		v = []byte{}
	}
	s.args = append(s.args, v)
	s.w("$")
	s.b = strconv.AppendInt(s.b, int64(len(s.args)), 10)
}

// argInt appends an integer parameter and writes its placeholder.
func (s *sqlBuf) argInt(v int64) { s.argBytes(strconv.AppendInt(nil, v, 10)) }

// quoteIdent quotes an identifier, doubling quotes and dropping anything
// from a NUL on (PostgreSQL cannot store NUL in names).
func quoteIdent(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a string literal. It is used only for text that comes
// from the database's own catalog (column names in jsonb_build_object),
// never for request values.
func quoteLiteral(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return `'` + s + `'`
}

func qualified(schema, name string) string { return quoteIdent(schema) + "." + quoteIdent(name) }

// fieldSQL writes q."col" with its JSON path.
func (s *sqlBuf) fieldSQL(q string, f field) {
	if f.toJSON {
		s.w("to_jsonb(", q, ".", quoteIdent(f.col), ")")
	} else {
		s.w(q, ".", quoteIdent(f.col))
	}
	for _, op := range f.path {
		if op.Text {
			s.w("->>")
		} else {
			s.w("->")
		}
		s.arg(op.Key)
		if op.Index {
			s.w("::int")
		}
	}
}

// pgArrayLiteral builds '{"a","b"}' from the values of in.(…); it is sent
// as a parameter, so only array-literal escaping is needed.
func pgArrayLiteral(vals []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if j := strings.IndexByte(v, 0); j >= 0 {
			v = v[:j]
		}
		b.WriteByte('"')
		v = strings.ReplaceAll(v, `\`, `\\`)
		v = strings.ReplaceAll(v, `"`, `\"`)
		b.WriteString(v)
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
