package realtimeserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// With one statement per (role, claims) group and table, a batch costs
// two statements per subscriber whose claims differ (set_config, then the
// check): 4,000 statements for 2,000 users, each paying PostgreSQL's
// per-statement overhead (snapshot, portal, executor start and end) for a
// policy evaluation of a few microseconds. The loop function moves that
// loop into the database, as Supabase Realtime's apply_rls does: one call
// per (role, table) per batch sets each group's claims in turn
// (set_config, local to the transaction, as PostgREST sets them) and
// evaluates the same policy condition on the group's versions with a plan
// PL/pgSQL prepares once per session (a generic plan: a custom one would
// copy the version arrays into every group's plan). The role is set by the caller before
// the call, so the policies of the tables the condition reads apply to it
// as they do to a query; the claims are read by auth.uid() and friends
// when each group's query runs, after its set_config.
//
// The function lives in the session's temporary schema (pg_temp): nothing
// is added to the tenant's schema, and it is created, under a name that is
// a hash of its text, by a DO block at the start of each batch when the
// session does not have it yet (a new connection, or after DISCARD).

// errLoopCreate marks a failure to create a loop function (the session
// may lack the TEMPORARY privilege): checks then go on without them.
var errLoopCreate = errors.New("create visibility function")

// loopFunc is the loop function of one (table shape, policy condition).
type loopFunc struct {
	ensureSQL string // DO block creating the function if this session lacks it
	callSQL   string // $1 claims text[], $2 bounds int4[], $3… one text[] per column
}

// maxLoopColumns keeps the function's arguments under PostgreSQL's limit
// of 100 (claims, bounds, one per column); wider tables are checked with
// a statement per group.
const maxLoopColumns = 90

// loopTag quotes the function body; a condition containing it (it cannot,
// as PostgreSQL deparses string constants with single quotes) gets no
// loop function.
const loopTag = "$sfp_rt$"

// buildLoopFunc returns the loop function judging m's versions by cond, or
// nil when the table is too wide for one.
func buildLoopFunc(m *tableMeta, cond string) *loopFunc {
	if len(m.columns) > maxLoopColumns || strings.Contains(cond, loopTag) {
		return nil
	}
	var params, casts, callArgs []string
	for i, col := range m.columns {
		v := fmt.Sprintf(`"sfp$v%d"`, i+1)
		params = append(params, v+" text[]")
		// Elements, not slices: PL/pgSQL holds array arguments expanded,
		// so an element costs O(1), where a slice would copy the whole
		// array for every group.
		casts = append(casts, fmt.Sprintf(`%s[s."sfp$pos"]::%s as %s`, v, col.castType, pgx.Identifier{col.name}.Sanitize()))
		callArgs = append(callArgs, fmt.Sprintf("$%d::text[]", i+3))
	}
	// The condition is judged in a lateral subquery kept apart (offset 0),
	// once per version: a generic plan estimates a thousand versions per
	// group and would otherwise join the policy's subqueries to them by
	// hashing whole tables (a membership table) for every group.
	body := fmt.Sprintf(`#variable_conflict use_column
declare
  "sfp$i" int4;
begin
  for "sfp$i" in 1 .. coalesce(pg_catalog.array_length("sfp$claims", 1), 0) loop
    perform pg_catalog.set_config('request.jwt.claims', "sfp$claims"["sfp$i"], true);
    return query select "sfp$i", s."sfp$pos"::int8
      from pg_catalog.generate_series("sfp$bounds"["sfp$i"], "sfp$bounds"["sfp$i" + 1] - 1) as s("sfp$pos")
      cross join lateral (select from (select %s) as %s where %s offset 0) as "sfp$seen";
  end loop;
end`, strings.Join(casts, ", "), pgx.Identifier{m.name}.Sanitize(), cond)
	sig := `"sfp$claims" text[], "sfp$bounds" int4[], ` + strings.Join(params, ", ")
	sum := sha256.Sum256([]byte(sig + "\x00" + body))
	name := "sfp_rt_" + hex.EncodeToString(sum[:12])
	var argTypes []string
	for range m.columns {
		argTypes = append(argTypes, "text[]")
	}
	regproc := fmt.Sprintf("pg_temp.%s(text[], int4[], %s)", name, strings.Join(argTypes, ", "))
	create := fmt.Sprintf(`create function pg_temp.%s(%s) returns table("sfp$g" int4, "sfp$pos" int8) language plpgsql set plan_cache_mode = force_generic_plan as %s%s%s`,
		name, sig, loopTag, body, loopTag)
	ensure := fmt.Sprintf(`do $sfp_do$ begin
  if pg_catalog.to_regprocedure(%s) is null then
    execute %s;
  end if;
end $sfp_do$`, quoteLiteral(regproc), quoteLiteral(create))
	call := fmt.Sprintf(`select "sfp$g", "sfp$pos" from pg_temp.%s($1::text[], $2::int4[], %s)`, name, strings.Join(callArgs, ", "))
	return &loopFunc{ensureSQL: ensure, callSQL: call}
}

