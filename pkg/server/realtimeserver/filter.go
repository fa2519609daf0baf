package realtimeserver

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// filterOps are the operators a postgres_changes filter may use, as the
// official server accepts them (PostgREST names; `not.` negates any of them).
var filterOps = map[string]bool{
	"eq": true, "neq": true, "lt": true, "lte": true, "gt": true, "gte": true, "in": true,
	"like": true, "ilike": true, "is": true, "match": true, "imatch": true, "isdistinct": true,
}

// filterSpec is one parsed `column=[not.]op.value` condition. For `in`, Value
// holds the PostgreSQL array literal the official server builds: "(a,b)"
// becomes "{a,b}".
type filterSpec struct {
	Column string
	Op     string
	Value  string
	Negate bool
}

// parseFilters parses the filter string of a postgres_changes binding with
// the official server's grammar: conditions separated by commas outside
// double quotes and parentheses, each `column=[not.]op.value`, AND-ed.
// Errors carry the official wording (the part after "Error parsing `filter`
// params: ").
func parseFilters(s string) ([]filterSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []filterSpec
	for _, seg := range splitTopLevel(s) {
		f, err := parseSegment(seg)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// splitTopLevel splits on commas that are outside double-quoted values and
// parentheses. A double quote opens a quoted value only after '.', '(' or
// ','; inside quotes a backslash escapes the next byte.
func splitTopLevel(s string) []string {
	var (
		parts  []string
		cur    strings.Builder
		depth  int
		quoted bool
		prev   byte
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			prev = s[i+1]
			i++
			continue
		case quoted && c == '"':
			quoted = false
		case quoted:
		case c == '"' && (prev == '.' || prev == '(' || prev == ','):
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			prev = 0
			continue
		}
		cur.WriteByte(c)
		prev = c
	}
	return append(parts, cur.String())
}

func parseSegment(seg string) (filterSpec, error) {
	t := strings.TrimSpace(seg)
	if t == "" {
		return filterSpec{}, fmt.Errorf("filter must not contain empty segments (check for extra commas)")
	}
	col, rest, ok := strings.Cut(t, "=")
	if !ok {
		return filterSpec{}, fmt.Errorf("%s", inspectList(t))
	}
	negate := false
	if strings.HasPrefix(rest, "not.") {
		negate, rest = true, rest[len("not."):]
	}
	op, value, ok := strings.Cut(rest, ".")
	if !ok {
		return filterSpec{}, fmt.Errorf("%s", inspectList(col, rest))
	}
	if !filterOps[op] {
		return filterSpec{}, fmt.Errorf("%s", inspectList(op, value))
	}
	if op == "in" {
		if len(value) < 2 || value[0] != '(' || value[len(value)-1] != ')' {
			return filterSpec{}, fmt.Errorf("`in` filter value must be wrapped by parentheses")
		}
		value = "{" + value[1:len(value)-1] + "}"
	} else {
		value = unquoteValue(value)
	}
	return filterSpec{Column: col, Op: op, Value: value, Negate: negate}, nil
}

// unquoteValue removes PostgREST-style double quotes ("a,b" → a,b; \x → x).
// A value that is not one well-formed quoted string is kept as written.
func unquoteValue(v string) string {
	if len(v) < 2 || v[0] != '"' {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			b.WriteByte(v[i+1])
			i++
		case c == '"':
			if i == len(v)-1 {
				return b.String()
			}
			return v
		default:
			b.WriteByte(c)
		}
	}
	return v
}

