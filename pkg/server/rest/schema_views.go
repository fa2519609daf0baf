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
	// Find ":targetList" directly inside the first QUERY node (depth 2:
	// "(" then "{").
	sc := nodeTreeScanner{tree: tree}
	for {
		tok, ok := sc.next()
		switch {
		case !ok:
			return nil
		case isNodeTreeClose(tok) && sc.depth == 0:
			return nil
		case sc.depth == 2 && tok == ":targetList":
			return parseEntries(tree, sc.i)
		}
	}
}

// nodeTreeScanner reads a pg_node_tree text a bracket or a token at a
// time, keeping the bracket depth. A token runs up to a space or a
// bracket, a backslash escaping the byte after it; a backslash pair
// outside a token is passed over.
type nodeTreeScanner struct {
	tree  string
	i     int
	depth int
}

// next returns the next bracket or token, or false at the end of the text.
func (sc *nodeTreeScanner) next() (string, bool) {
	tree, n := sc.tree, len(sc.tree)
	for sc.i < n {
		switch c := tree[sc.i]; c {
		case '\\':
			sc.i += 2
		case ' ':
			sc.i++
		case '{', '(':
			sc.depth++
			sc.i++
			return tree[sc.i-1 : sc.i], true
		case '}', ')':
			sc.depth--
			sc.i++
			return tree[sc.i-1 : sc.i], true
		default:
			start := sc.i
			for sc.i < n {
				c := tree[sc.i]
				if c == '\\' {
					sc.i += 2
					continue
				}
				if c == ' ' || c == '{' || c == '}' || c == '(' || c == ')' {
					break
				}
				sc.i++
			}
			return tree[start:min(sc.i, n)], true
		}
	}
	return "", false
}

func isNodeTreeClose(tok string) bool { return tok == ")" || tok == "}" }

func parseEntries(tree string, i int) []targetEntry {
	n := len(tree)
	for i < n && tree[i] == ' ' {
		i++
	}
	if i >= n || tree[i] != '(' {
		return nil
	}
	var out []targetEntry
	var cur *targetEntry
	var lastKey string
	sc := nodeTreeScanner{tree: tree, i: i}
	for {
		tok, ok := sc.next()
		if !ok {
			return out
		}
		switch {
		case tok == "{" && sc.depth == 2:
			out = append(out, targetEntry{})
			cur = &out[len(out)-1]
			continue
		case tok == "(" || tok == "{":
			continue
		case isNodeTreeClose(tok):
			if sc.depth == 0 {
				return out
			}
			continue
		}
		if sc.depth != 2 || cur == nil {
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
}
