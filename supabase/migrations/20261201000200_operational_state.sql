-- Operational state: builds, release definitions, deployments (with a status
-- machine), task executions and their append-only event log.
--
-- Status machine shared by deployments and task_executions:
--   queued -> running -> succeeded | failed | cancelled,   queued -> cancelled.
-- Rows start as queued or running; succeeded, failed and cancelled are final.

create or replace function sfp_private.enforce_status_transition() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status is null or new.status not in ('queued', 'running', 'succeeded', 'failed', 'cancelled') then
    return new; -- the status check constraint reports it
  end if;
  if tg_op = 'INSERT' then
    if new.status not in ('queued', 'running') then
      raise exception 'a new % row must start as queued or running, not %', tg_table_name, new.status
        using errcode = '23514', constraint = tg_table_name || '_status_transition';
    end if;
  elsif new.status is distinct from old.status then
    if not ((old.status = 'queued' and new.status in ('running', 'cancelled'))
         or (old.status = 'running' and new.status in ('succeeded', 'failed', 'cancelled'))) then
      raise exception '% status cannot change from % to %', tg_table_name, old.status, new.status
        using errcode = '23514', constraint = tg_table_name || '_status_transition',
              detail = 'allowed: queued -> running | cancelled; running -> succeeded | failed | cancelled',
              hint = case when old.status in ('succeeded', 'failed', 'cancelled')
                          then 'the row is final; create a new one'
                          else 'move through the allowed transitions' end;
    end if;
  end if;
  if new.status = 'running' and new.started_at is null then
    new.started_at := pg_catalog.now();
  end if;
  if new.status in ('succeeded', 'failed', 'cancelled') and new.finished_at is null then
    new.finished_at := pg_catalog.now();
    if new.started_at is null then
      new.started_at := new.finished_at;
    end if;
  end if;
  if new.status = 'succeeded' then
    new.progress := 100;
  end if;
  return new;
end
$$;
revoke all on function sfp_private.enforce_status_transition() from public, anon, authenticated, service_role;
comment on function sfp_private.enforce_status_transition() is
  'Trigger: enforces queued -> running -> succeeded | failed | cancelled (and queued -> cancelled), raising SQLSTATE 23514 (constraint <table>_status_transition) otherwise; stamps started_at and finished_at; succeeded sets progress to 100.';

-- ---------------------------------------------------------------------------
-- builds
-- ---------------------------------------------------------------------------

create table if not exists public.builds (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid not null,
  build_number text not null,
  status text not null default 'queued',
  branch text,
  commit_sha text,
  version text,
  url text,
  metadata jsonb not null default '{}'::jsonb,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint builds_project_fkey foreign key (project_id, account_id)
    references public.projects (id, account_id) on delete cascade,
  constraint builds_project_number_key unique (project_id, build_number),
  constraint builds_id_project_account_key unique (id, project_id, account_id),
  constraint builds_status_check check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  constraint builds_build_number_length check (pg_catalog.length(build_number) between 1 and 200),
  constraint builds_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object')
);
create index if not exists builds_account_created_idx on public.builds (account_id, created_at desc);
create index if not exists builds_project_created_idx on public.builds (project_id, created_at desc);
create index if not exists builds_metadata_idx on public.builds using gin (metadata jsonb_path_ops);
comment on table public.builds is
  'sfp: a build of a project (a CI run producing artifacts). Viewers read; members and owners write. Builds may be recorded in any status (e.g. imported after the fact).';
comment on column public.builds.id is 'Build id.';
comment on column public.builds.account_id is 'Account the build belongs to (the project''s account).';
comment on column public.builds.project_id is 'Project built.';
comment on column public.builds.build_number is 'Build number or name from CI, unique within the project.';
comment on column public.builds.status is 'queued, running, succeeded, failed or cancelled.';
comment on column public.builds.branch is 'Git branch built.';
comment on column public.builds.commit_sha is 'Git commit built.';
comment on column public.builds.version is 'Version of the artifacts produced.';
comment on column public.builds.url is 'Link to the CI run.';
comment on column public.builds.metadata is 'Free-form JSON object (GIN-indexed). The full artifact manifest lives in documents collection build_manifests.';
comment on column public.builds.started_at is 'When the build started.';
comment on column public.builds.finished_at is 'When the build finished.';
comment on column public.builds.created_at is 'When the row was created.';
comment on column public.builds.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.builds.created_by is 'User who created the row.';

-- ---------------------------------------------------------------------------
-- releases (release definitions)
-- ---------------------------------------------------------------------------