// quoteLiteral quotes s as a standard SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// loopCall is one call of a loop function: the groups of one role whose
// versions of one table it judges, their versions concatenated.
type loopCall struct {
	fn     *loopFunc
	claims []string
	bounds []int32
	cols   [][]*string
	rows   []*checkRows // by group, in claims order
}

func (lc *loopCall) add(a *authState, rr *checkRows) {
	if lc.cols == nil {
		lc.cols = make([][]*string, len(rr.cols))
		lc.bounds = []int32{1}
	}
	lc.claims = append(lc.claims, string(a.claims))
	for ci := range rr.cols {
		lc.cols[ci] = append(lc.cols[ci], rr.cols[ci]...)
	}
	lc.bounds = append(lc.bounds, lc.bounds[len(lc.bounds)-1]+int32(len(rr.index)))
	lc.rows = append(lc.rows, rr)
}

func (lc *loopCall) args() []any {
	args := []any{lc.claims, lc.bounds}
	for _, c := range lc.cols {
		args = append(args, c)
	}
	return args
}

// loopPlan is the statements of one connection's share of a batch, with
// loop functions: for each role, set it once, then one call per table;
// rows the stream lacks columns of (checked by key) keep a statement per
// group.
type loopPlan struct {
	funcs []*loopFunc
	steps []loopStep
}

// loopStep is one statement of the plan: setting a role (and claims), a
// loop call, or a per-group statement (keyed).
type loopStep struct {
	role, claims string
	call         *loopCall
	rows         *checkRows
}

// loopMaxVersions is the most versions per group, on average, for which
// the loop is used. The loop judges each version in a subquery of its own
// (a few microseconds each), where a statement per group judges its
// versions as one set; the statement's fixed cost (about a hundred
// microseconds) is what the loop saves. BenchmarkVisibility, 100 groups:
// with 1 version each the loop costs a fifth of a statement per group,
// with 20 each six times more; dedup usually leaves one or two.
const loopMaxVersions = 8

// planLoop returns the plan for groups, sorted by role, or false when a
// version check has no loop function (a table too wide) or the groups
// have many versions each (loopMaxVersions).
func planLoop(groups []*checkGroup) (*loopPlan, bool) {
	versions := 0
	for _, g := range groups {
		for _, rr := range g.rels {
			versions += len(rr.index)
		}
	}
	if versions > loopMaxVersions*len(groups) {
		return nil, false
	}
	p := &loopPlan{}
	for i := 0; i < len(groups); {
		role := groups[i].auth.role
		j := i
		for j < len(groups) && groups[j].auth.role == role {
			j++
		}
		// Claims are set per group by the function; the role once.
		p.steps = append(p.steps, loopStep{role: role, claims: ""})
		calls := map[*loopFunc]*loopCall{}
		var keyed []*checkGroup
		for _, g := range groups[i:j] {
			hasKeyed := false
			for _, k := range g.relOrder {
				rr := g.rels[k]
				if rr.keyed {
					hasKeyed = true
					continue
				}
				if rr.pol == nil || rr.pol.loop == nil {
					return nil, false
				}
				fn := rr.pol.loop
				lc := calls[fn]
				if lc == nil {
					lc = &loopCall{fn: fn}
					calls[fn] = lc
					p.steps = append(p.steps, loopStep{call: lc})
					p.funcs = append(p.funcs, fn)
				}
				lc.add(g.auth, rr)
			}
			if hasKeyed {
				keyed = append(keyed, g)
			}
		}
		for _, g := range keyed {
			p.steps = append(p.steps, loopStep{role: g.auth.role, claims: string(g.auth.claims)})
			for _, k := range g.relOrder {
				if rr := g.rels[k]; rr.keyed {
					p.steps = append(p.steps, loopStep{rows: rr})
				}
			}
		}
		i = j
	}
	return p, true
}

