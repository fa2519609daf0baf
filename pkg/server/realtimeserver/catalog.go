package realtimeserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// metaTTL bounds how stale cached catalog facts may be (row-level security
// enabled, primary key, column privileges). The official server reads them
// for every polled change; re-reading them at most once a second per table
// keeps that freshness without a catalog round trip per change.
const metaTTL = time.Second

// columnMeta is one column of a published table.
type columnMeta struct {
	name     string
	typ      *typeInfo
	castType string // format_type without typmod, for casts in generated SQL
}

// tableMeta is what change payloads and visibility checks need to know
// about a table.
type tableMeta struct {
	oid     uint32
	schema  string
	name    string
	rls     bool
	columns []columnMeta // in attnum order
	byName  map[string]int
	pk      []int // column indexes, in primary key order
	// checkSQL selects which of a batch's primary keys the current role
	// and claims may see; empty when the table has no primary key.
	checkSQL string
	loaded   time.Time
}

// catalog caches type and table facts read through the authenticator pool.
type catalog struct {
	q  querier
	mu sync.Mutex

	types  map[uint32]*typeInfo
	tables map[uint32]*tableMeta
	privs  map[privKey]*privEntry
	pols   map[privKey]*rowPolicy
}

// querier is the part of a pool the catalog needs.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// rowsQuerier runs a query on a pool or inside a transaction.
type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type privKey struct {
	role string
	rel  uint32
}

type privEntry struct {
	selectable map[string]bool
	loaded     time.Time
}

func newCatalog(q querier) *catalog {
	return &catalog{
		q:      q,
		types:  map[uint32]*typeInfo{},
		tables: map[uint32]*tableMeta{},
		privs:  map[privKey]*privEntry{},
		pols:   map[privKey]*rowPolicy{},
	}
}

// invalidate forgets what is known about a table, after the replication
// stream announced a new shape for it.
func (c *catalog) invalidate(rel uint32) {
	c.mu.Lock()
	delete(c.tables, rel)
	for k := range c.privs {
		if k.rel == rel {
			delete(c.privs, k)
		}
	}
	for k := range c.pols {
		if k.rel == rel {
			delete(c.pols, k)
		}
	}
	c.mu.Unlock()
}

const typesSQL = `
select t.oid, t.typname, t.typcategory::text,
       case when t.typtype = 'd' then t.typbasetype else 0 end,
       case when t.typcategory = 'A' then t.typelem else 0 end
from pg_catalog.pg_type t
where t.oid = any($1::oid[])`

