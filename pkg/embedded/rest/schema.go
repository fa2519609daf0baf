package rest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is a column of a table or view in the schema cache.
type Column struct {
	Name     string
	Type     string // format_type, e.g. "integer", "text[]", "character varying(20)"
	BaseType string // the type without modifiers, used for json_to_recordset
	Nullable bool
	Default  string // SQL expression, "" when none
	Position int
}

// Table is a table, view, materialized view or foreign table.
type Table struct {
	Schema     string
	Name       string
	IsView     bool
	Insertable bool
	Updatable  bool
	Deletable  bool
	Columns    []*Column
	colIndex   map[string]*Column
	PK         []string
	// Open is set for the result of a function returning an anonymous
	// record type: any column name is accepted and Postgres checks it.
	Open bool
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column { return t.colIndex[name] }

// Cardinality of a relationship, seen from its origin.
type Cardinality int

const (
	ManyToOne Cardinality = iota
	OneToMany
	OneToOne
)

// Relationship is a foreign key seen from one side. Columns pairs are
// (origin column, target column).
type Relationship struct {
	Table       *Table // origin
	Foreign     *Table // target
	Constraint  string
	Columns     [][2]string
	Card        Cardinality
	IsSelf      bool
	ForeignView bool
}

// FuncParam is a named argument of a function.
type FuncParam struct {
	Name       string
	Type       string
	HasDefault bool
	Variadic   bool
}

// Function is a routine callable through /rpc.
type Function struct {
	Schema     string
	Name       string
	Params     []FuncParam
	Volatility byte // 'i', 's' or 'v'
	ReturnsSet bool
	// ReturnType is the return type name (format_type).
	ReturnType string
	// Composite is true when the function returns a row type (a table's,
	// a composite type's, or OUT/TABLE parameters).
	Composite bool
	// RetTable is the table whose row type the function returns, if any.
	RetTable *Table
	Void     bool
}

// Schema is an immutable snapshot of the schema cache. The server swaps
// whole snapshots atomically on reload, so a request keeps the snapshot it
// started with.
type Schema struct {
	Tables    map[[2]string]*Table
	Rels      map[[2]string][]*Relationship // by origin (schema, name)
	Functions map[[2]string][]*Function
}

// Table looks a table up by schema and name.
func (s *Schema) Table(schema, name string) *Table { return s.Tables[[2]string{schema, name}] }

const tablesSQL = `
select n.nspname, c.relname, c.relkind in ('v','m') as is_view,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) as insertable,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) as updatable,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) as deletable,
  coalesce((select array_agg(a.attname::text order by a.attnum)
     from pg_catalog.pg_index i join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = c.oid and i.indisprimary), '{}') as pk
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r','v','m','f','p') and n.nspname = any($1)
order by 1, 2`

const columnsSQL = `
select n.nspname, c.relname, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
  pg_catalog.format_type(a.atttypid, null),
  not a.attnotnull, coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), a.attnum::int
from pg_catalog.pg_attribute a
join pg_catalog.pg_class c on c.oid = a.attrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum and a.attgenerated = ''
where c.relkind in ('r','v','m','f','p') and n.nspname = any($1) and a.attnum > 0 and not a.attisdropped
order by 1, 2, a.attnum`

// fkSQL lists foreign keys whose origin or target is in an exposed schema.
const fkSQL = `
select c.conname::text, ns.nspname, cs.relname, nt.nspname, ct.relname,
  (select array_agg(a.attname::text order by k.ord) from unnest(c.conkey) with ordinality k(att, ord)
     join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.att),
  (select array_agg(a.attname::text order by k.ord) from unnest(c.confkey) with ordinality k(att, ord)
     join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.att),
  exists (select 1 from pg_catalog.pg_constraint u where u.conrelid = c.conrelid and u.contype in ('p','u')
          and u.conkey::int2[] @> c.conkey::int2[] and u.conkey::int2[] <@ c.conkey::int2[]) as one_to_one
from pg_catalog.pg_constraint c
join pg_catalog.pg_class cs on cs.oid = c.conrelid
join pg_catalog.pg_namespace ns on ns.oid = cs.relnamespace
join pg_catalog.pg_class ct on ct.oid = c.confrelid
join pg_catalog.pg_namespace nt on nt.oid = ct.relnamespace
where c.contype = 'f' and (ns.nspname = any($1) or nt.nspname = any($1))
order by 1`

// viewsSQL returns the parse trees of the exposed views; viewColumns
// reads their top-level target lists to map view columns to base columns.
const viewsSQL = `
select c.oid::int8, n.nspname, c.relname, r.ev_action::text
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_rewrite r on r.ev_class = c.oid
where c.relkind in ('v','m') and n.nspname = any($1)`

const relOidsSQL = `
select c.oid::int8, n.nspname, c.relname,
  coalesce((select array_agg(a.attnum::int order by a.attnum) from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '{}'),
  coalesce((select array_agg(a.attname::text order by a.attnum) from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '{}')
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.oid = any($1::oid[])`

const functionsSQL = `
select n.nspname, p.proname::text, p.provolatile::text, p.proretset,
  pg_catalog.format_type(p.prorettype, null),
  t.typtype::text, coalesce(rn.nspname, ''), coalesce(rc.relname, ''),
  coalesce(p.proargnames, '{}')::text[],
  coalesce((select array_agg(pg_catalog.format_type(x, null) order by o)
     from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(x, o)), '{}'),
  coalesce(p.proargmodes::text[], '{}'),
  p.pronargs::int, p.pronargdefaults::int,
  p.provariadic <> 0
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_type t on t.oid = p.prorettype
left join pg_catalog.pg_class rc on rc.oid = t.typrelid and rc.relkind in ('r','v','m','f','p')
left join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any($1) and p.prokind = 'f'
order by 1, 2`

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadSchema reads the schema cache for the exposed schemas.
func loadSchema(ctx context.Context, db querier, schemas []string) (*Schema, error) {
	s := &Schema{Tables: map[[2]string]*Table{}, Rels: map[[2]string][]*Relationship{}, Functions: map[[2]string][]*Function{}}
	rows, err := db.Query(ctx, tablesSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query tables: %w", err)
	}
	for rows.Next() {
		t := &Table{colIndex: map[string]*Column{}}
		if err := rows.Scan(&t.Schema, &t.Name, &t.IsView, &t.Insertable, &t.Updatable, &t.Deletable, &t.PK); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan tables: %w", err)
		}
		s.Tables[[2]string{t.Schema, t.Name}] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query tables: %w", err)
	}

	rows, err = db.Query(ctx, columnsSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query columns: %w", err)
	}
	for rows.Next() {
		var sch, tbl string
		c := &Column{}
		if err := rows.Scan(&sch, &tbl, &c.Name, &c.Type, &c.BaseType, &c.Nullable, &c.Default, &c.Position); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan columns: %w", err)
		}
		if t := s.Table(sch, tbl); t != nil {
			t.Columns = append(t.Columns, c)
			t.colIndex[c.Name] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query columns: %w", err)
	}

	views, err := loadViewColumns(ctx, db, schemas)
	if err != nil {
		return nil, err
	}

	rows, err = db.Query(ctx, fkSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query foreign keys: %w", err)
	}
	type fk struct {
		name             string
		from, to         [2]string
		fromCols, toCols []string
		oneToOne         bool
	}
	var fks []fk
	for rows.Next() {
		var f fk
		if err := rows.Scan(&f.name, &f.from[0], &f.from[1], &f.to[0], &f.to[1], &f.fromCols, &f.toCols, &f.oneToOne); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan foreign keys: %w", err)
		}
		fks = append(fks, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query foreign keys: %w", err)
	}

	// Primary keys of views: the base table's key when the view exposes all of it.
	for _, v := range views {
		vt := s.Tables[v.view]
		if vt == nil || len(vt.PK) > 0 {
			continue
		}
		if bt := s.Tables[v.base]; bt != nil && len(bt.PK) > 0 {
			if cols, ok := v.mapCols(bt.PK); ok {
				vt.PK = cols
			}
		}
	}

	for _, f := range fks {
		// Every (origin, target) pair among the tables and the views that
		// expose all the key's columns.
		type side struct {
			t    *Table
			cols []string
		}
		sides := func(tbl [2]string, cols []string) []side {
			var out []side
			if t := s.Tables[tbl]; t != nil {
				out = append(out, side{t, cols})
			}
			for _, v := range views {
				if v.base != tbl {
					continue
				}
				if mc, ok := v.mapCols(cols); ok {
					if t := s.Tables[v.view]; t != nil {
						out = append(out, side{t, mc})
					}
				}
			}
			return out
		}
		for _, o := range sides(f.from, f.fromCols) {
			for _, t := range sides(f.to, f.toCols) {
				pairs := make([][2]string, len(o.cols))
				rpairs := make([][2]string, len(o.cols))
				for i := range o.cols {
					pairs[i] = [2]string{o.cols[i], t.cols[i]}
					rpairs[i] = [2]string{t.cols[i], o.cols[i]}
				}
				self := o.t == t.t
				card, rcard := ManyToOne, OneToMany
				if f.oneToOne {
					card, rcard = OneToOne, OneToOne
				}
				s.addRel(&Relationship{Table: o.t, Foreign: t.t, Constraint: f.name, Columns: pairs, Card: card, IsSelf: self, ForeignView: t.t.IsView})
				s.addRel(&Relationship{Table: t.t, Foreign: o.t, Constraint: f.name, Columns: rpairs, Card: rcard, IsSelf: self, ForeignView: o.t.IsView})
			}
		}
	}

	rows, err = db.Query(ctx, functionsSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query functions: %w", err)
	}
	for rows.Next() {
		f := &Function{}
		var vol, typtype, rsch, rtbl string
		var names, types, modes []string
		var nargs, ndefaults int
		var variadic bool
		if err := rows.Scan(&f.Schema, &f.Name, &vol, &f.ReturnsSet, &f.ReturnType, &typtype, &rsch, &rtbl,
			&names, &types, &modes, &nargs, &ndefaults, &variadic); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan functions: %w", err)
		}
		f.Volatility = vol[0]
		f.Void = f.ReturnType == "void"
		f.Composite = typtype == "c" || f.ReturnType == "record"
		if rtbl != "" {
			f.RetTable = s.Table(rsch, rtbl)
		}
		hasOut := false
		var in []FuncParam
		for i, typ := range types {
			mode := "i"
			if i < len(modes) {
				mode = modes[i]
			}
			name := ""
			if i < len(names) {
				name = names[i]
			}
			switch mode {
			case "o", "t":
				hasOut = true
				continue
			}
			in = append(in, FuncParam{Name: name, Type: typ, Variadic: mode == "v"})
		}
		if hasOut && !f.ReturnsSet && typtype != "c" && f.ReturnType != "record" {
			// A single OUT parameter: the function returns that scalar.
			hasOut = false
		}
		if hasOut {
			f.Composite = true
		}
		for i := range in {
			if i >= len(in)-ndefaults {
				in[i].HasDefault = true
			}
		}
		f.Params = in
		_ = variadic
		_ = nargs
		key := [2]string{f.Schema, f.Name}
		s.Functions[key] = append(s.Functions[key], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query functions: %w", err)
	}
	return s, nil
}

