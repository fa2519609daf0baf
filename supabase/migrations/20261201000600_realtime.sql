-- Realtime: the tables clients watch are in publication supabase_realtime
-- (created by the supabase/postgres image, or supabase/platform on the
-- embedded runtime). Realtime delivers a change only to subscribers whose
-- token could SELECT the row, so the policies above decide who sees what.
--
-- Tables whose UPDATE events clients read old values from (a status that
-- changed, a lease that was promoted) get REPLICA IDENTITY FULL, so
-- old_record carries the whole previous row. task_events is append-only and
-- keeps the default (primary key) identity.

alter table public.deployments replica identity full;
alter table public.task_executions replica identity full;
alter table public.environment_allocations replica identity full;
alter table public.builds replica identity full;

do $$
declare
  t text;
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
  foreach t in array array['deployments', 'task_executions', 'task_events', 'environment_allocations', 'builds'] loop
    if not exists (select 1 from pg_catalog.pg_publication_tables
                   where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t) then
      execute pg_catalog.format('alter publication supabase_realtime add table public.%I', t);
    end if;
  end loop;
end
$$;

notify pgrst, 'reload schema';
