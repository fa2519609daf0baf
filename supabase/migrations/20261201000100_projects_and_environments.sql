-- Project configuration: projects (a repository on GitHub or Azure DevOps,
-- with an optimistic version) and their environments.
--
-- Children reference their parent through (id, account_id) (and project_id
-- where it applies), so a row can never point at another account's data: the
-- database refuses it even for service_role.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'public' and t.typname = 'project_platform') then
    create type public.project_platform as enum ('github', 'azure_devops');
  end if;
end
$$;
comment on type public.project_platform is 'Where a project''s repository is hosted: github or azure_devops.';

create table if not exists public.projects (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  identifier text not null,
  platform public.project_platform not null default 'github',
  platform_settings jsonb not null default '{}'::jsonb,
  remote_url text,
  settings jsonb not null default '{}'::jsonb,
  description text,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint projects_account_identifier_key unique (account_id, identifier),
  constraint projects_id_account_key unique (id, account_id),
  constraint projects_identifier_format check (
    identifier ~ '^[^/[:space:]]([^/]*[^/[:space:]])?(/[^/[:space:]]([^/]*[^/[:space:]])?)+$'
    and pg_catalog.length(identifier) <= 300),
  constraint projects_remote_url_format check (
    remote_url is null or remote_url ~ '^(https?|ssh|git)://[^[:space:]]+$' or remote_url ~ '^[^@[:space:]]+@[^:[:space:]]+:[^[:space:]]+$'),
  constraint projects_platform_settings_object check (pg_catalog.jsonb_typeof(platform_settings) = 'object'),
  constraint projects_settings_object check (pg_catalog.jsonb_typeof(settings) = 'object'),
  constraint projects_version_positive check (version > 0)
);
create index if not exists projects_account_created_idx on public.projects (account_id, created_at desc);
comment on table public.projects is
  'sfp: a project: one repository (identifier org/repo) on GitHub or Azure DevOps, with its settings. Viewers read, members create and update, owners delete. Updates are optimistic: an UPDATE that sets version to anything but the stored value raises SQLSTATE PT409 (HTTP 409); otherwise version is incremented.';
comment on column public.projects.id is 'Project id.';
comment on column public.projects.account_id is 'Account the project belongs to.';
comment on column public.projects.identifier is 'Repository identifier, unique in the account: org/repo (Azure DevOps: org/project/repo). Segments are separated by "/" and may not be empty.';
comment on column public.projects.platform is 'Hosting platform: github or azure_devops.';
comment on column public.projects.platform_settings is 'Platform-specific settings (JSON object), e.g. {"installation_id": 123} for a GitHub App or {"organization_url": "https://dev.azure.com/org"}.';
comment on column public.projects.remote_url is 'Git remote URL (https://, ssh://, git:// or scp-like git@host:path); optional.';
comment on column public.projects.settings is 'sfp settings of the project (JSON object).';
comment on column public.projects.description is 'Free-form description.';
comment on column public.projects.version is 'Optimistic concurrency version, starting at 1 and incremented by every update. Send the version you read with an update: a different value raises PT409 whose detail names the current version.';
comment on column public.projects.created_at is 'When the row was created.';
comment on column public.projects.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.projects.created_by is 'User who created the row.';

-- project_version implements the optimistic lock.
create or replace function sfp_private.project_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.version is distinct from old.version then
    raise exception 'project % was changed concurrently: version % is stale', old.identifier, new.version
      using errcode = 'PT409',
            detail = pg_catalog.format('current version is %s', old.version),
            hint = 'read the project again and retry the update with its current version';
  end if;
  new.version := old.version + 1;
  return new;
end
$$;
revoke all on function sfp_private.project_version() from public, anon, authenticated, service_role;
comment on function sfp_private.project_version() is
  'Trigger: raises PT409 (detail "current version is N") when an update sets projects.version to a value other than the stored one; otherwise increments it.';

create or replace trigger projects_stamp_insert before insert on public.projects
  for each row execute function sfp_private.stamp_insert();
create or replace trigger projects_stamp_update before update on public.projects
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger projects_version before update on public.projects
  for each row execute function sfp_private.project_version();

