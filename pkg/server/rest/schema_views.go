package rest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// viewDep maps the columns of a view to the columns of one base table.
type viewDep struct {
	view, base [2]string
	cols       map[string][]string // base column -> view columns
}

func (v *viewDep) mapCols(base []string) ([]string, bool) {
	out := make([]string, len(base))
	for i, c := range base {
		vc := v.cols[c]
		if len(vc) == 0 {
			return nil, false
		}
		out[i] = vc[0]
	}
	return out, true
}

type relInfo struct {
	name  [2]string
	names map[int]string
}

// loadViewColumns traces every column of the exposed views back to a base
// table column (through views over views), by reading the target list of
// each view's rewrite rule.
func loadViewColumns(ctx context.Context, db querier, schemas []string) ([]*viewDep, error) {
	vs, err := loadViews(ctx, db, schemas)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	byOid := map[int64]*view{}
	for _, v := range vs {
		byOid[v.oid] = v
	}
	// resolve follows a (table, column) through views to a base table.
	var resolve func(tbl int64, col int, depth int) (int64, int)
	resolve = func(tbl int64, col int, depth int) (int64, int) {
		v, ok := byOid[tbl]
		if !ok || depth > 16 {
			return tbl, col
		}
		for _, t := range v.targets {
			if t.resno == col && t.origTbl != 0 {
				return resolve(t.origTbl, t.origCol, depth+1)
			}
		}
		return 0, 0
	}
	oidSet := map[int64]bool{}
	for _, v := range vs {
		oidSet[v.oid] = true
		for _, t := range v.targets {
			if t.origTbl != 0 {
				bt, _ := resolve(t.origTbl, t.origCol, 0)
				oidSet[bt] = true
			}
		}
	}
	oids := make([]int64, 0, len(oidSet))
	for o := range oidSet {
		oids = append(oids, o)
	}
	rels, err := loadRelNames(ctx, db, oids)
	if err != nil {
		return nil, err
	}
	var out []*viewDep
	for _, v := range vs {
		out = append(out, v.deps(rels, resolve)...)
	}
	return out, nil
}

// view is an exposed view with the top-level target list of its query.
type view struct {
	oid     int64
	name    [2]string
	targets []targetEntry
}

func loadViews(ctx context.Context, db querier, schemas []string) ([]*view, error) {
	rows, err := db.Query(ctx, viewsSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query views: %w", err)
	}
	var vs []*view
	for rows.Next() {
		v := &view{}
		var tree string
		if err := rows.Scan(&v.oid, &v.name[0], &v.name[1], &tree); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan views: %w", err)
		}
		v.targets = parseTargetList(tree)
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query views: %w", err)
	}
	return vs, nil
}

// loadRelNames reads the names and column names of the relations oids.
func loadRelNames(ctx context.Context, db querier, oids []int64) (map[int64]*relInfo, error) {
	rows, err := db.Query(ctx, relOidsSQL, oids)
	if err != nil {
		return nil, fmt.Errorf("query view dependencies: %w", err)
	}
	rels := map[int64]*relInfo{}
	for rows.Next() {
		var oid int64
		ri := &relInfo{names: map[int]string{}}
		var nums []int32
		var names []string
		if err := rows.Scan(&oid, &ri.name[0], &ri.name[1], &nums, &names); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan view dependencies: %w", err)
		}
		for i, n := range nums {
			ri.names[int(n)] = names[i]
		}
		rels[oid] = ri
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query view dependencies: %w", err)
	}
	return rels, nil
}

// deps maps v's columns to the base tables they come from (resolve
// follows them through views), one viewDep per base table, in oid order.
func (v *view) deps(rels map[int64]*relInfo, resolve func(tbl int64, col int, depth int) (int64, int)) []*viewDep {
	deps := map[int64]*viewDep{}
	vi := rels[v.oid]
	if vi == nil {
		return nil
	}
	for _, t := range v.targets {
		if t.origTbl == 0 {
			continue
		}
		bt, bc := resolve(t.origTbl, t.origCol, 0)
		bi := rels[bt]
		if bi == nil {
			// A base table of a view over a view: look it up lazily.
			continue
		}
		d := deps[bt]
		if d == nil {
			d = &viewDep{view: v.name, base: bi.name, cols: map[string][]string{}}
			deps[bt] = d
		}
		if bn, ok := bi.names[bc]; ok {
			if vn, ok := vi.names[t.resno]; ok {
				d.cols[bn] = append(d.cols[bn], vn)
			}
		}
	}
	keys := make([]int64, 0, len(deps))
	for k := range deps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]*viewDep, 0, len(keys))
	for _, k := range keys {
		out = append(out, deps[k])
	}
	return out
}

type targetEntry struct {
	resno   int
	origTbl int64
	origCol int
}

// parseTargetList extracts resno/resorigtbl/resorigcol of the top-level
// query's target list from a pg_node_tree text. It tracks nesting so the
// target lists of subqueries (in the range table) are ignored.
func parseTargetList(tree string) []targetEntry {
	depth := 0
	i := 0
	n := len(tree)
	// Find ":targetList" directly inside the first QUERY node (depth 2:
	// "(" then "{").
	for i < n {
		c := tree[i]
		switch c {
		case '\\':
			i += 2
			continue
		case '{', '(':
			depth++
			i++
			continue
		case '}', ')':
			depth--
			i++
			if depth == 0 {
				return nil
			}
			continue
		case ' ':
			i++
			continue
		}
		var tok string
		tok, i = nodeTreeToken(tree, i)
		if tok == "" {
			i++
			continue
		}
		if depth == 2 && tok == ":targetList" {
			return parseEntries(tree, i)
		}
	}
	return nil
}

// nodeTreeToken reads the token of a pg_node_tree text that starts at i:
// everything up to a space or a bracket, a backslash escaping the byte
// after it. It returns the token and the index after it.
func nodeTreeToken(tree string, i int) (string, int) {
	start, n := i, len(tree)
	for i < n {
		c := tree[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == ' ' || c == '{' || c == '}' || c == '(' || c == ')' {
			break
		}
		i++
	}
	return tree[start:min(i, n)], i
}

func parseEntries(tree string, i int) []targetEntry {
	n := len(tree)
	for i < n && tree[i] == ' ' {
		i++
	}
	if i >= n || tree[i] != '(' {
		return nil
	}
	var out []targetEntry
	depth := 0
	var cur *targetEntry
	var lastKey string
	for i < n {
		c := tree[i]
		switch c {
		case '\\':
			i += 2
			continue
		case '(', '{':
			depth++
			if depth == 2 && c == '{' {
				out = append(out, targetEntry{})
				cur = &out[len(out)-1]
			}
			i++
			continue
		case ')', '}':
			depth--
			i++
			if depth == 0 {
				return out
			}
			continue
		case ' ':
			i++
			continue
		}
		var tok string
		tok, i = nodeTreeToken(tree, i)
		if depth != 2 || cur == nil {
			continue
		}
		if strings.HasPrefix(tok, ":") {
			lastKey = tok
			continue
		}
		switch lastKey {
		case ":resno":
			cur.resno, _ = strconv.Atoi(tok)
		case ":resorigtbl":
			v, _ := strconv.ParseInt(tok, 10, 64)
			cur.origTbl = v
		case ":resorigcol":
			cur.origCol, _ = strconv.Atoi(tok)
		}
		lastKey = ""
	}
	return out
}
