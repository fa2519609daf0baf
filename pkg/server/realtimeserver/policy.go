package realtimeserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// rowPolicy is how one role's row-level security judges versions of one
// table's rows: the table's SELECT policies that apply to the role,
// combined as PostgreSQL combines them (permissive ones with OR, restrictive
// ones with AND), in a statement that evaluates them on row versions taken
// from the change stream rather than on rows of the table.
//
// That is what lets the dispatcher judge a row that no longer exists (a
// DELETE, or the old side of an UPDATE) by the same rules as one that does:
// the policies run under the subscriber's role and claims, against the
// values the row had, with the database as it is now (memberships, say).
type rowPolicy struct {
	// bypass: the role is not subject to the table's row-level security
	// (superuser, BYPASSRLS, or the table's owner without FORCE).
	bypass bool
	// never: no permissive policy applies to the role, so no row is
	// visible to it.
	never bool
	// needs are the columns (indexes into tableMeta.columns) the policies
	// read; a version missing one of them cannot be judged.
	needs []int
	// wholeRow: a policy refers to a whole row, so every column is needed.
	wholeRow bool
	// dedup: the verdict depends only on the role, the claims and the
	// needed columns' values (no volatile call, see volatileSQL), so the
	// versions of a batch that agree on them are judged once per group.
	dedup bool
	// checkSQL judges versions: see buildVersionSQL.
	checkSQL string
	// loop judges the versions of many groups in one call (nil: a
	// statement per group).
	loop *loopFunc
	// meta is the table shape checkSQL was built for.
	meta   *tableMeta
	loaded time.Time
}

// policiesSQL lists, for each (role, table), whether the role bypasses the
// table's row-level security and the SELECT policies that apply to it
// (granted to PUBLIC or to a role whose privileges it has), with the
// columns each depends on. pg_get_expr runs with an empty search_path, so
// every name in the expressions is schema-qualified.
const policiesSQL = `
select r.role, r.rel,
       coalesce((select a.rolsuper or a.rolbypassrls from pg_catalog.pg_roles a where a.rolname = r.role), false)
         or (pg_catalog.pg_has_role(r.role, c.relowner, 'USAGE') and not c.relforcerowsecurity),
       p.polpermissive,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       coalesce(p.polqual::text like '%:varattno 0 %', false),
       coalesce(array(select d.refobjsubid::int4 from pg_catalog.pg_depend d
                      where d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass and d.objid = p.oid
                        and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjid = p.polrelid
                        and d.refobjsubid > 0), '{}'),
       p.polqual is not null and (` + volatileSQL + `)
from unnest($1::text[], $2::oid[]) as r(role, rel)
join pg_catalog.pg_class c on c.oid = r.rel
left join pg_catalog.pg_policy p on p.polrelid = r.rel and p.polcmd in ('r', '*') and p.polqual is not null
  and ('{0}'::oid[] <@ p.polroles
       or exists (select 1 from unnest(p.polroles) as pr(oid) where pr.oid <> 0 and pg_catalog.pg_has_role(r.role, pr.oid, 'USAGE')))
order by r.role, r.rel, p.polname`

// volatileSQL reports whether the verdict of policy p may differ between
// two versions whose columns read by the policy are equal, within one
// statement: whether p's expression, or an expression PostgreSQL applies
// while evaluating it (the policies of the tables it reads, the views it
// reads, recursively), calls a volatile function or operator, reads a
// foreign table, or has a node this check does not read (a row
// comparison, a sequence's next value). Stable and immutable functions
// return the same result for the same arguments within a statement, and a
// statement reads one snapshot, so without such calls equal inputs give
// equal verdicts. The node trees are read as text (pg_node_tree), which
// names each function, operator and relation by oid.
const volatileSQL = `with recursive trees(t) as (
    select p.polqual::text
    union
    select coalesce(q.polqual::text, w.ev_action::text)
    from trees
    cross join lateral pg_catalog.regexp_matches(trees.t, ':relid (\d+)', 'g') as r
    left join pg_catalog.pg_policy q on q.polrelid = r[1]::oid and q.polqual is not null
    left join pg_catalog.pg_rewrite w on w.ev_class = r[1]::oid
    where q.polqual is not null or w.ev_action is not null)
  select exists (select 1 from trees where t like '%{ROWCOMPARE%' or t like '%{NEXTVALUEEXPR%')
    or exists (select 1 from trees
      cross join lateral pg_catalog.regexp_matches(trees.t, ':(funcid|opfuncid|aggfnoid|winfnoid|opno|relid) (\d+)', 'g') as m
      left join pg_catalog.pg_proc f on m[1] not in ('opno', 'relid') and f.oid = m[2]::oid
      left join pg_catalog.pg_operator o on m[1] = 'opno' and o.oid = m[2]::oid
      left join pg_catalog.pg_proc opf on opf.oid = o.oprcode
      left join pg_catalog.pg_class c on m[1] = 'relid' and c.oid = m[2]::oid
      where f.provolatile = 'v' or opf.provolatile = 'v' or c.relkind = 'f')`

