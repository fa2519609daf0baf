-- Integration credentials.
--
-- integrations are plaintext and readable by the account's members.
-- Their secrets live in integration_credentials as pgcrypto ciphertext
-- (pgp_sym_encrypt, AES-256) under one key kept as the Vault secret
-- sfp_credentials_key. No API role may read or write that table, not even
-- service_role: only the SECURITY DEFINER functions below do, and each read,
-- write or delete appends a row to credential_access_log.
--
-- init_credentials_key() creates the key (service_role only, at server
-- initialisation); the key never leaves the database.

create table if not exists public.integrations (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  name text not null,
  provider text not null,
  auth_type text not null,
  scope text not null default 'account',
  project_ids uuid[] not null default '{}',
  status text not null default 'active',
  metadata jsonb not null default '{}'::jsonb,
  credentials_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint integrations_account_name_key unique (account_id, name),
  constraint integrations_id_account_key unique (id, account_id),
  constraint integrations_name_length check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 200),
  constraint integrations_provider_format check (provider ~ '^[a-z][a-z0-9_-]{0,62}$'),
  constraint integrations_auth_type_format check (auth_type ~ '^[a-z][a-z0-9_-]{0,62}$'),
  constraint integrations_scope_check check (
    (scope = 'account' and pg_catalog.cardinality(project_ids) = 0)
    or (scope = 'projects' and pg_catalog.cardinality(project_ids) > 0)),
  constraint integrations_status_check check (status in ('active', 'disabled', 'error')),
  constraint integrations_metadata_object check (pg_catalog.jsonb_typeof(metadata) = 'object')
);
create index if not exists integrations_account_idx on public.integrations (account_id, provider, name);
create index if not exists integrations_project_ids_idx on public.integrations using gin (project_ids);
comment on table public.integrations is
  'sfp: a connection to an external service (GitHub, Azure DevOps, Salesforce, ...) for the whole account or listed projects. Plaintext and readable by every member; only owners create, change or delete integrations. Secrets are set with set_integration_credentials and stored encrypted in integration_credentials.';
comment on column public.integrations.id is 'Integration id.';
comment on column public.integrations.account_id is 'Account the integration belongs to.';
comment on column public.integrations.name is 'Name, unique within the account.';
comment on column public.integrations.provider is 'Service connected (lowercase), e.g. github, azure_devops, salesforce.';
comment on column public.integrations.auth_type is 'How it authenticates (lowercase), e.g. token, oauth, github_app, service_principal, jwt.';
comment on column public.integrations.scope is 'account (every project of the account) or projects (only project_ids).';
comment on column public.integrations.project_ids is 'Projects of the same account the integration is limited to when scope = projects; empty when scope = account (GIN-indexed: filter with cs).';
comment on column public.integrations.status is 'active, disabled or error.';
comment on column public.integrations.metadata is 'Non-secret settings (JSON object), e.g. the GitHub organisation or the Azure DevOps URL.';
comment on column public.integrations.credentials_updated_at is 'When credentials were last set (null: none set or deleted). Set by the credential functions.';
comment on column public.integrations.created_at is 'When the row was created.';
comment on column public.integrations.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.integrations.created_by is 'User who created the row.';

-- check_integration_projects makes sure listed projects belong to the
-- integration's account. SECURITY DEFINER: the check must see the projects
-- whatever the caller may read.
create or replace function sfp_private.check_integration_projects() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  bad uuid;
begin
  select p into bad
  from pg_catalog.unnest(new.project_ids) p
  where not exists (select 1 from public.projects pr where pr.id = p and pr.account_id = new.account_id)
  limit 1;
  if bad is not null then
    raise exception 'project % is not a project of account %', bad, new.account_id
      using errcode = '23503', constraint = 'integrations_project_ids_fkey';
  end if;
  return new;
end
$$;
revoke all on function sfp_private.check_integration_projects() from public, anon, authenticated, service_role;
comment on function sfp_private.check_integration_projects() is
  'Trigger: raises 23503 (constraint integrations_project_ids_fkey) when integrations.project_ids names a project of another account or none.';

