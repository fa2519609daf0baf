package migrate

import "strings"

// Statement is one SQL statement of a migration file, as the Supabase CLI
// stores it in schema_migrations.statements: the text up to its terminating
// semicolon, without the semicolon and surrounding white space, comments kept.
type Statement struct {
	SQL    string
	Line   int // 1-based line in the file where SQL starts
	Column int // 1-based column (in characters) where SQL starts
}

// Split splits a SQL script into statements the way the Supabase CLI's
// parser does: a semicolon ends a statement unless it is inside a quoted
// string ('…', E'…', "…"), a dollar-quoted string ($tag$…$tag$), a line
// comment (--) or a (nested) block comment (/* … */), or inside a
// BEGIN ATOMIC … END function body.
func Split(sql string) []Statement {
	var out []Statement
	start := 0
	emit := func(end int) {
		raw := sql[start:end]
		trimmed := strings.TrimSpace(strings.TrimRight(raw, ";"))
		if trimmed != "" {
			off := start + strings.Index(raw, trimmed)
			line, col := position(sql, off)
			out = append(out, Statement{SQL: trimmed, Line: line, Column: col})
		}
		start = end
	}
	atomicDepth := 0
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'':
			escapes := i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i < 2 || !isIdentChar(sql[i-2]))
			i = skipQuoted(sql, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(sql, i, '"', false)
		case c == '$':
			if tag, ok := dollarTag(sql, i); ok {
				end := strings.Index(sql[i+len(tag):], tag)
				if end < 0 {
					i = len(sql)
				} else {
					i += len(tag) + end + len(tag)
				}
			} else {
				i++
			}
		case isIdentStart(c) && (i == 0 || !isIdentChar(sql[i-1])):
			j := i
			for j < len(sql) && isIdentChar(sql[j]) {
				j++
			}
			word := strings.ToLower(sql[i:j])
			switch word {
			case "atomic":
				if precededByBegin(sql, i) {
					atomicDepth++
				}
			case "case":
				if atomicDepth > 0 {
					atomicDepth++ // CASE … END nests inside the body
				}
			case "end":
				if atomicDepth > 0 {
					atomicDepth--
				}
			}
			i = j
		case c == ';' && atomicDepth == 0:
			i++
			emit(i)
		default:
			i++
		}
	}
	emit(len(sql))
	return out
}

func precededByBegin(sql string, i int) bool {
	prev := strings.TrimRight(sql[:i], " \t\r\n")
	return len(prev) >= 5 && strings.EqualFold(prev[len(prev)-5:], "begin") &&
		(len(prev) == 5 || !isIdentChar(prev[len(prev)-6]))
}

func skipQuoted(sql string, i int, q byte, backslashEscapes bool) int {
	i++
	for i < len(sql) {
		switch {
		case backslashEscapes && sql[i] == '\\':
			i += 2
		case sql[i] == q:
			if i+1 < len(sql) && sql[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		default:
			i++
		}
	}
	return len(sql)
}

// dollarTag returns the $tag$ opening at i, if any.
func dollarTag(sql string, i int) (string, bool) {
	if i > 0 && isIdentChar(sql[i-1]) {
		return "", false // part of an identifier, e.g. a$b
	}
	j := i + 1
	for j < len(sql) && sql[j] != '$' {
		if !isIdentChar(sql[j]) || (j == i+1 && sql[j] >= '0' && sql[j] <= '9') {
			return "", false // $1 parameters and the like
		}
		j++
	}
	if j >= len(sql) {
		return "", false
	}
	return sql[i : j+1], true
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

// position returns the 1-based line and character column of byte offset off.
func position(s string, off int) (line, col int) {
	line = 1 + strings.Count(s[:off], "\n")
	lineStart := strings.LastIndexByte(s[:off], '\n') + 1
	col = 1 + len([]rune(s[lineStart:off]))
	return line, col
}
