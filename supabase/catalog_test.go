package supabase_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// Catalog rules every migration must keep. Each query returns the offending
// objects, so a failure names what to fix.
var catalogRules = []struct {
	name, why, query string
}{
	{
		name: "public tables have row-level security",
		why:  "the API roles have ALL on new public tables by default; without RLS every row is exposed",
		query: `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity`,
	},
	{
		name: "SECURITY DEFINER functions fix search_path",
		why:  "a definer function resolving names through the caller's search_path can be hijacked",
		query: `select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
			  and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')`,
	},
	{
		name: "tenant SECURITY DEFINER functions use an empty search_path",
		why:  "STYLE: set search_path = '' and qualify every name",
		query: `select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where p.prosecdef and n.nspname in ('public', 'sfp_private')
			  and not ('search_path=""' = any (coalesce(p.proconfig, '{}')))`,
	},
	{
		name: "no tenant function is executable by PUBLIC or anon",
		why:  "default privileges grant EXECUTE to PUBLIC and anon; every function must revoke them",
		query: `select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where n.nspname in ('public', 'sfp_private')
			  and (has_function_privilege('anon', p.oid, 'execute')
			       or exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
			                  where a.grantee = 0 and a.privilege_type = 'EXECUTE'))`,
	},
	{
		name: "anon has no privilege on any public table",
		why:  "anon sees nothing",
		query: `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
			  and has_table_privilege('anon', c.oid, 'select,insert,update,delete,truncate,references,trigger')`,
	},
	{
		name: "authenticated cannot truncate public tables",
		why:  "TRUNCATE ignores row-level security",
		query: `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname = 'public' and c.relkind in ('r', 'p') and has_table_privilege('authenticated', c.oid, 'truncate')`,
	},
	{
		name: "tables carrying account data have account_id uuid not null",
		why:  "policies and realtime filters rely on account_id without joins",
		query: `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname = 'public' and c.relkind in ('r', 'p')
			  and c.relname not in ('accounts', 'document_stores')
			  and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'account_id'
			                  and a.atttypid = 'uuid'::regtype and a.attnotnull and not a.attisdropped)`,
	},
	{
		name: "every public table and column has a comment",
		why:  "names are public API; Studio shows the comments",
		query: `select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname = 'public' and c.relkind in ('r', 'p') and obj_description(c.oid, 'pg_class') is null
			union all
			select c.oid::regclass::text || '.' || a.attname from pg_class c
			join pg_namespace n on n.oid = c.relnamespace
			join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
			where n.nspname = 'public' and c.relkind in ('r', 'p', 'c') and col_description(c.oid, a.attnum) is null`,
	},
	{
		name: "every tenant function and type has a comment",
		why:  "names are public API; Studio shows the comments",
		query: `select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where n.nspname in ('public', 'sfp_private') and obj_description(p.oid, 'pg_proc') is null
			union all
			select t.oid::regtype::text from pg_type t join pg_namespace n on n.oid = t.typnamespace
			where n.nspname = 'public' and (t.typtype = 'e' or (t.typtype = 'c' and
			      (select relkind from pg_class where oid = t.typrelid) = 'c'))
			  and obj_description(t.oid, 'pg_type') is null`,
	},
	{
		name: "published tables with row-level security have REPLICA IDENTITY FULL",
		why:  "Realtime sends a DELETE only to subscribers whose policies admit the deleted row, judged on its old values; without them nobody under RLS hears of deletes",
		query: `select c.oid::regclass::text from pg_class c
			join pg_publication_rel pr on pr.prrelid = c.oid
			join pg_publication p on p.oid = pr.prpubid and p.pubname = 'supabase_realtime'
			where c.relrowsecurity and c.relreplident <> 'f'
			  -- realtime.messages is streamed for its inserts (Broadcast from
			  -- Database), never as postgres_changes.
			  and c.oid <> 'realtime.messages'::regclass`,
	},
	{
		name: "every policy has a comment",
		why:  "the policies are the authorisation model; say what each allows",
		query: `select pol.polname || ' on ' || pol.polrelid::regclass::text from pg_policy pol
			where obj_description(pol.oid, 'pg_policy') is null`,
	},
}

func catalogViolations(ctx context.Context, t *testing.T, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	return pgtest.Strings(t, pool, query)
}

func TestCatalogRules(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	pool := db.Admin(t)
	for _, r := range catalogRules {
		t.Run(r.name, func(t *testing.T) {
			if bad := catalogViolations(ctx, t, pool, r.query); len(bad) > 0 {
				t.Errorf("%s (%s); violated by:\n  %s", r.name, r.why, strings.Join(bad, "\n  "))
			}
		})
	}
}

// TestCatalogRulesDetectViolations shows each rule fails on an object that
// breaks it, so TestCatalogRules cannot pass vacuously.
func TestCatalogRulesDetectViolations(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	db.Exec(t, `
		create table public.careless (id int primary key);
		create function public.careless_definer() returns int language sql security definer as 'select 1';
		create function sfp_private.careless_path() returns int language sql security definer set search_path = public as 'select 1';
		create type public.careless_kind as enum ('a');
		create policy careless_select on public.careless for select using (true);
		create table public.careless_watched (id int primary key);
		alter table public.careless_watched enable row level security;
		alter publication supabase_realtime add table public.careless_watched;`)
	want := map[string]string{
		"public tables have row-level security":                               "careless",
		"SECURITY DEFINER functions fix search_path":                          "careless_definer()",
		"tenant SECURITY DEFINER functions use an empty search_path":          "sfp_private.careless_path()",
		"no tenant function is executable by PUBLIC or anon":                  "careless_definer()",
		"anon has no privilege on any public table":                           "careless",
		"authenticated cannot truncate public tables":                         "careless",
		"tables carrying account data have account_id uuid not null":          "careless",
		"every public table and column has a comment":                         "careless.id",
		"every tenant function and type has a comment":                        "careless_kind",
		"every policy has a comment":                                          "careless_select on careless",
		"published tables with row-level security have REPLICA IDENTITY FULL": "careless_watched",
	}
	for _, r := range catalogRules {
		w, ok := want[r.name]
		if !ok {
			t.Errorf("rule %q has no violation case here", r.name)
			continue
		}
		bad := catalogViolations(ctx, t, db.Admin(t), r.query)
		found := false
		for _, b := range bad {
			if b == w {
				found = true
			}
		}
		if !found {
			t.Errorf("rule %q did not report %q (reported %v)", r.name, w, bad)
		}
	}
}