// inspectList renders strings as Elixir's inspect renders a list of binaries,
// which is how the official server reports unparsable filters.
func inspectList(items ...string) string {
	parts := make([]string, len(items))
	for i, s := range items {
		parts[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// cmpKind says how values of a column type compare.
type cmpKind int

const (
	cmpText    cmpKind = iota // bytewise, as the C collation the embedded cluster uses
	cmpInt                    // int2, int4, int8, oid
	cmpNumeric                // numeric
	cmpFloat                  // float4, float8
	cmpBool
	cmpTimestamptz
	cmpTimestamp
	cmpDate
	cmpTime
	cmpBpchar // char(n): trailing blanks are insignificant
	cmpOther  // equality on the canonical text form only
)

// compiledFilter is a filterSpec resolved against one table: its values are
// in the canonical text form PostgreSQL's output functions produce, so they
// compare directly with the text of the logical replication stream.
type compiledFilter struct {
	filterSpec
	kind  cmpKind
	canon string   // canonical value (eq, neq, lt, …, isdistinct)
	list  []string // canonical values (in)
	re    *regexp.Regexp
}

// likeToRegexp translates a SQL LIKE pattern (with '\' as the escape) to an
// anchored regular expression.
func likeToRegexp(p string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)`)
	if fold {
		b.WriteString(`(?i)`)
	}
	b.WriteByte('^')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			} else {
				return nil, fmt.Errorf("LIKE pattern must not end with escape character")
			}
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

// value returns the text of column name in row, whether the column is
// present, and whether it is NULL.
type rowView interface {
	lookup(name string) (text string, null, present bool)
}

// matchFilters reports whether a row passes every filter, with the official
// server's semantics: a filter on a column the row does not carry fails
// closed, and a NULL comparison is false (also when negated).
func matchFilters(filters []compiledFilter, row rowView) bool {
	for i := range filters {
		f := &filters[i]
		text, null, present := row.lookup(f.Column)
		if !present {
			return false
		}
		res, known := f.eval(text, null)
		if !known {
			return false
		}
		if f.Negate && f.Op != "is" && f.Op != "isdistinct" {
			res = !res
		}
		if !res {
			return false
		}
	}
	return true
}

// eval applies the operator; known is false when SQL would yield NULL.
func (f *compiledFilter) eval(text string, null bool) (res, known bool) {
	switch f.Op {
	case "is":
		var r bool
		switch f.Value {
		case "null":
			r = null
		case "true":
			r = !null && isTrue(text)
		case "false":
			r = !null && !isTrue(text)
		case "unknown":
			r = null
		}
		if f.Negate {
			r = !r
		}
		return r, true
	case "isdistinct":
		// The filter value is never NULL here: distinct iff the column is
		// NULL or differs.
		d := null || compareValues(f.kind, text, f.canon) != 0
		if f.Negate {
			d = !d
		}
		return d, true
	}
	if null {
		return false, false
	}
	switch f.Op {
	case "eq":
		return compareValues(f.kind, text, f.canon) == 0, true
	case "neq":
		return compareValues(f.kind, text, f.canon) != 0, true
	case "lt":
		return compareValues(f.kind, text, f.canon) < 0, true
	case "lte":
		return compareValues(f.kind, text, f.canon) <= 0, true
	case "gt":
		return compareValues(f.kind, text, f.canon) > 0, true
	case "gte":
		return compareValues(f.kind, text, f.canon) >= 0, true
	case "in":
		for _, v := range f.list {
			if compareValues(f.kind, text, v) == 0 {
				return true, true
			}
		}
		return false, true
	case "like", "ilike", "match", "imatch":
		if f.kind == cmpBpchar {
			text = strings.TrimRight(text, " ")
		}
		return f.re.MatchString(text), true
	}
	return false, false
}

func isTrue(text string) bool { return text == "t" || text == "true" }

// compareValues orders two canonical text values of the same type. Values a
// kind cannot parse fall back to bytewise order.
func compareValues(kind cmpKind, a, b string) int {
	switch kind {
	case cmpInt:
		x, err1 := strconv.ParseInt(a, 10, 64)
		y, err2 := strconv.ParseInt(b, 10, 64)
		if err1 == nil && err2 == nil {
			return cmpOrdered(x, y)
		}
	case cmpFloat:
		x, err1 := strconv.ParseFloat(a, 64)
		y, err2 := strconv.ParseFloat(b, 64)
		if err1 == nil && err2 == nil {
			// PostgreSQL orders NaN above every other value and equal to itself.
			xn, yn := x != x, y != y
			switch {
			case xn && yn:
				return 0
			case xn:
				return 1
			case yn:
				return -1
			}
			return cmpOrdered(x, y)
		}
	case cmpNumeric:
		return compareNumeric(a, b)
	case cmpBool:
		return cmpOrdered(boolInt(isTrue(a)), boolInt(isTrue(b)))
	case cmpTimestamptz, cmpTimestamp, cmpDate, cmpTime:
		if x, ok := parseTimeValue(kind, a); ok {
			if y, ok := parseTimeValue(kind, b); ok {
				return x.cmp(y)
			}
		}
	case cmpBpchar:
		return strings.Compare(strings.TrimRight(a, " "), strings.TrimRight(b, " "))
	}
	return strings.Compare(a, b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOrdered[T int | int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compareNumeric compares numeric text exactly; NaN sorts last, as in
// PostgreSQL, and ±Infinity at the ends.
func compareNumeric(a, b string) int {
	rank := func(s string) (int, *big.Rat) {
		switch strings.ToLower(s) {
		case "nan":
			return 2, nil
		case "infinity", "+infinity":
			return 1, nil
		case "-infinity":
			return -1, nil
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return 3, nil
		}
		return 0, r
	}
	ra, xa := rank(a)
	rb, xb := rank(b)
	if ra == 3 || rb == 3 {
		return strings.Compare(a, b)
	}
	if ra != 0 || rb != 0 {
		if ra == rb {
			return 0
		}
		if ra == 0 {
			if rb == -1 {
				return 1
			}
			return -1
		}
		if rb == 0 {
			if ra == -1 {
				return -1
			}
			return 1
		}
		return cmpOrdered(ra, rb)
	}
	return xa.Cmp(xb)
}

// timeValue is a parsed date/time value; inf is -1 or +1 for ∓infinity.
type timeValue struct {
	inf int
	t   time.Time
}

func (x timeValue) cmp(y timeValue) int {
	if x.inf != 0 || y.inf != 0 {
		return cmpOrdered(x.inf, y.inf)
	}
	return x.t.Compare(y.t)
}

// parseTimeValue parses the ISO output of PostgreSQL's date/time types
// (DateStyle ISO, the form the replication stream and canonicalisation use).
func parseTimeValue(kind cmpKind, s string) (timeValue, bool) {
	switch s {
	case "infinity":
		return timeValue{inf: 1}, true
	case "-infinity":
		return timeValue{inf: -1}, true
	}
	bc := strings.HasSuffix(s, " BC")
	if bc {
		s = strings.TrimSuffix(s, " BC")
	}
	var layouts []string
	switch kind {
	case cmpTimestamptz:
		layouts = []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"}
	case cmpTimestamp:
		layouts = []string{"2006-01-02 15:04:05.999999999"}
	case cmpDate:
		layouts = []string{"2006-01-02"}
	case cmpTime:
		layouts = []string{"15:04:05.999999999"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if bc {
				t = t.AddDate(-2*t.Year()+1, 0, 0)
			}
			return timeValue{t: t}, true
		}
	}
	return timeValue{}, false
}

// parseArrayLiteral splits a one-dimensional PostgreSQL array literal
// ({a,"b c",NULL}) into its elements; null marks unquoted NULLs.
func parseArrayLiteral(s string) (elems []string, nulls []bool, err error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, nil, fmt.Errorf("malformed array literal: %q", s)
	}
	body := s[1 : len(s)-1]
	if strings.TrimSpace(body) == "" {
		return nil, nil, nil
	}
	var cur strings.Builder
	quoted, wasQuoted := false, false
	flush := func() {
		v := cur.String()
		if !wasQuoted {
			v = strings.TrimSpace(v)
		}
		elems = append(elems, v)
		nulls = append(nulls, !wasQuoted && strings.EqualFold(v, "NULL"))
		cur.Reset()
		wasQuoted = false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == '"':
			quoted = !quoted
			wasQuoted = true
		case c == ',' && !quoted:
			flush()
		case (c == '{' || c == '}') && !quoted:
			return nil, nil, fmt.Errorf("nested arrays are not supported in filters")
		default:
			cur.WriteByte(c)
		}
	}
	if quoted {
		return nil, nil, fmt.Errorf("malformed array literal: %q", s)
	}
	flush()
	return elems, nulls, nil
}