func (s *Schema) addRel(r *Relationship) {
	k := [2]string{r.Table.Schema, r.Table.Name}
	for _, x := range s.Rels[k] {
		if x.Foreign == r.Foreign && x.Constraint == r.Constraint && x.Card == r.Card && fmt.Sprint(x.Columns) == fmt.Sprint(r.Columns) {
			return
		}
	}
	s.Rels[k] = append(s.Rels[k], r)
}

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
	rows, err := db.Query(ctx, viewsSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query views: %w", err)
	}
	type view struct {
		oid     int64
		name    [2]string
		targets []targetEntry
	}
	var vs []*view
	byOid := map[int64]*view{}
	for rows.Next() {
		v := &view{}
		var tree string
		if err := rows.Scan(&v.oid, &v.name[0], &v.name[1], &tree); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan views: %w", err)
		}
		v.targets = parseTargetList(tree)
		vs = append(vs, v)
		byOid[v.oid] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query views: %w", err)
	}
	if len(vs) == 0 {
		return nil, nil
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
	rows, err = db.Query(ctx, relOidsSQL, oids)
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

	var out []*viewDep
	for _, v := range vs {
		deps := map[int64]*viewDep{}
		vi := rels[v.oid]
		if vi == nil {
			continue
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
		for _, k := range keys {
			out = append(out, deps[k])
		}
	}
	return out, nil
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
	token := func() string {
		start := i
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
		return tree[start:min(i, n)]
	}
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
		tok := token()
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
		start := i
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
		tok := tree[start:min(i, n)]
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
