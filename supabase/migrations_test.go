package supabase_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

// TestMigrationFiles checks the house rules of every file: a version at or
// after 20261201000000, no explicit transaction control (the runner wraps
// each file in a transaction), and a final notify pgrst, 'reload schema'.
func TestMigrationFiles(t *testing.T) {
	ms, err := migrate.Load(supabase.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 {
		t.Fatalf("%d migrations; want one per coherent change", len(ms))
	}
	for _, m := range ms {
		if m.Version < "20261201000000" {
			t.Errorf("%s: version before 20261201000000", m.File)
		}
		for _, st := range m.Statements {
			first := strings.ToLower(strings.Fields(stripComments(st.SQL) + " x")[0])
			if first == "begin" || first == "commit" || first == "rollback" || first == "start" {
				t.Errorf("%s line %d: explicit transaction control %q", m.File, st.Line, first)
			}
		}
		last := m.Statements[len(m.Statements)-1].SQL
		if stripComments(last) != "notify pgrst, 'reload schema'" {
			t.Errorf("%s: last statement is %q, want notify pgrst, 'reload schema'", m.File, last)
		}
	}
}

func stripComments(sql string) string {
	var out []string
	for _, l := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// TestMigrationsApplyFreshAndReapply starts a brand-new embedded cluster with
// only the platform SQL, applies the migrations with the runner, applies them
// again (nothing to do), then executes every file a second time behind the
// runner's back: each statement is idempotent, so the catalog afterwards is
// exactly what it was.
func TestMigrationsApplyFreshAndReapply(t *testing.T) {
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx, pgtest.Options{SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	conn, err := pgx.Connect(ctx, cluster.URL("supabase_admin", pgtest.TemplateDB))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	r, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil {
		t.Fatalf("apply on a fresh cluster: %v", err)
	}
	if len(applied) != len(r.Migrations) {
		t.Fatalf("applied %d of %d migrations", len(applied), len(r.Migrations))
	}
	again, err := r.Apply(ctx, conn, migrate.Options{})
	if err != nil || len(again) != 0 {
		t.Fatalf("second apply: %d applied, err %v; want nothing to do", len(again), err)
	}

	before := fingerprint(ctx, t, conn)
	if len(before) < 100 {
		t.Fatalf("catalog fingerprint has %d lines; the query is broken", len(before))
	}
	for _, m := range r.Migrations {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, st := range m.Statements {
				if _, err := tx.Conn().PgConn().Exec(ctx, st.SQL).ReadAll(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("re-executing %s: %v", m.File, err)
		}
	}
	after := fingerprint(ctx, t, conn)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("re-executing the migrations changed the catalog (-before +after):\n%s", diff)
	}
}

// fingerprint describes the tenant schema: columns, constraints, indexes,
// policies, functions, triggers, privileges, comments, types, replica
// identity, publication membership and the document routes.
func fingerprint(ctx context.Context, t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	const q = `
	with ns as (select oid from pg_namespace where nspname in ('public', 'sfp_private')),
	rels as (select c.* from pg_class c where c.relnamespace in (select oid from ns))
	select 'rel ' || c.oid::regclass || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity || ' ident=' || c.relreplident::text
	       || ' acl=' || coalesce(c.relacl::text, '-') || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-')
	from rels c
	union all
	select 'col ' || c.oid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	       || ' collation=' || a.attcollation || ' comment=' || coalesce(col_description(c.oid, a.attnum), '-')
	from rels c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
	left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
	union all
	select 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	from pg_constraint where connamespace in (select oid from ns)
	union all
	select 'idx ' || pg_get_indexdef(i.indexrelid) from pg_index i join rels c on c.oid = i.indrelid
	union all
	select 'pol ' || pol.polrelid::regclass || ' ' || pol.polname || ' ' || pol.polcmd::text || ' ' || pol.polroles::text
	       || ' using=' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-')
	       || ' check=' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-')
	       || ' comment=' || coalesce(obj_description(pol.oid, 'pg_policy'), '-')
	from pg_policy pol join rels c on c.oid = pol.polrelid
	union all
	select 'fn ' || p.oid::regprocedure || ' acl=' || coalesce(p.proacl::text, '-')
	       || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') || E'\n' || pg_get_functiondef(p.oid)
	from pg_proc p where p.pronamespace in (select oid from ns)
	union all
	select 'trg ' || pg_get_triggerdef(tg.oid) from pg_trigger tg join rels c on c.oid = tg.tgrelid where not tg.tgisinternal
	union all
	select 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' ' || coalesce(obj_description(t.oid, 'pg_type'), '-')
	       || ' ' || coalesce((select string_agg(e.enumlabel, ',' order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), '')
	from pg_type t where t.typnamespace in (select oid from ns) and t.typtype in ('e', 'c')
	union all
	select 'pub ' || pubname || ' ' || schemaname || '.' || tablename from pg_publication_tables
	union all
	select 'route ' || collection || ' ' || table_name || ' ' || coalesce(description, '-') from public.document_stores
	union all
	select 'schema ' || nspname || ' acl=' || coalesce(nspacl::text, '-') || ' comment=' || coalesce(obj_description(oid, 'pg_namespace'), '-')
	from pg_namespace where oid in (select oid from ns)
	order by 1`
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return lines
}
