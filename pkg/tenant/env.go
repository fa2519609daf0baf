package tenant

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// envKeyRE is what a variable name in a .env file may look like.
var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnv reads KEY=VALUE lines as docker compose reads a .env file: blank
// lines and # comments are skipped, values may be single- or double-quoted.
// Errors name the file and line.
func parseEnv(data []byte, filename string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", filename, line)
		}
		k = strings.TrimSpace(k)
		if !envKeyRE.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: invalid variable name %q", filename, line, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("%s:%d: unterminated quoted value for %s", filename, line, k)
			}
			v = v[1 : len(v)-1]
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s:%d: %s is set twice", filename, line, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return out, nil
}

// formatEnv writes variables in a stable order, grouped as listed in order
// first and the rest sorted after.
func formatEnv(header string, vars map[string]string, order []string) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimSpace(header), "\n") {
		b.WriteString("# " + l + "\n")
	}
	written := map[string]bool{}
	for _, k := range order {
		if v, ok := vars[k]; ok {
			fmt.Fprintf(&b, "%s=%s\n", k, envValue(v))
			written[k] = true
		}
	}
	var rest []string
	for k := range vars {
		if !written[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		fmt.Fprintf(&b, "%s=%s\n", k, envValue(vars[k]))
	}
	return b.Bytes()
}

// envValue writes a value so that docker compose reads it back unchanged:
// compose expands $NAME in unquoted and double-quoted values, so one
// holding a $ (a bcrypt hash: $2a$10$…) is single-quoted, which compose
// takes literally. No generated value holds a single quote.
func envValue(v string) string {
	if strings.Contains(v, "$") && !strings.Contains(v, "'") {
		return "'" + v + "'"
	}
	return v
}
