package rest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const tablesSQL = `
select n.nspname, c.relname, c.relkind in ('v','m') as is_view,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8) as insertable,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4) as updatable,
  c.relkind in ('r','p') or (c.relkind in ('v','f') and (pg_catalog.pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16) as deletable,
  coalesce((select array_agg(a.attname::text order by a.attnum)
     from pg_catalog.pg_index i join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = c.oid and i.indisprimary), '{}') as pk,
  coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r','v','m','f','p') and n.nspname = any($1)
order by 1, 2`

const columnsSQL = `
select n.nspname, c.relname, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
  pg_catalog.format_type(a.atttypid, null),
  not a.attnotnull, coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), a.attnum::int,
  coalesce(pg_catalog.col_description(c.oid, a.attnum), ''),
  coalesce((select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_catalog.pg_enum e where e.enumtypid = a.atttypid), '{}')
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
  p.provariadic <> 0,
  coalesce(an.nspname, ''), coalesce(ac.relname, ''), p.prorows::float8
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_type t on t.oid = p.prorettype
left join pg_catalog.pg_class rc on rc.oid = t.typrelid and rc.relkind in ('r','v','m','f','p')
left join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
left join pg_catalog.pg_type at on p.pronargs = 1 and at.oid = p.proargtypes[0]
left join pg_catalog.pg_class ac on ac.oid = at.typrelid and ac.relkind in ('r','v','m','f','p')
left join pg_catalog.pg_namespace an on an.oid = ac.relnamespace
where n.nspname = any($1) and p.prokind = 'f'
order by 1, 2`

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadSchema reads the schema cache for the exposed schemas.
func loadSchema(ctx context.Context, db querier, schemas []string) (*Schema, error) {
	s := &Schema{Tables: map[[2]string]*Table{}, Rels: map[[2]string][]*Relationship{}, Functions: map[[2]string][]*Function{}}
	if err := s.loadTables(ctx, db, schemas); err != nil {
		return nil, err
	}
	if err := s.loadColumns(ctx, db, schemas); err != nil {
		return nil, err
	}
	views, err := loadViewColumns(ctx, db, schemas)
	if err != nil {
		return nil, err
	}
	fks, err := loadForeignKeys(ctx, db, schemas)
	if err != nil {
		return nil, err
	}
	s.addViewKeys(views)
	for _, f := range fks {
		s.addRelationships(f, views)
	}
	s.addJunctions()
	if err := s.loadFunctions(ctx, db, schemas); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Schema) loadTables(ctx context.Context, db querier, schemas []string) error {
	rows, err := db.Query(ctx, tablesSQL, schemas)
	if err != nil {
		return fmt.Errorf("query tables: %w", err)
	}
	for rows.Next() {
		t := &Table{colIndex: map[string]*Column{}}
		if err := rows.Scan(&t.Schema, &t.Name, &t.IsView, &t.Insertable, &t.Updatable, &t.Deletable, &t.PK, &t.Description); err != nil {
			rows.Close()
			return fmt.Errorf("scan tables: %w", err)
		}
		s.Tables[[2]string{t.Schema, t.Name}] = t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query tables: %w", err)
	}
	return nil
}

