package realtimeserver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// metaTTL bounds how stale cached catalog facts may be (row-level security
// enabled, primary key, column privileges). The official server reads them
// for every polled change; re-reading them at most once a second per table
// keeps that freshness without a catalog round trip per change.
const metaTTL = time.Second

// jsonKind says how a column's text value becomes JSON in change payloads
// (the official server applies to_jsonb to each value).
type jsonKind int

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
	jsonRaw // json, jsonb
	jsonBytea
	jsonTimestamptz
	jsonTimestamp
	jsonTimetz
	jsonArray
)

// typeInfo describes a column type.
type typeInfo struct {
	oid  uint32
	name string // pg_type.typname, shown in the payload's columns
	kind jsonKind
	cmp  cmpKind
	elem *typeInfo // element type of arrays
}

// Built-in type OIDs the conversions depend on.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

func kindsOf(base uint32) (jsonKind, cmpKind) {
	switch base {
	case oidBool:
		return jsonBool, cmpBool
	case oidInt2, oidInt4, oidInt8:
		return jsonNumber, cmpInt
	case oidOID:
		return jsonString, cmpInt
	case oidFloat4, oidFloat8:
		return jsonNumber, cmpFloat
	case oidNumeric:
		return jsonNumber, cmpNumeric
	case oidJSON, oidJSONB:
		return jsonRaw, cmpOther
	case oidBytea:
		return jsonBytea, cmpOther
	case oidTimestamptz:
		return jsonTimestamptz, cmpTimestamptz
	case oidTimestamp:
		return jsonTimestamp, cmpTimestamp
	case oidDate:
		return jsonString, cmpDate
	case oidTime:
		return jsonString, cmpTime
	case oidTimetz:
		return jsonTimetz, cmpOther
	case oidBpchar:
		return jsonString, cmpBpchar
	case oidText, oidVarchar, oidName, oidChar, oidUUID:
		return jsonString, cmpText
	}
	return jsonString, cmpOther
}

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
		for rows.Next() {
			var oid uint32
			var r row
			if err := rows.Scan(&oid, &r.name, &r.cat, &r.base, &r.elm); err != nil {
				rows.Close()
				return fmt.Errorf("load column types: %w", err)
			}
			raw[oid] = r
			for _, dep := range []uint32{r.base, r.elm} {
				if dep != 0 {
					if _, ok := raw[dep]; !ok {
						next = append(next, dep)
					}
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
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
	for rows.Next() {
		var (
			oid          uint32
			schema, name string
			rls          bool
			cr           colRow
		)
		if err := rows.Scan(&oid, &schema, &name, &rls, &cr.name, &cr.typ, &cr.cast, &cr.pkPos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load table metadata: %w", err)
		}
		if _, ok := metas[oid]; !ok {
			metas[oid] = &tableMeta{oid: oid, schema: schema, name: name, rls: rls, byName: map[string]int{}, loaded: now}
		}
		cols[oid] = append(cols[oid], cr)
		typeOIDs = append(typeOIDs, cr.typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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

// privileges returns, for each (role, table), the columns the role may
// select, reading those not cached or stale in one query.
func (c *catalog) privileges(ctx context.Context, keys []privKey, now time.Time) (map[privKey]map[string]bool, error) {
	out := make(map[privKey]map[string]bool, len(keys))
	var roles []string
	var rels []uint32
	c.mu.Lock()
	for _, k := range keys {
		if e, ok := c.privs[k]; ok && now.Sub(e.loaded) < metaTTL {
			out[k] = e.selectable
		} else if _, dup := out[k]; !dup {
			out[k] = nil
			roles = append(roles, k.role)
			rels = append(rels, k.rel)
		}
	}
	c.mu.Unlock()
	if len(roles) == 0 {
		return out, nil
	}
	rows, err := c.q.Query(ctx, privsSQL, roles, rels)
	if err != nil {
		return nil, fmt.Errorf("load column privileges: %w", err)
	}
	fresh := map[privKey]map[string]bool{}
	for rows.Next() {
		var k privKey
		var col string
		var ok bool
		if err := rows.Scan(&k.role, &k.rel, &col, &ok); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load column privileges: %w", err)
		}
		if fresh[k] == nil {
			fresh[k] = map[string]bool{}
		}
		if ok {
			fresh[k][col] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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

// bindingTable is a postgres_changes binding resolved against one table.
type bindingTable struct {
	rel      uint32
	schema   string
	table    string
	filters  []compiledFilter
	selected map[string]bool // nil: every column
}

// subscribeError is a subscription the server refuses; its message is
// what clients see in the system message (or the join error reply).
type subscribeError struct{ msg string }

func (e *subscribeError) Error() string { return e.msg }

// sessionSettingsSQL makes value canonicalisation produce the same text as
// the replication stream, which runs with the same settings.
const sessionSettingsSQL = `select set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true),
	set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true),
	set_config('bytea_output', 'hex', true)`

const roleSQL = `select pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER') from pg_catalog.pg_roles r where r.rolname = $1`

const pubTablesSQL = `
select pt.schemaname::text, pt.tablename::text, c.oid
from pg_catalog.pg_publication_tables pt
join pg_catalog.pg_namespace n on n.nspname = pt.schemaname
join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
where pt.pubname = $1
  and ($2 = '*' or pt.schemaname = $2)
  and ($3 = '*' or pt.tablename = $3)
order by 1, 2`

const columnsSQL = `
select a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, null),
       pg_catalog.has_column_privilege($2::text, a.attrelid, a.attnum, 'SELECT')
from pg_catalog.pg_attribute a
where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped`

const likeOpSQL = `select exists (select 1 from pg_catalog.pg_operator where oprname = '~~' and oprleft = $1)`
const regexOpSQL = `select exists (select 1 from pg_catalog.pg_operator where oprname = $1 and oprleft = $2 and oprright = $2 and oprresult = 'boolean'::regtype)`

// resolveBinding checks a binding the way the official server's
// subscription trigger does (tables in the publication, filter columns the
// role may select, values of the column's type, `in` lists of at most 100,
// selected columns) and compiles it for each table it covers.
func (c *catalog) resolveBinding(ctx context.Context, publication string, role string, b *bindingSpec) ([]*bindingTable, error) {
	tx, err := c.q.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, sessionSettingsSQL); err != nil {
		return nil, err
	}
	var member bool
	switch err := tx.QueryRow(ctx, roleSQL, role).Scan(&member); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, b.exception(fmt.Sprintf("ERROR 22023 (invalid_parameter_value) role %q does not exist", role))
	case err != nil:
		return nil, err
	case !member:
		return nil, b.exception(fmt.Sprintf("ERROR 42501 (insufficient_privilege) permission denied to set role %q", role))
	}
	rows, err := tx.Query(ctx, pubTablesSQL, publication, b.Schema, b.Table)
	if err != nil {
		return nil, err
	}
	var tables []*bindingTable
	for rows.Next() {
		bt := &bindingTable{}
		if err := rows.Scan(&bt.schema, &bt.table, &bt.rel); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, bt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, &subscribeError{msgNotPublished + b.logParams() + "]"}
	}
	for _, bt := range tables {
		if err := c.compileFor(ctx, tx, role, b, bt); err != nil {
			return nil, err
		}
	}
	return tables, nil
}

type colInfo struct {
	typ        uint32
	cast       string
	selectable bool
}

func (c *catalog) compileFor(ctx context.Context, tx pgx.Tx, role string, b *bindingSpec, bt *bindingTable) error {
	rows, err := tx.Query(ctx, columnsSQL, bt.rel, role)
	if err != nil {
		return err
	}
	cols := map[string]colInfo{}
	var typeOIDs []uint32
	for rows.Next() {
		var name string
		var ci colInfo
		if err := rows.Scan(&name, &ci.typ, &ci.cast, &ci.selectable); err != nil {
			rows.Close()
			return err
		}
		cols[name] = ci
		typeOIDs = append(typeOIDs, ci.typ)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := c.loadTypes(ctx, tx, typeOIDs); err != nil {
		return err
	}
	for _, f := range b.filters {
		ci, ok := cols[f.Column]
		if !ok || !ci.selectable {
			return b.exception("ERROR P0001 (raise_exception) invalid column for filter " + f.Column)
		}
		c.mu.Lock()
		typ := c.types[ci.typ]
		c.mu.Unlock()
		cf := compiledFilter{filterSpec: f, kind: typ.cmp}
		if err := c.compileValue(ctx, tx, b, &cf, ci); err != nil {
			return err
		}
		bt.filters = append(bt.filters, cf)
	}
	if b.Select != nil {
		bt.selected = map[string]bool{}
		for _, s := range b.Select {
			if ci, ok := cols[s]; !ok || !ci.selectable {
				return b.exception("ERROR P0001 (raise_exception) invalid column for select " + s)
			}
			bt.selected[s] = true
		}
	}
	return nil
}

func (c *catalog) compileValue(ctx context.Context, tx pgx.Tx, b *bindingSpec, cf *compiledFilter, ci colInfo) error {
	switch cf.Op {
	case "in":
		var n int
		var vals []*string
		err := tx.QueryRow(ctx, fmt.Sprintf("select coalesce(cardinality(v), 0), array(select x::text from unnest(v) x) from (select ($1::text)::%s[] as v) s", ci.cast), cf.Value).Scan(&n, &vals)
		if err != nil {
			return b.sqlException(err)
		}
		if n > 100 {
			return b.exception("ERROR P0001 (raise_exception) too many values for `in` filter. Maximum 100")
		}
		for _, v := range vals {
			if v != nil {
				cf.list = append(cf.list, *v)
			}
		}
	case "is":
		switch cf.Value {
		case "null", "true", "false", "unknown":
		default:
			return b.exception("ERROR P0001 (raise_exception) invalid value for is filter: must be null, true, false, or unknown")
		}
		if cf.Value != "null" && ci.typ != oidBool {
			return b.exception(fmt.Sprintf("ERROR P0001 (raise_exception) is %s filter requires a boolean column, got %s", cf.Value, ci.cast))
		}
	case "like", "ilike":
		var ok bool
		if err := tx.QueryRow(ctx, likeOpSQL, ci.typ).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return b.exception(fmt.Sprintf("ERROR P0001 (raise_exception) operator %s requires a text-compatible column type, got %s", cf.Op, ci.cast))
		}
		re, err := likeToRegexp(cf.Value, cf.Op == "ilike")
		if err != nil {
			return b.exception("ERROR P0001 (raise_exception) " + err.Error())
		}
		cf.re = re
	case "match", "imatch":
		op := "~"
		if cf.Op == "imatch" {
			op = "~*"
		}
		var ok bool
		if err := tx.QueryRow(ctx, regexOpSQL, op, ci.typ).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return b.exception(fmt.Sprintf("ERROR P0001 (raise_exception) operator %s requires a text-compatible column type, got %s", cf.Op, ci.cast))
		}
		if _, err := tx.Exec(ctx, "select '' ~ $1", cf.Value); err != nil {
			if !isSQLError(err) {
				return err
			}
			return b.exception("ERROR P0001 (raise_exception) invalid regular expression for " + cf.Op + " filter: " + pgMessage(err))
		}
		pattern := cf.Value
		if cf.Op == "imatch" {
			pattern = "(?i)" + pattern
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return b.exception("ERROR P0001 (raise_exception) invalid regular expression for " + cf.Op + " filter: " + err.Error())
		}
		cf.re = re
	default:
		var canon *string
		if err := tx.QueryRow(ctx, fmt.Sprintf("select (($1::text)::%s)::text", ci.cast), cf.Value).Scan(&canon); err != nil {
			return b.sqlException(err)
		}
		if canon != nil {
			cf.canon = *canon
		}
	}
	return nil
}

func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// isSQLError reports whether err is a statement error from the server
// (deterministic), as opposed to a lost connection or a shutdown.
func isSQLError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57") && !strings.HasPrefix(pe.Code, "53")
}

// sqlConditionNames names the SQLSTATEs a subscription commonly fails with,
// as Postgrex prints them.
var sqlConditionNames = map[string]string{
	"22P02": "invalid_text_representation",
	"22003": "numeric_value_out_of_range",
	"22007": "invalid_datetime_format",
	"22008": "datetime_field_overflow",
	"22023": "invalid_parameter_value",
	"2202E": "array_subscript_error",
	"42501": "insufficient_privilege",
	"42704": "undefined_object",
	"42703": "undefined_column",
	"P0001": "raise_exception",
}

// sqlException turns a database error met while checking a binding into
// the official server's message; other errors pass through.
func (b *bindingSpec) sqlException(err error) error {
	var pe *pgconn.PgError
	if !isSQLError(err) || !errors.As(err, &pe) {
		return err
	}
	name := ""
	if n, ok := sqlConditionNames[pe.Code]; ok {
		name = " (" + n + ")"
	}
	return b.exception(fmt.Sprintf("ERROR %s%s %s", pe.Code, name, pe.Message))
}

func (b *bindingSpec) exception(detail string) error {
	return &subscribeError{msgSubscribeException + b.logParams() + "]. Exception: " + detail}
}
