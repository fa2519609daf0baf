package realtimeserver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

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
  and pt.schemaname <> 'realtime' -- realtime.messages: Broadcast from Database, not postgres_changes
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