create table if not exists public.releases (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid not null,
  name text not null,
  description text,
  definition jsonb not null default '{}'::jsonb,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint releases_project_fkey foreign key (project_id, account_id)
    references public.projects (id, account_id) on delete cascade,
  constraint releases_project_name_key unique (project_id, name),
  constraint releases_id_project_account_key unique (id, project_id, account_id),
  constraint releases_name_length check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 200),
  constraint releases_definition_object check (pg_catalog.jsonb_typeof(definition) = 'object')
);
create index if not exists releases_account_idx on public.releases (account_id, project_id, name);
comment on table public.releases is
  'sfp: a release definition: what to deploy and how (the sfp release definition as JSON). Viewers read; members and owners write.';
comment on column public.releases.id is 'Release definition id.';
comment on column public.releases.account_id is 'Account the definition belongs to (the project''s account).';
comment on column public.releases.project_id is 'Project the definition belongs to.';
comment on column public.releases.name is 'Name, unique within the project.';
comment on column public.releases.description is 'Free-form description.';
comment on column public.releases.definition is 'The release definition (JSON object).';
comment on column public.releases.active is 'Whether the definition is in use.';
comment on column public.releases.created_at is 'When the row was created.';
comment on column public.releases.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.releases.created_by is 'User who created the row.';

-- ---------------------------------------------------------------------------
-- deployments
-- ---------------------------------------------------------------------------

create table if not exists public.deployments (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid not null,
  environment_id uuid not null,
  release_id uuid,
  build_id uuid,
  status text not null default 'queued',
  progress smallint not null default 0,
  message text,
  details jsonb not null default '{}'::jsonb,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint deployments_environment_fkey foreign key (environment_id, project_id, account_id)
    references public.environments (id, project_id, account_id) on delete cascade,
  constraint deployments_release_fkey foreign key (release_id, project_id, account_id)
    references public.releases (id, project_id, account_id) on delete set null (release_id),
  constraint deployments_build_fkey foreign key (build_id, project_id, account_id)
    references public.builds (id, project_id, account_id) on delete set null (build_id),
  constraint deployments_status_check check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  constraint deployments_progress_range check (progress between 0 and 100),
  constraint deployments_details_object check (pg_catalog.jsonb_typeof(details) = 'object')
);
create index if not exists deployments_account_created_idx on public.deployments (account_id, created_at desc);
create index if not exists deployments_environment_created_idx on public.deployments (environment_id, created_at desc);
create index if not exists deployments_project_created_idx on public.deployments (project_id, created_at desc);
create index if not exists deployments_open_idx on public.deployments (account_id, status, created_at)
  where status in ('queued', 'running');
create index if not exists deployments_details_idx on public.deployments using gin (details jsonb_path_ops);
comment on table public.deployments is
  'sfp: a deployment of a release or build to an environment. Status machine queued -> running -> succeeded | failed | cancelled (queued -> cancelled too), enforced by a trigger (SQLSTATE 23514). Viewers read; members and owners write. In publication supabase_realtime, REPLICA IDENTITY FULL.';
comment on column public.deployments.id is 'Deployment id.';
comment on column public.deployments.account_id is 'Account the deployment belongs to.';
comment on column public.deployments.project_id is 'Project deployed.';
comment on column public.deployments.environment_id is 'Target environment (of the same project).';
comment on column public.deployments.release_id is 'Release definition deployed, if any (same project); set to null when the definition is deleted.';
comment on column public.deployments.build_id is 'Build deployed, if any (same project); set to null when the build is deleted.';
comment on column public.deployments.status is 'queued, running, succeeded, failed or cancelled; see the table comment for allowed transitions.';
comment on column public.deployments.progress is 'Progress in percent, 0-100; set to 100 on success.';
comment on column public.deployments.message is 'Latest human-readable progress message.';
comment on column public.deployments.details is 'Free-form JSON object (GIN-indexed), e.g. per-package results.';
comment on column public.deployments.started_at is 'When the deployment started running (set by the trigger).';
comment on column public.deployments.finished_at is 'When the deployment reached a final status (set by the trigger).';
comment on column public.deployments.created_at is 'When the row was created.';
comment on column public.deployments.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.deployments.created_by is 'User who created the row.';

-- ---------------------------------------------------------------------------
-- task_executions and task_events
-- ---------------------------------------------------------------------------