func (s *Schema) loadColumns(ctx context.Context, db querier, schemas []string) error {
	rows, err := db.Query(ctx, columnsSQL, schemas)
	if err != nil {
		return fmt.Errorf("query columns: %w", err)
	}
	for rows.Next() {
		var sch, tbl string
		c := &Column{}
		if err := rows.Scan(&sch, &tbl, &c.Name, &c.Type, &c.BaseType, &c.Nullable, &c.Default, &c.Position, &c.Description, &c.Enum); err != nil {
			rows.Close()
			return fmt.Errorf("scan columns: %w", err)
		}
		if t := s.Table(sch, tbl); t != nil {
			t.Columns = append(t.Columns, c)
			t.colIndex[c.Name] = c
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query columns: %w", err)
	}
	return nil
}

// foreignKey is a foreign key constraint as the catalog lists it.
type foreignKey struct {
	name             string
	from, to         [2]string
	fromCols, toCols []string
	oneToOne         bool
}

func loadForeignKeys(ctx context.Context, db querier, schemas []string) ([]foreignKey, error) {
	rows, err := db.Query(ctx, fkSQL, schemas)
	if err != nil {
		return nil, fmt.Errorf("query foreign keys: %w", err)
	}
	var fks []foreignKey
	for rows.Next() {
		var f foreignKey
		if err := rows.Scan(&f.name, &f.from[0], &f.from[1], &f.to[0], &f.to[1], &f.fromCols, &f.toCols, &f.oneToOne); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan foreign keys: %w", err)
		}
		fks = append(fks, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query foreign keys: %w", err)
	}
	return fks, nil
}

// addViewKeys gives a view without a primary key its base table's key,
// when the view exposes all of it.
func (s *Schema) addViewKeys(views []*viewDep) {
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
}

// addRelationships adds foreign key f seen from both sides, between every
// (origin, target) pair among the tables and the views that expose all the
// key's columns.
func (s *Schema) addRelationships(f foreignKey, views []*viewDep) {
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

func (s *Schema) loadFunctions(ctx context.Context, db querier, schemas []string) error {
	rows, err := db.Query(ctx, functionsSQL, schemas)
	if err != nil {
		return fmt.Errorf("query functions: %w", err)
	}
	for rows.Next() {
		f := &Function{}
		var vol, typtype, rsch, rtbl string
		var names, types, modes []string
		var nargs, ndefaults int
		var variadic bool
		var argSchema, argTable string
		var prorows float64
		if err := rows.Scan(&f.Schema, &f.Name, &vol, &f.ReturnsSet, &f.ReturnType, &typtype, &rsch, &rtbl,
			&names, &types, &modes, &nargs, &ndefaults, &variadic, &argSchema, &argTable, &prorows); err != nil {
			rows.Close()
			return fmt.Errorf("scan functions: %w", err)
		}
		f.Volatility = vol[0]
		f.Void = f.ReturnType == "void"
		f.Composite = typtype == "c" || f.ReturnType == "record"
		if rtbl != "" {
			f.RetTable = s.Table(rsch, rtbl)
		}
		f.Params = functionParams(f, typtype, names, types, modes, ndefaults)
		key := [2]string{f.Schema, f.Name}
		s.Functions[key] = append(s.Functions[key], f)
		// A computed field: one argument of a table's row type, one
		// value back, in the table's schema (PostgREST finds them by
		// PostgreSQL's attribute notation, which looks in the search path).
		t := s.Table(argSchema, argTable)
		if t == nil || f.Schema != t.Schema || ndefaults != 0 || f.Void {
			continue
		}
		if !f.ReturnsSet {
			if t.Computed == nil {
				t.Computed = map[string]*Function{}
			}
			t.Computed[f.Name] = f
		}
		// A computed relationship: a function of the row returning rows
		// of a table; to-one when it returns one row (not a set, or ROWS 1).
		if f.RetTable != nil {
			card := OneToMany
			if !f.ReturnsSet || prorows == 1 {
				card = ManyToOne
			}
			s.addRel(&Relationship{Table: t, Foreign: f.RetTable, Card: card, Function: f,
				IsSelf: t == f.RetTable, ForeignView: f.RetTable.IsView})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query functions: %w", err)
	}
	return nil
}

// functionParams lists f's input parameters from the catalog's argument
// names, types and modes; OUT and TABLE parameters make f return a row
// (Composite), unless a single one makes it return that scalar.
func functionParams(f *Function, typtype string, names, types, modes []string, ndefaults int) []FuncParam {
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
	return in
}

func (s *Schema) addRel(r *Relationship) {
	k := [2]string{r.Table.Schema, r.Table.Name}
	for _, x := range s.Rels[k] {
		if x.Foreign == r.Foreign && x.Constraint == r.Constraint && x.Card == r.Card && fmt.Sprint(x.Columns) == fmt.Sprint(r.Columns) &&
			sameJunction(x.Junction, r.Junction) && x.Function == r.Function {
			return
		}
	}
	s.Rels[k] = append(s.Rels[k], r)
}

func sameJunction(a, b *Junction) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Table == b.Table && a.Constraint1 == b.Constraint1 && a.Constraint2 == b.Constraint2
}