create or replace trigger integrations_stamp_insert before insert on public.integrations
  for each row execute function sfp_private.stamp_insert();
create or replace trigger integrations_stamp_update before update on public.integrations
  for each row execute function sfp_private.stamp_update('account');
create or replace trigger integrations_check_projects before insert or update of project_ids, account_id on public.integrations
  for each row execute function sfp_private.check_integration_projects();

alter table public.integrations enable row level security;
revoke all on public.integrations from anon;
revoke truncate, references, trigger on public.integrations from authenticated;

drop policy if exists integrations_select on public.integrations;
create policy integrations_select on public.integrations for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists integrations_insert on public.integrations;
create policy integrations_insert on public.integrations for insert to authenticated
  with check (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
drop policy if exists integrations_update on public.integrations;
create policy integrations_update on public.integrations for update to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]))
  with check (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
drop policy if exists integrations_delete on public.integrations;
create policy integrations_delete on public.integrations for delete to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
comment on policy integrations_select on public.integrations is 'Members of any role read the account''s integrations (never their credentials).';
comment on policy integrations_insert on public.integrations is 'Only owners create integrations.';
comment on policy integrations_update on public.integrations is 'Only owners change integrations.';
comment on policy integrations_delete on public.integrations is 'Only owners delete integrations.';

-- ---------------------------------------------------------------------------
-- integration_credentials: ciphertext only, no API access
-- ---------------------------------------------------------------------------

create table if not exists public.integration_credentials (
  integration_id uuid primary key,
  account_id uuid not null,
  ciphertext bytea not null,
  key_name text not null default 'sfp_credentials_key',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  updated_by uuid,
  constraint integration_credentials_integration_fkey foreign key (integration_id, account_id)
    references public.integrations (id, account_id) on delete cascade
);
comment on table public.integration_credentials is
  'sfp: encrypted secrets of an integration (one row each). Holds only pgcrypto ciphertext under the Vault secret sfp_credentials_key. No API role (anon, authenticated, service_role) has any privilege on it; use set_integration_credentials, get_integration_credentials and delete_integration_credentials, which log every access in credential_access_log.';
comment on column public.integration_credentials.integration_id is 'The integration.';
comment on column public.integration_credentials.account_id is 'Account of the integration.';
comment on column public.integration_credentials.ciphertext is 'pgp_sym_encrypt (AES-256) of the credentials JSON under the Vault key named key_name.';
comment on column public.integration_credentials.key_name is 'Name of the Vault secret holding the key.';
comment on column public.integration_credentials.created_at is 'When credentials were first set.';
comment on column public.integration_credentials.updated_at is 'When credentials were last set.';
comment on column public.integration_credentials.updated_by is 'User who last set them (null for service_role).';

alter table public.integration_credentials enable row level security;
revoke all on public.integration_credentials from public, anon, authenticated, service_role;
-- No policies: even a grant made by mistake would show no row to API users.

-- ---------------------------------------------------------------------------
-- credential_access_log: append-only audit
-- ---------------------------------------------------------------------------

create table if not exists public.credential_access_log (
  id bigint generated always as identity primary key,
  account_id uuid not null references public.accounts (id) on delete cascade,
  integration_id uuid not null,
  actor uuid,
  actor_role text not null,
  action text not null,
  created_at timestamptz not null default clock_timestamp(),
  constraint credential_access_log_action_check check (action in ('read', 'write', 'delete'))
);
create index if not exists credential_access_log_account_created_idx on public.credential_access_log (account_id, created_at desc);
create index if not exists credential_access_log_integration_created_idx on public.credential_access_log (integration_id, created_at desc);
comment on table public.credential_access_log is
  'sfp: audit log of every read, write and delete of integration credentials (who, what, when), appended by the credential functions. Owners of the account and service_role read it; no API role may change it. Entries outlive the integration (no foreign key on integration_id). A refused attempt is not logged: it raises and its transaction rolls back.';
comment on column public.credential_access_log.id is 'Entry number, increasing in insertion order.';
comment on column public.credential_access_log.account_id is 'Account of the integration.';
comment on column public.credential_access_log.integration_id is 'The integration whose credentials were accessed.';
comment on column public.credential_access_log.actor is 'User who accessed them (auth.uid()); null for service_role or a database role without a user token.';
comment on column public.credential_access_log.actor_role is 'Database role of the caller: authenticated, service_role, postgres, ...';
comment on column public.credential_access_log.action is 'read, write or delete.';
comment on column public.credential_access_log.created_at is 'When the access happened.';

alter table public.credential_access_log enable row level security;
revoke all on public.credential_access_log from anon;
revoke insert, update, delete, truncate, references, trigger on public.credential_access_log from authenticated, service_role;

drop policy if exists credential_access_log_select on public.credential_access_log;
create policy credential_access_log_select on public.credential_access_log for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
comment on policy credential_access_log_select on public.credential_access_log is 'Only owners read the account''s credential audit log.';

-- ---------------------------------------------------------------------------
-- Key and functions
-- ---------------------------------------------------------------------------

create or replace function public.init_credentials_key()
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not sfp_private.caller_is_privileged() then
    raise exception 'init_credentials_key is for service_role only' using errcode = '42501';
  end if;
  if exists (select 1 from vault.secrets s where s.name = 'sfp_credentials_key') then
    return false;
  end if;
  begin
    perform vault.create_secret(
      pg_catalog.encode(extensions.gen_random_bytes(32), 'hex'),
      'sfp_credentials_key',
      'sfp: key that encrypts integration credentials (public.integration_credentials); created by init_credentials_key()');
  exception when unique_violation then
    return false; -- created concurrently by another caller
  end;
  return true;
end
$$;
revoke all on function public.init_credentials_key() from public, anon, authenticated, service_role;
grant execute on function public.init_credentials_key() to service_role;
comment on function public.init_credentials_key() is
  'service_role only: creates the Vault secret sfp_credentials_key (32 random bytes) that encrypts integration credentials, if absent. Returns true when it created the key, false when it already existed. Never returns the key. Errors: 42501 for any other caller.';

-- credentials_key reads the key from Vault.
create or replace function sfp_private.credentials_key() returns text
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  k text;
begin
  select s.decrypted_secret into k from vault.decrypted_secrets s where s.name = 'sfp_credentials_key';
  if k is null then
    raise exception 'the integration credentials key is not initialised'
      using errcode = '55000',
            hint = 'call init_credentials_key() as service_role (sfp server start does this) before storing credentials';
  end if;
  return k;
end
$$;
revoke all on function sfp_private.credentials_key() from public, anon, authenticated, service_role;
comment on function sfp_private.credentials_key() is
  'The credentials key from Vault; raises 55000 with a hint to call init_credentials_key() when it does not exist. Executable by no API role.';

-- credentials_access checks the caller may manage the integration's
-- credentials and returns its account. Non-owners get the same error whether
-- or not the integration exists.
create or replace function sfp_private.credentials_access(integration_id uuid, action text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
begin
  select i.account_id into acc from public.integrations i where i.id = credentials_access.integration_id
  for no key update;
  if sfp_private.caller_is_privileged() then
    if acc is null then
      raise exception 'integration % not found', coalesce(integration_id::text, 'null') using errcode = 'PT404';
    end if;
    return acc;
  end if;
  if acc is null or not public.has_account_role(acc, 'owner') then
    raise exception '% integration credentials requires the owner role in the integration''s account', action
      using errcode = '42501',
            hint = 'only owners of the account and service_role may read or write credentials';
  end if;
  return acc;
end
$$;
revoke all on function sfp_private.credentials_access(uuid, text) from public, anon, authenticated, service_role;
comment on function sfp_private.credentials_access(uuid, text) is
  'Locks the integration and checks the caller is an owner of its account or privileged (42501 otherwise, PT404 for privileged callers when it does not exist); returns the account id.';

create or replace function sfp_private.log_credential_access(account_id uuid, integration_id uuid, action text) returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.credential_access_log (account_id, integration_id, actor, actor_role, action)
  values (log_credential_access.account_id, log_credential_access.integration_id, auth.uid(),
          sfp_private.caller_role(), log_credential_access.action)
$$;
revoke all on function sfp_private.log_credential_access(uuid, uuid, text) from public, anon, authenticated, service_role;
comment on function sfp_private.log_credential_access(uuid, uuid, text) is 'Appends an entry to credential_access_log.';

create or replace function public.set_integration_credentials(integration_id uuid, credentials jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
  sealed bytea;
begin
  acc := sfp_private.credentials_access(integration_id, 'writing');
  if credentials is null or pg_catalog.jsonb_typeof(credentials) <> 'object' then
    raise exception 'credentials must be a JSON object' using errcode = '22023';
  end if;
  sealed := extensions.pgp_sym_encrypt(credentials::text, sfp_private.credentials_key(),
                                       'cipher-algo=aes256, compress-algo=0');
  insert into public.integration_credentials as c (integration_id, account_id, ciphertext, updated_by)
  values (set_integration_credentials.integration_id, acc, sealed, auth.uid())
  on conflict on constraint integration_credentials_pkey do update
    set ciphertext = excluded.ciphertext, key_name = excluded.key_name,
        updated_at = pg_catalog.now(), updated_by = excluded.updated_by;
  update public.integrations i set credentials_updated_at = pg_catalog.now()
  where i.id = set_integration_credentials.integration_id;
  perform sfp_private.log_credential_access(acc, integration_id, 'write');
end
$$;
revoke all on function public.set_integration_credentials(uuid, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.set_integration_credentials(uuid, jsonb) to authenticated, service_role;
comment on function public.set_integration_credentials(uuid, jsonb) is
  'Encrypts and stores an integration''s credentials (a JSON object), replacing any previous ones, and logs a write. For owners of the account and service_role. Errors: 42501 anyone else, PT404 unknown integration (service_role), 22023 not a JSON object, 55000 key not initialised (call init_credentials_key).';

create or replace function public.get_integration_credentials(integration_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
  sealed bytea;
begin
  acc := sfp_private.credentials_access(integration_id, 'reading');
  select c.ciphertext into sealed from public.integration_credentials c
  where c.integration_id = get_integration_credentials.integration_id;
  perform sfp_private.log_credential_access(acc, integration_id, 'read');
  if sealed is null then
    return null;
  end if;
  return extensions.pgp_sym_decrypt(sealed, sfp_private.credentials_key())::jsonb;
end
$$;
revoke all on function public.get_integration_credentials(uuid) from public, anon, authenticated, service_role;
grant execute on function public.get_integration_credentials(uuid) to authenticated, service_role;
comment on function public.get_integration_credentials(uuid) is
  'Decrypts and returns an integration''s credentials (JSON object; null when none are set) and logs a read. For service_role (workers) and owners of the account; members, viewers and everyone else get 42501. Errors: PT404 unknown integration (service_role).';

create or replace function public.delete_integration_credentials(integration_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
  removed boolean;
begin
  acc := sfp_private.credentials_access(integration_id, 'deleting');
  delete from public.integration_credentials c where c.integration_id = delete_integration_credentials.integration_id;
  removed := found;
  update public.integrations i set credentials_updated_at = null
  where i.id = delete_integration_credentials.integration_id;
  perform sfp_private.log_credential_access(acc, integration_id, 'delete');
  return removed;
end
$$;
revoke all on function public.delete_integration_credentials(uuid) from public, anon, authenticated, service_role;
grant execute on function public.delete_integration_credentials(uuid) to authenticated, service_role;
comment on function public.delete_integration_credentials(uuid) is
  'Deletes an integration''s credentials and logs a delete; returns whether there were any. For owners of the account and service_role. Errors: 42501 anyone else, PT404 unknown integration (service_role).';

notify pgrst, 'reload schema';