// loadTypes makes sure every OID (and the types they are built on) is in
// the type cache.
func (c *catalog) loadTypes(ctx context.Context, q rowsQuerier, oids []uint32) error {
	type row struct {
		name      string
		cat       string
		base, elm uint32
	}
	raw := map[uint32]row{}
	want := oids
	for depth := 0; len(want) > 0 && depth < 8; depth++ {
		rows, err := q.Query(ctx, typesSQL, want)
		if err != nil {
			return fmt.Errorf("load column types: %w", err)
		}
		var next []uint32
		var oid uint32
		var r row
		_, err = pgx.ForEachRow(rows, []any{&oid, &r.name, &r.cat, &r.base, &r.elm}, func() error {
			raw[oid] = r
			for _, dep := range []uint32{r.base, r.elm} {
				if dep != 0 {
					if _, ok := raw[dep]; !ok {
						next = append(next, dep)
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load column types: %w", err)
		}
		want = next
	}
	var resolve func(oid uint32, depth int) *typeInfo
	resolve = func(oid uint32, depth int) *typeInfo {
		if t, ok := c.types[oid]; ok {
			return t
		}
		r, ok := raw[oid]
		if !ok || depth > 8 {
			return &typeInfo{oid: oid, name: fmt.Sprint(oid), kind: jsonString, cmp: cmpOther}
		}
		t := &typeInfo{oid: oid, name: r.name}
		switch {
		case r.base != 0: // a domain behaves as its base type
			b := resolve(r.base, depth+1)
			t.kind, t.cmp, t.elem = b.kind, b.cmp, b.elem
		case r.elm != 0:
			t.kind, t.cmp, t.elem = jsonArray, cmpOther, resolve(r.elm, depth+1)
		default:
			t.kind, t.cmp = kindsOf(oid)
		}
		c.types[oid] = t
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, oid := range oids {
		resolve(oid, 0)
	}
	return nil
}

const tablesSQL = `
select c.oid, n.nspname, c.relname, c.relrowsecurity,
       a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, null),
       coalesce((select k.n from unnest(i.indkey) with ordinality as k(att, n) where k.att = a.attnum), 0)::int4
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_catalog.pg_index i on i.indrelid = c.oid and i.indisprimary
where c.oid = any($1::oid[])
order by c.oid, a.attnum`

// tablesFor returns current metadata for the tables, reading the catalog
// for those not cached or older than metaTTL in one query.
func (c *catalog) tablesFor(ctx context.Context, rels []uint32, now time.Time) (map[uint32]*tableMeta, error) {
	out := make(map[uint32]*tableMeta, len(rels))
	var stale []uint32
	c.mu.Lock()
	for _, r := range rels {
		if m, ok := c.tables[r]; ok && now.Sub(m.loaded) < metaTTL {
			out[r] = m
		} else if _, dup := out[r]; !dup {
			stale = append(stale, r)
			out[r] = nil
		}
	}
	c.mu.Unlock()
	if len(stale) == 0 {
		return out, nil
	}
	rows, err := c.q.Query(ctx, tablesSQL, stale)
	if err != nil {
		return nil, fmt.Errorf("load table metadata: %w", err)
	}
	type colRow struct {
		name, cast string
		typ        uint32
		pkPos      int32
	}
	metas := map[uint32]*tableMeta{}
	cols := map[uint32][]colRow{}
	var typeOIDs []uint32
	var (
		oid          uint32
		schema, name string
		rls          bool
		cr           colRow
	)
	_, err = pgx.ForEachRow(rows, []any{&oid, &schema, &name, &rls, &cr.name, &cr.typ, &cr.cast, &cr.pkPos}, func() error {
		if _, ok := metas[oid]; !ok {
			metas[oid] = &tableMeta{oid: oid, schema: schema, name: name, rls: rls, byName: map[string]int{}, loaded: now}
		}
		cols[oid] = append(cols[oid], cr)
		typeOIDs = append(typeOIDs, cr.typ)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load table metadata: %w", err)
	}
	if err := c.loadTypes(ctx, c.q, typeOIDs); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for oid, m := range metas {
		pkAt := map[int32]int{}
		for i, cr := range cols[oid] {
			m.columns = append(m.columns, columnMeta{name: cr.name, typ: c.types[cr.typ], castType: cr.cast})
			m.byName[cr.name] = i
			if cr.pkPos > 0 {
				pkAt[cr.pkPos] = i
			}
		}
		for p := int32(1); p <= int32(len(pkAt)); p++ {
			m.pk = append(m.pk, pkAt[p])
		}
		m.checkSQL = buildCheckSQL(m)
		c.tables[oid] = m
		out[oid] = m
	}
	for _, r := range stale {
		if out[r] == nil {
			delete(out, r) // dropped since the change was written
		}
	}
	return out, nil
}

// buildCheckSQL builds the statement that returns the ordinals of the
// primary keys in its array parameters that the current role may select.
// Identifiers are quoted and types come from format_type: nothing in it
// comes from a client.
func buildCheckSQL(m *tableMeta) string {
	if len(m.pk) == 0 {
		return ""
	}
	var cols, args, conds []string
	for i, ci := range m.pk {
		col := m.columns[ci]
		cols = append(cols, fmt.Sprintf("v%d", i+1))
		args = append(args, fmt.Sprintf("$%d::text[]", i+1))
		conds = append(conds, fmt.Sprintf("t.%s = u.v%d::%s", pgx.Identifier{col.name}.Sanitize(), i+1, col.castType))
	}
	return fmt.Sprintf("select u.ord from unnest(%s) with ordinality as u(%s, ord) where exists (select 1 from %s as t where %s)",
		strings.Join(args, ", "), strings.Join(cols, ", "),
		pgx.Identifier{m.schema, m.name}.Sanitize(), strings.Join(conds, " and "))
}

const privsSQL = `
select r.role, a.attrelid, a.attname,
       pg_catalog.has_column_privilege(r.role, a.attrelid, a.attnum, 'SELECT')
from unnest($1::text[], $2::oid[]) as r(role, rel)
join pg_catalog.pg_attribute a on a.attrelid = r.rel and a.attnum > 0 and not a.attisdropped`

// cachedKeys looks each key up with cached, holding mu: out has the value
// of every key cached and still good, and nil (the zero value) for the
// others, which roles and rels (side by side) list once each, to be loaded
// in one query.
func cachedKeys[V any](mu *sync.Mutex, keys []privKey, cached func(privKey) (V, bool)) (out map[privKey]V, roles []string, rels []uint32) {
	out = make(map[privKey]V, len(keys))
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		if v, ok := cached(k); ok {
			out[k] = v
		} else if _, dup := out[k]; !dup {
			var none V
			out[k] = none
			roles = append(roles, k.role)
			rels = append(rels, k.rel)
		}
	}
	return out, roles, rels
}

// privileges returns, for each (role, table), the columns the role may
// select, reading those not cached or stale in one query.
func (c *catalog) privileges(ctx context.Context, keys []privKey, now time.Time) (map[privKey]map[string]bool, error) {
	out, roles, rels := cachedKeys(&c.mu, keys, func(k privKey) (map[string]bool, bool) {
		e, ok := c.privs[k]
		if !ok || now.Sub(e.loaded) >= metaTTL {
			return nil, false
		}
		return e.selectable, true
	})
	if len(roles) == 0 {
		return out, nil
	}
	rows, err := c.q.Query(ctx, privsSQL, roles, rels)
	if err != nil {
		return nil, fmt.Errorf("load column privileges: %w", err)
	}
	fresh := map[privKey]map[string]bool{}
	var k privKey
	var col string
	var ok bool
	_, err = pgx.ForEachRow(rows, []any{&k.role, &k.rel, &col, &ok}, func() error {
		if fresh[k] == nil {
			fresh[k] = map[string]bool{}
		}
		if ok {
			fresh[k][col] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load column privileges: %w", err)
	}
	c.mu.Lock()
	for i := range roles {
		k := privKey{roles[i], rels[i]}
		sel := fresh[k]
		if sel == nil {
			sel = map[string]bool{}
		}
		c.privs[k] = &privEntry{selectable: sel, loaded: now}
		out[k] = sel
	}
	c.mu.Unlock()
	return out, nil
}