create table if not exists public.task_executions (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid,
  resource_type text not null,
  resource_id uuid not null,
  kind text not null,
  status text not null default 'queued',
  progress smallint not null default 0,
  message text,
  input jsonb not null default '{}'::jsonb,
  output jsonb,
  error jsonb,
  worker text,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint task_executions_project_fkey foreign key (project_id, account_id)
    references public.projects (id, account_id) on delete cascade,
  constraint task_executions_id_account_key unique (id, account_id),
  constraint task_executions_status_check check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  constraint task_executions_progress_range check (progress between 0 and 100),
  constraint task_executions_resource_type_format check (resource_type ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint task_executions_kind_format check (kind ~ '^[a-z][a-z0-9_.:-]{0,99}$')
);
create index if not exists task_executions_resource_idx on public.task_executions (resource_type, resource_id, created_at desc);
create index if not exists task_executions_account_created_idx on public.task_executions (account_id, created_at desc);
create index if not exists task_executions_open_idx on public.task_executions (account_id, status, created_at)
  where status in ('queued', 'running');
create index if not exists task_executions_project_created_idx on public.task_executions (project_id, created_at desc)
  where project_id is not null;
create index if not exists task_executions_input_idx on public.task_executions using gin (input jsonb_path_ops);
comment on table public.task_executions is
  'sfp: a unit of background work on a resource (resource_type + resource_id), e.g. a deployment step run by a worker. Status machine as for deployments (SQLSTATE 23514). Every insert, and every update that changes status, progress or message, appends a row to task_events. Viewers read; members and owners write. In publication supabase_realtime, REPLICA IDENTITY FULL: watch one resource with filter resource_id=eq.<uuid>.';
comment on column public.task_executions.id is 'Task id.';
comment on column public.task_executions.account_id is 'Account the task belongs to.';
comment on column public.task_executions.project_id is 'Project the task belongs to, if any.';
comment on column public.task_executions.resource_type is 'Kind of resource the task works on (lowercase identifier), e.g. deployment, build, environment.';
comment on column public.task_executions.resource_id is 'Id of the resource the task works on.';
comment on column public.task_executions.kind is 'What the task does (lowercase, may contain . _ : -), e.g. deploy, validate, org.create.';
comment on column public.task_executions.status is 'queued, running, succeeded, failed or cancelled.';
comment on column public.task_executions.progress is 'Progress in percent, 0-100; set to 100 on success.';
comment on column public.task_executions.message is 'Latest human-readable progress message.';
comment on column public.task_executions.input is 'Input parameters (JSON, GIN-indexed).';
comment on column public.task_executions.output is 'Result (JSON), once succeeded.';
comment on column public.task_executions.error is 'Error (JSON), once failed.';
comment on column public.task_executions.worker is 'Identifier of the worker running the task.';
comment on column public.task_executions.started_at is 'When the task started running (set by the trigger).';
comment on column public.task_executions.finished_at is 'When the task reached a final status (set by the trigger).';
comment on column public.task_executions.created_at is 'When the row was created.';
comment on column public.task_executions.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.task_executions.created_by is 'User who created the row.';

create table if not exists public.task_events (
  id bigint generated always as identity primary key,
  account_id uuid not null,
  task_id uuid not null,
  event text not null,
  status text,
  progress smallint,
  message text,
  data jsonb,
  created_at timestamptz not null default now(),
  created_by uuid default auth.uid(),
  constraint task_events_task_fkey foreign key (task_id, account_id)
    references public.task_executions (id, account_id) on delete cascade,
  constraint task_events_event_format check (event ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
  constraint task_events_progress_range check (progress is null or progress between 0 and 100)
);
create index if not exists task_events_task_idx on public.task_events (task_id, id);
create index if not exists task_events_account_created_idx on public.task_events (account_id, created_at desc);
comment on table public.task_events is
  'sfp: append-only log of a task''s life. The database appends "created" on insert and "status", "progress" or "message" when an update changes them (with the new values); members may append their own events (e.g. "log"). No API role may update or delete events; they go when their task is deleted. In publication supabase_realtime.';
comment on column public.task_events.id is 'Event number, increasing in insertion order.';
comment on column public.task_events.account_id is 'Account of the task.';
comment on column public.task_events.task_id is 'The task (task_executions.id).';
comment on column public.task_events.event is 'What happened: created, status, progress, message, or an event name a client chose (lowercase).';
comment on column public.task_events.status is 'Task status at the event.';
comment on column public.task_events.progress is 'Task progress at the event.';
comment on column public.task_events.message is 'Task message at the event, or the event''s own message.';
comment on column public.task_events.data is 'Additional JSON data.';
comment on column public.task_events.created_at is 'When the event was appended.';
comment on column public.task_events.created_by is 'User whose request appended the event (kept when the user is deleted).';

-- task_event_log appends an event for every insert and every change of
-- status, progress or message. SECURITY DEFINER so the event is written
-- whatever the caller's own rights on task_events.
create or replace function sfp_private.task_event_log() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  ev text;
begin
  if tg_op = 'INSERT' then
    ev := 'created';
  elsif new.status is distinct from old.status then
    ev := 'status';
  elsif new.progress is distinct from old.progress then
    ev := 'progress';
  elsif new.message is distinct from old.message then
    ev := 'message';
  else
    return null;
  end if;
  insert into public.task_events (account_id, task_id, event, status, progress, message, created_by)
  values (new.account_id, new.id, ev, new.status, new.progress, new.message, coalesce(auth.uid(), new.created_by));
  return null;
end
$$;
revoke all on function sfp_private.task_event_log() from public, anon, authenticated, service_role;
comment on function sfp_private.task_event_log() is
  'Trigger (after insert or update on task_executions): appends a task_events row "created", "status", "progress" or "message" carrying the new status, progress and message.';

create or replace function sfp_private.task_events_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'task_events is append-only' using errcode = '42501',
    hint = 'append a new event instead';
end
$$;
revoke all on function sfp_private.task_events_append_only() from public, anon, authenticated, service_role;
comment on function sfp_private.task_events_append_only() is
  'Trigger: refuses every UPDATE of task_events (SQLSTATE 42501), whoever the caller.';

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------

create or replace trigger builds_stamp_insert before insert on public.builds
  for each row execute function sfp_private.stamp_insert();
create or replace trigger builds_stamp_update before update on public.builds
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger releases_stamp_insert before insert on public.releases
  for each row execute function sfp_private.stamp_insert();
create or replace trigger releases_stamp_update before update on public.releases
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger deployments_stamp_insert before insert on public.deployments
  for each row execute function sfp_private.stamp_insert();
create or replace trigger deployments_stamp_update before update on public.deployments
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger deployments_status_transition before insert or update on public.deployments
  for each row execute function sfp_private.enforce_status_transition();
create or replace trigger task_executions_stamp_insert before insert on public.task_executions
  for each row execute function sfp_private.stamp_insert();
create or replace trigger task_executions_stamp_update before update on public.task_executions
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger task_executions_status_transition before insert or update on public.task_executions
  for each row execute function sfp_private.enforce_status_transition();
create or replace trigger task_executions_event_log after insert or update on public.task_executions
  for each row execute function sfp_private.task_event_log();
create or replace trigger task_events_stamp_insert before insert on public.task_events
  for each row execute function sfp_private.stamp_insert();
create or replace trigger task_events_append_only before update on public.task_events
  for each row execute function sfp_private.task_events_append_only();

-- ---------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------

alter table public.builds enable row level security;
alter table public.releases enable row level security;
alter table public.deployments enable row level security;
alter table public.task_executions enable row level security;
alter table public.task_events enable row level security;

revoke all on public.builds, public.releases, public.deployments, public.task_executions, public.task_events from anon;
revoke truncate, references, trigger on public.builds, public.releases, public.deployments, public.task_executions, public.task_events
  from authenticated;
revoke update, delete, truncate on public.task_events from authenticated, service_role;

do $$
declare
  t text;
begin
  -- The same four policies on each operational table: viewers read, members
  -- and owners write.
  foreach t in array array['builds', 'releases', 'deployments', 'task_executions'] loop
    execute format('drop policy if exists %I on public.%I', t || '_select', t);
    execute format('create policy %I on public.%I for select to authenticated using (account_id = any ((select public.account_ids_with_role(%L))::uuid[]))',
                   t || '_select', t, 'viewer');
    execute format('drop policy if exists %I on public.%I', t || '_insert', t);
    execute format('create policy %I on public.%I for insert to authenticated with check (account_id = any ((select public.account_ids_with_role(%L))::uuid[]))',
                   t || '_insert', t, 'member');
    execute format('drop policy if exists %I on public.%I', t || '_update', t);
    execute format('create policy %I on public.%I for update to authenticated using (account_id = any ((select public.account_ids_with_role(%L))::uuid[])) with check (account_id = any ((select public.account_ids_with_role(%L))::uuid[]))',
                   t || '_update', t, 'member', 'member');
    execute format('drop policy if exists %I on public.%I', t || '_delete', t);
    execute format('create policy %I on public.%I for delete to authenticated using (account_id = any ((select public.account_ids_with_role(%L))::uuid[]))',
                   t || '_delete', t, 'member');
    execute format('comment on policy %I on public.%I is %L', t || '_select', t, 'Members of any role read the account''s rows.');
    execute format('comment on policy %I on public.%I is %L', t || '_insert', t, 'Members and owners insert.');
    execute format('comment on policy %I on public.%I is %L', t || '_update', t, 'Members and owners update.');
    execute format('comment on policy %I on public.%I is %L', t || '_delete', t, 'Members and owners delete.');
  end loop;
end
$$;

drop policy if exists task_events_select on public.task_events;
create policy task_events_select on public.task_events for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists task_events_insert on public.task_events;
create policy task_events_insert on public.task_events for insert to authenticated
  with check (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
comment on policy task_events_select on public.task_events is 'Members of any role read the account''s task events.';
comment on policy task_events_insert on public.task_events is 'Members and owners append events; nobody updates or deletes them.';

notify pgrst, 'reload schema';