// ensureLoop makes sure the session has fn and its call is prepared.
// pgx remembers what it prepared on a connection, so once it has, this
// costs no round trip; on a new connection the call fails to prepare (no
// such function) and the function is created first.
func ensureLoop(ctx context.Context, conn *pgx.Conn, fn *loopFunc) error {
	if _, err := conn.Prepare(ctx, fn.callSQL, fn.callSQL); err == nil || !isSQLError(err) {
		return err
	}
	if _, err := conn.Exec(ctx, fn.ensureSQL); err != nil {
		return fmt.Errorf("%w: %w", errLoopCreate, err)
	}
	_, err := conn.Prepare(ctx, fn.callSQL, fn.callSQL)
	return err
}

// runLoopChecks runs a loop plan in one round trip (once the session has
// the functions).
func (d *dispatcher) runLoopChecks(ctx context.Context, conn *pgx.Conn, p *loopPlan) error {
	for _, fn := range p.funcs {
		if err := ensureLoop(ctx, conn, fn); err != nil {
			return fmt.Errorf("check row visibility: %w", err)
		}
	}
	b := &pgx.Batch{}
	b.Queue("begin")
	for _, s := range p.steps {
		switch {
		case s.call != nil:
			b.Queue(s.call.fn.callSQL, s.call.args()...)
			d.stats.checks.Add(1)
		case s.rows != nil:
			b.Queue(s.rows.sql, s.rows.args()...)
			d.stats.checks.Add(1)
		default:
			b.Queue(setClaimsSQL, s.role, s.claims)
		}
	}
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("check row visibility: %w", err)
	}
	for _, s := range p.steps {
		var err error
		switch {
		case s.call != nil:
			err = readLoopRows(br, s.call)
		case s.rows != nil:
			err = readVisible(br, s.rows)
		default:
			if _, err = br.Exec(); err != nil {
				err = fmt.Errorf("set role and claims: %w", err)
			}
		}
		if err != nil {
			return fmt.Errorf("check row visibility: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("check row visibility: commit: %w", err)
	}
	return br.Close()
}

// readLoopRows marks the versions a loop call found visible: rows of
// (group number, position in the concatenated versions), both from 1.
func readLoopRows(br pgx.BatchResults, lc *loopCall) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g int32
		var pos int64
		if err := rows.Scan(&g, &pos); err != nil {
			return err
		}
		if g < 1 || int(g) > len(lc.rows) {
			continue
		}
		rr := lc.rows[g-1]
		i := int(pos) - int(lc.bounds[g-1])
		if i >= 0 && i < len(rr.visible) {
			rr.visible[i] = true
		}
	}
	return rows.Err()
}

// readVisible marks the versions a per-group statement found visible
// (their ordinals, from 1).
func readVisible(br pgx.BatchResults, rr *checkRows) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("%s.%s: %w", rr.meta.schema, rr.meta.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ord int64
		if err := rows.Scan(&ord); err != nil {
			return err
		}
		if ord >= 1 && int(ord) <= len(rr.visible) {
			rr.visible[ord-1] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s.%s: %w", rr.meta.schema, rr.meta.name, err)
	}
	return nil
}