// policies returns the row policy of each (role, table), reading those not
// cached or older than metaTTL in one query. metas must hold every table.
func (c *catalog) policies(ctx context.Context, keys []privKey, metas map[uint32]*tableMeta, now time.Time) (map[privKey]*rowPolicy, error) {
	out, roles, rels := cachedKeys(&c.mu, keys, func(k privKey) (*rowPolicy, bool) {
		p, ok := c.pols[k]
		return p, ok && now.Sub(p.loaded) < metaTTL && p.meta == metas[k.rel]
	})
	if len(roles) == 0 {
		return out, nil
	}
	fresh, err := c.loadPolicies(ctx, roles, rels, metas, now)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for k, p := range fresh {
		c.pols[k] = p
		out[k] = p
	}
	c.mu.Unlock()
	return out, nil
}

func (c *catalog) loadPolicies(ctx context.Context, roles []string, rels []uint32, metas map[uint32]*tableMeta, now time.Time) (map[privKey]*rowPolicy, error) {
	tx, err := c.q.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `select pg_catalog.set_config('search_path', '', true)`); err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}
	rows, err := tx.Query(ctx, policiesSQL, roles, rels)
	if err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}
	type policyRow struct {
		permissive *bool
		expr       *string
		wholeRow   bool
		attnums    []int32
		volatile   *bool
	}
	bypass := map[privKey]bool{}
	pols := map[privKey][]policyRow{}
	var k privKey
	var byp bool
	var pr policyRow // pgx allocates its pointers and slice anew for each row
	_, err = pgx.ForEachRow(rows, []any{&k.role, &k.rel, &byp, &pr.permissive, &pr.expr, &pr.wholeRow, &pr.attnums, &pr.volatile}, func() error {
		bypass[k] = byp
		if pr.expr != nil {
			pols[k] = append(pols[k], pr)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}
	// Column numbers of the tables, to map pg_depend's attnums to columns.
	attRows, err := tx.Query(ctx, `select a.attrelid, a.attnum, a.attname from pg_catalog.pg_attribute a
		where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped`, rels)
	if err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}
	attName := map[uint32]map[int32]string{}
	var rel uint32
	var num int32
	var name string
	_, err = pgx.ForEachRow(attRows, []any{&rel, &num, &name}, func() error {
		if attName[rel] == nil {
			attName[rel] = map[int32]string{}
		}
		attName[rel][num] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load row security policies: %w", err)
	}

	out := map[privKey]*rowPolicy{}
	for i := range roles {
		k := privKey{roles[i], rels[i]}
		m := metas[k.rel]
		p := &rowPolicy{bypass: bypass[k], meta: m, loaded: now}
		out[k] = p
		if p.bypass || m == nil {
			continue
		}
		var permissive, restrictive []string
		needs := map[int]bool{}
		p.dedup = true
		for _, pr := range pols[k] {
			if pr.volatile == nil || *pr.volatile {
				p.dedup = false
			}
			if *pr.permissive {
				permissive = append(permissive, "("+*pr.expr+")")
			} else {
				restrictive = append(restrictive, "("+*pr.expr+")")
			}
			p.wholeRow = p.wholeRow || pr.wholeRow
			for _, n := range pr.attnums {
				if ci, ok := m.byName[attName[k.rel][n]]; ok {
					needs[ci] = true
				} else {
					p.wholeRow = true // a column the metadata does not know: judge nothing partially
				}
			}
		}
		if len(permissive) == 0 {
			p.never = true
			continue
		}
		for ci := range m.columns {
			if needs[ci] {
				p.needs = append(p.needs, ci)
			}
		}
		cond := "(" + strings.Join(permissive, " or ") + ")"
		for _, r := range restrictive {
			cond += " and " + r
		}
		p.checkSQL = buildVersionSQL(m, cond)
		p.loop = buildLoopFunc(m, cond)
	}
	return out, nil
}

// Names of the parameter columns in version statements: unlikely to clash
// with a column name a policy refers to unqualified.
const versionOrd = `"sfp$ord"`

// buildVersionSQL builds the statement that returns the ordinals of the
// row versions in its array parameters (one text array per column of the
// table) that the current role and claims may see: each version is
// rebuilt, typed, under the table's own name, so the policy expressions
// (deparsed by PostgreSQL, schema-qualified) read its columns as they read
// a table row, and cond, the combined policies, must admit it.
//
// Identifiers are quoted and types come from format_type; the policy text
// comes from the catalog; nothing in it comes from a client.
func buildVersionSQL(m *tableMeta, cond string) string {
	var params, names, casts []string
	for i, col := range m.columns {
		v := fmt.Sprintf(`"sfp$v%d"`, i+1)
		params = append(params, fmt.Sprintf("$%d::text[]", i+1))
		names = append(names, v)
		casts = append(casts, fmt.Sprintf("u.%s::%s as %s", v, col.castType, pgx.Identifier{col.name}.Sanitize()))
	}
	names = append(names, versionOrd)
	return fmt.Sprintf(`select u.%s from unnest(%s) with ordinality as u(%s)
cross join lateral (select %s) as %s
where %s`,
		versionOrd, strings.Join(params, ", "), strings.Join(names, ", "),
		strings.Join(casts, ", "), pgx.Identifier{m.name}.Sanitize(), cond)
}