alter table public.projects enable row level security;
revoke all on public.projects from anon;
revoke truncate, references, trigger on public.projects from authenticated;

drop policy if exists projects_select on public.projects;
create policy projects_select on public.projects for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists projects_insert on public.projects;
create policy projects_insert on public.projects for insert to authenticated
  with check (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
drop policy if exists projects_update on public.projects;
create policy projects_update on public.projects for update to authenticated
  using (account_id = any ((select public.account_ids_with_role('member'))::uuid[]))
  with check (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
drop policy if exists projects_delete on public.projects;
create policy projects_delete on public.projects for delete to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
comment on policy projects_select on public.projects is 'Members of any role read the account''s projects.';
comment on policy projects_insert on public.projects is 'Members and owners create projects.';
comment on policy projects_update on public.projects is 'Members and owners update projects.';
comment on policy projects_delete on public.projects is 'Only owners delete projects.';

create table if not exists public.environments (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid not null,
  name text not null,
  category text not null default 'development',
  branch text,
  active boolean not null default true,
  metadata jsonb not null default '{}'::jsonb,
  tags text[] not null default '{}',
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint environments_project_fkey foreign key (project_id, account_id)
    references public.projects (id, account_id) on delete cascade,
  constraint environments_project_name_key unique (project_id, name),
  constraint environments_id_project_account_key unique (id, project_id, account_id),
  constraint environments_name_length check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 100),
  constraint environments_category_format check (category ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  constraint environments_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object')
);
create index if not exists environments_account_idx on public.environments (account_id, project_id, name);
create index if not exists environments_metadata_idx on public.environments using gin (metadata jsonb_path_ops);
create index if not exists environments_tags_idx on public.environments using gin (tags);
comment on table public.environments is
  'sfp: an environment of a project (an org, a sandbox, a deployment target). Viewers read; members and owners create, update and delete. Leases on an environment are taken with request_environment.';
comment on column public.environments.id is 'Environment id.';
comment on column public.environments.account_id is 'Account the environment belongs to (the project''s account).';
comment on column public.environments.project_id is 'Project the environment belongs to.';
comment on column public.environments.name is 'Name, unique within the project, 1-100 characters.';
comment on column public.environments.category is 'Category (lowercase letters, digits, "_" or "-"), e.g. development, test, staging, production, sandbox, scratch.';
comment on column public.environments.branch is 'Git branch the environment follows, if any.';
comment on column public.environments.active is 'Whether the environment is in use; inactive environments cannot be requested.';
comment on column public.environments.metadata is 'Free-form JSON object (GIN-indexed: filter with cs/@>).';
comment on column public.environments.tags is 'Tags (GIN-indexed: filter with cs/ov).';
comment on column public.environments.description is 'Free-form description.';
comment on column public.environments.created_at is 'When the row was created.';
comment on column public.environments.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.environments.created_by is 'User who created the row.';

create or replace trigger environments_stamp_insert before insert on public.environments
  for each row execute function sfp_private.stamp_insert();
create or replace trigger environments_stamp_update before update on public.environments
  for each row execute function sfp_private.stamp_update('account');

alter table public.environments enable row level security;
revoke all on public.environments from anon;
revoke truncate, references, trigger on public.environments from authenticated;

drop policy if exists environments_select on public.environments;
create policy environments_select on public.environments for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists environments_insert on public.environments;
create policy environments_insert on public.environments for insert to authenticated
  with check (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
drop policy if exists environments_update on public.environments;
create policy environments_update on public.environments for update to authenticated
  using (account_id = any ((select public.account_ids_with_role('member'))::uuid[]))
  with check (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
drop policy if exists environments_delete on public.environments;
create policy environments_delete on public.environments for delete to authenticated
  using (account_id = any ((select public.account_ids_with_role('member'))::uuid[]));
comment on policy environments_select on public.environments is 'Members of any role read the account''s environments.';
comment on policy environments_insert on public.environments is 'Members and owners create environments.';
comment on policy environments_update on public.environments is 'Members and owners update environments.';
comment on policy environments_delete on public.environments is 'Members and owners delete environments.';

notify pgrst, 'reload schema';
