-- Identity and access: accounts (teams), memberships with a role, the helpers
-- every row-level security policy calls, the RPCs that create accounts and
-- manage members, and the shared trigger functions the later migrations use.
--
-- Capabilities by role (account_role is ordered viewer < member < owner):
--   viewer  reads the account's data (never credentials);
--   member  also writes operational data;
--   owner   also manages members, integrations and credentials, deletes projects.
-- service_role bypasses row-level security; anon has no privilege on any
-- tenant table and can execute none of the tenant functions.

-- sfp_private holds trigger functions and internal helpers. PostgREST does not
-- expose it; the API roles may use the schema but execute only what is
-- granted to them explicitly.
create schema if not exists sfp_private;
revoke all on schema sfp_private from public;
grant usage on schema sfp_private to authenticated, service_role;
comment on schema sfp_private is
  'sfp: trigger functions and internal helpers of the tenant schema; not exposed through the REST API.';

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'public' and t.typname = 'account_role') then
    create type public.account_role as enum ('viewer', 'member', 'owner');
  end if;
end
$$;
comment on type public.account_role is
  'Role of a user in an account, ordered viewer < member < owner: viewer reads, member also writes operational data, owner also manages members, integrations, credentials and deletes projects.';

-- ---------------------------------------------------------------------------
-- Shared trigger functions
-- ---------------------------------------------------------------------------

-- stamp_insert records who created a row. A caller with a user token cannot
-- attribute a row to someone else; service_role (no user) may set created_by
-- explicitly, e.g. to the user a worker acts for.
create or replace function sfp_private.stamp_insert() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.created_by := coalesce(auth.uid(), new.created_by);
  return new;
end
$$;
revoke all on function sfp_private.stamp_insert() from public;
comment on function sfp_private.stamp_insert() is
  'Trigger: sets created_by to the calling user (auth.uid()); without a user token (service_role) the given value is kept.';

-- stamp_update keeps created_at/created_by, maintains updated_at and, for
-- tables that carry account data (trigger argument ''account''), forbids
-- moving a row to another account: policies and realtime filters rely on
-- account_id, and children reference (id, account_id).
create or replace function sfp_private.stamp_update() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- Nested: new.account_id must not be evaluated for tables without it.
  if tg_nargs > 0 and tg_argv[0] = 'account' then
    if new.account_id is distinct from old.account_id then
      raise exception '%: account_id cannot change (row belongs to account %)', tg_table_name, old.account_id
        using errcode = '23514', constraint = tg_table_name || '_account_id_immutable',
              hint = 'create the row in the other account instead';
    end if;
  end if;
  new.created_at := old.created_at;
  -- created_by may become null (ON DELETE SET NULL when the user is
  -- deleted), never someone else.
  if new.created_by is not null then
    new.created_by := old.created_by;
  end if;
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
revoke all on function sfp_private.stamp_update() from public;
comment on function sfp_private.stamp_update() is
  'Trigger: maintains updated_at, keeps created_at and created_by (which may only become null, as when the user is deleted), and (argument ''account'') refuses a change of account_id with SQLSTATE 23514.';

-- caller_is_privileged tells whether the role that called into the database
-- may act for every account: service_role (workers, the sfp server), or a
-- role with BYPASSRLS or superuser (postgres, supabase_admin: migrations,
-- Studio). Inside a SECURITY DEFINER function current_user is the owner, so
-- the calling role is read from the role setting (SET ROLE, as PostgREST
-- does) or, without one, the session user.
create or replace function sfp_private.caller_is_privileged() returns boolean
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return coalesce((
    select r.rolsuper or r.rolbypassrls
    from pg_catalog.pg_roles r
    where r.rolname = coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user)
  ), false);
end
$$;
revoke all on function sfp_private.caller_is_privileged() from public, anon, authenticated, service_role;
grant execute on function sfp_private.caller_is_privileged() to authenticated, service_role;
comment on function sfp_private.caller_is_privileged() is
  'True when the calling role (SET ROLE, else the session user) is service_role or has BYPASSRLS or superuser: it may act for every account.';

-- caller_role names the calling role for audit records.
create or replace function sfp_private.caller_role() returns text
language plpgsql stable
set search_path = ''
as $$
begin
  return coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user)::text;
end
$$;
revoke all on function sfp_private.caller_role() from public, anon, authenticated, service_role;
comment on function sfp_private.caller_role() is
  'The calling role (SET ROLE, else the session user), for audit records.';

-- ---------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------

create table if not exists public.accounts (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint accounts_slug_key unique (slug),
  constraint accounts_name_length check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 200),
  constraint accounts_slug_format check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
);
comment on table public.accounts is
  'sfp: an account (team, organisation). Every row of tenant data belongs to one account; its members and their roles are in accounts_memberships. Create one with the create_account RPC, which makes the caller its owner.';
comment on column public.accounts.id is 'Account id.';
comment on column public.accounts.name is 'Display name, 1-200 characters.';
comment on column public.accounts.slug is 'Unique URL-safe handle: 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen.';
comment on column public.accounts.created_at is 'When the row was created.';
comment on column public.accounts.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.accounts.created_by is 'User who created the row (auth.users.id); set from the caller''s token.';

-- ---------------------------------------------------------------------------
-- accounts_memberships
-- ---------------------------------------------------------------------------

create table if not exists public.accounts_memberships (
  account_id uuid not null references public.accounts (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  account_role public.account_role not null default 'member',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  primary key (account_id, user_id)
);
create index if not exists accounts_memberships_user_id_idx on public.accounts_memberships (user_id);
comment on table public.accounts_memberships is
  'sfp: who belongs to which account, with which role. Owners add, re-role and remove members; any member may remove their own membership (leave). An account always keeps at least one owner.';
comment on column public.accounts_memberships.account_id is 'The account.';
comment on column public.accounts_memberships.user_id is 'The member (auth.users.id).';
comment on column public.accounts_memberships.account_role is 'The member''s role: viewer, member or owner.';
comment on column public.accounts_memberships.created_at is 'When the member was added.';
comment on column public.accounts_memberships.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.accounts_memberships.created_by is 'User who added the member.';

-- ---------------------------------------------------------------------------
-- Policy helpers
-- ---------------------------------------------------------------------------

-- has_account_role answers for one account. SECURITY DEFINER, so reading
-- accounts_memberships here does not apply that table's own policies again
-- (no recursion), and search_path is empty so nothing can be shadowed. The
-- RPCs check their caller with it; the policies use account_ids_with_role.
create or replace function public.has_account_role(account_id uuid, min_role public.account_role default 'viewer')
returns boolean
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1
    from public.accounts_memberships m
    where m.account_id = has_account_role.account_id
      and m.user_id = auth.uid()
      and m.account_role >= has_account_role.min_role
  );
end
$$;
revoke all on function public.has_account_role(uuid, public.account_role) from public, anon, authenticated, service_role;
grant execute on function public.has_account_role(uuid, public.account_role) to authenticated, service_role;
comment on function public.has_account_role(uuid, public.account_role) is
  'True when the calling user (auth.uid()) is a member of the account with at least min_role (viewer < member < owner). The RPCs check their callers with it; clients may call it to decide what to show. Always false without a user token.';

-- account_ids_with_role is what the policies call: the accounts in which the
-- calling user has at least min_role. Policies use it as
--   account_id = any ((select public.account_ids_with_role('member'))::uuid[])
-- The scalar subquery makes it an InitPlan, computed once per statement
-- rather than once per row (a SECURITY DEFINER call per row, with its
-- search_path switch, costs ~25 us: 25 ms for 1,000 rows), and the condition
-- can drive an index on account_id. SECURITY DEFINER with an empty search_path
-- for the same reasons as has_account_role.
--
-- The hot helpers are PL/pgSQL, not SQL: a SQL function that cannot be
-- inlined (SECURITY DEFINER, SET search_path) is planned again on every
-- call, while PL/pgSQL keeps its plans for the session. Measured with pgbench
-- on a member's UPDATE of one deployment: 4-8x the service_role latency with
-- SQL helpers, 1.2-1.4x with PL/pgSQL.
create or replace function public.account_ids_with_role(min_role public.account_role default 'viewer')
returns uuid[]
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  return (
    select coalesce(pg_catalog.array_agg(m.account_id), '{}')
    from public.accounts_memberships m
    where m.user_id = auth.uid()
      and m.account_role >= account_ids_with_role.min_role
  );
end
$$;
revoke all on function public.account_ids_with_role(public.account_role) from public, anon, authenticated, service_role;
grant execute on function public.account_ids_with_role(public.account_role) to authenticated, service_role;
comment on function public.account_ids_with_role(public.account_role) is
  'Ids of the accounts in which the calling user (auth.uid()) has at least min_role (viewer < member < owner); empty without a user token. The row-level security policies are written with it; clients may call it, e.g. to list the accounts they can write to.';

-- require_account_role is the caller check at the top of the RPCs: it lets
-- privileged callers through and otherwise raises 42501 with a message that
-- names what was needed.
create or replace function sfp_private.require_account_role(account_id uuid, min_role public.account_role, action text)
returns void
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  if sfp_private.caller_is_privileged() then
    return;
  end if;
  if auth.uid() is null then
    raise exception '% requires a signed-in user', action using errcode = '42501';
  end if;
  if not public.has_account_role(account_id, min_role) then
    raise exception '% requires the % role in account %', action, min_role, account_id
      using errcode = '42501', hint = 'ask an owner of the account for access';
  end if;
end
$$;
revoke all on function sfp_private.require_account_role(uuid, public.account_role, text) from public, anon, authenticated, service_role;
grant execute on function sfp_private.require_account_role(uuid, public.account_role, text) to authenticated, service_role;
comment on function sfp_private.require_account_role(uuid, public.account_role, text) is
  'Raises SQLSTATE 42501 unless the caller is privileged or has at least min_role in the account; action names the operation in the message.';

-- ---------------------------------------------------------------------------
-- Triggers and policies
-- ---------------------------------------------------------------------------

create or replace trigger accounts_stamp_insert before insert on public.accounts
  for each row execute function sfp_private.stamp_insert();
create or replace trigger accounts_stamp_update before update on public.accounts
  for each row execute function sfp_private.stamp_update();
create or replace trigger accounts_memberships_stamp_insert before insert on public.accounts_memberships
  for each row execute function sfp_private.stamp_insert();
create or replace trigger accounts_memberships_stamp_update before update on public.accounts_memberships
  for each row execute function sfp_private.stamp_update('account');

-- protect_last_owner refuses to remove or demote the last owner of an
-- account. The account row is locked so two owners demoting each other at the
-- same time cannot both succeed. Deleting the account itself, or deleting the
-- user (auth admin), cascades through this trigger and is allowed.
create or replace function sfp_private.protect_last_owner() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  removes_owner boolean := old.account_role = 'owner'
    and (tg_op = 'DELETE' or new.account_role <> 'owner' or new.account_id <> old.account_id);
begin
  if removes_owner then
    perform 1 from public.accounts a where a.id = old.account_id for no key update;
    if found -- else the account itself is being deleted
       and exists (select 1 from auth.users u where u.id = old.user_id) -- else the user is being deleted
       and not exists (
         select 1 from public.accounts_memberships m
         where m.account_id = old.account_id and m.account_role = 'owner' and m.user_id <> old.user_id)
    then
      raise exception 'cannot % the last owner of account %',
        case when tg_op = 'DELETE' then 'remove' else 'demote' end, old.account_id
        using errcode = '23514', constraint = 'accounts_memberships_last_owner',
              hint = 'make another member an owner first, or delete the account';
    end if;
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$$;
revoke all on function sfp_private.protect_last_owner() from public, anon, authenticated, service_role;
comment on function sfp_private.protect_last_owner() is
  'Trigger: an account keeps at least one owner. Removing or demoting the last owner raises SQLSTATE 23514 (constraint accounts_memberships_last_owner); deleting the account or the user is allowed.';

create or replace trigger accounts_memberships_last_owner before update or delete on public.accounts_memberships
  for each row execute function sfp_private.protect_last_owner();

alter table public.accounts enable row level security;
alter table public.accounts_memberships enable row level security;

revoke all on public.accounts from anon;
revoke all on public.accounts_memberships from anon;
-- Accounts are created through create_account, which also makes the owner.
revoke insert, truncate, references, trigger on public.accounts from authenticated;
revoke truncate, references, trigger on public.accounts_memberships from authenticated;

drop policy if exists accounts_select on public.accounts;
create policy accounts_select on public.accounts for select to authenticated
  using (id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists accounts_update on public.accounts;
create policy accounts_update on public.accounts for update to authenticated
  using (id = any ((select public.account_ids_with_role('owner'))::uuid[]))
  with check (id = any ((select public.account_ids_with_role('owner'))::uuid[]));
drop policy if exists accounts_delete on public.accounts;
create policy accounts_delete on public.accounts for delete to authenticated
  using (id = any ((select public.account_ids_with_role('owner'))::uuid[]));

drop policy if exists accounts_memberships_select on public.accounts_memberships;
create policy accounts_memberships_select on public.accounts_memberships for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
drop policy if exists accounts_memberships_insert on public.accounts_memberships;
create policy accounts_memberships_insert on public.accounts_memberships for insert to authenticated
  with check (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
drop policy if exists accounts_memberships_update on public.accounts_memberships;
create policy accounts_memberships_update on public.accounts_memberships for update to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]))
  with check (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]));
drop policy if exists accounts_memberships_delete on public.accounts_memberships;
create policy accounts_memberships_delete on public.accounts_memberships for delete to authenticated
  using (account_id = any ((select public.account_ids_with_role('owner'))::uuid[]) or user_id = (select auth.uid()));

comment on policy accounts_select on public.accounts is 'Members of any role see their accounts.';
comment on policy accounts_update on public.accounts is 'Owners rename their accounts.';
comment on policy accounts_delete on public.accounts is 'Owners delete their accounts (and with them all the account''s data).';
comment on policy accounts_memberships_select on public.accounts_memberships is 'Members see who else is in their accounts.';
comment on policy accounts_memberships_insert on public.accounts_memberships is 'Owners add members.';
comment on policy accounts_memberships_update on public.accounts_memberships is 'Owners change roles.';
comment on policy accounts_memberships_delete on public.accounts_memberships is 'Owners remove members; anyone may leave.';

-- ---------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------

create or replace function public.create_account(name text, slug text, owner_id uuid default null)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
  new_id uuid;
begin
  if owner_id is not null and owner_id is distinct from uid and not sfp_private.caller_is_privileged() then
    raise exception 'only service_role may create an account for another user' using errcode = '42501';
  end if;
  uid := coalesce(owner_id, uid);
  if uid is null then
    raise exception 'create_account needs a signed-in user, or owner_id when called as service_role'
      using errcode = '22023';
  end if;
  if name is null or pg_catalog.length(pg_catalog.btrim(name)) not between 1 and 200 then
    raise exception 'account name must be 1-200 characters' using errcode = '22023';
  end if;
  if slug is null or slug !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'invalid account slug %', coalesce(pg_catalog.quote_literal(slug), 'null')
      using errcode = '22023',
            hint = 'use 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen';
  end if;
  begin
    insert into public.accounts (name, slug, created_by) values (pg_catalog.btrim(name), slug, uid)
    returning id into new_id;
  exception when unique_violation then
    raise exception 'account slug % is already taken', pg_catalog.quote_literal(slug)
      using errcode = '23505', constraint = 'accounts_slug_key';
  end;
  insert into public.accounts_memberships (account_id, user_id, account_role, created_by)
  values (new_id, uid, 'owner', uid);
  return new_id;
end
$$;
revoke all on function public.create_account(text, text, uuid) from public, anon, authenticated, service_role;
grant execute on function public.create_account(text, text, uuid) to authenticated, service_role;
comment on function public.create_account(text, text, uuid) is
  'Creates an account and makes the caller its owner; returns the account id. owner_id (service_role only) makes another user the owner. Errors: 22023 invalid name or slug, 23505 slug taken, 42501 not allowed.';

create or replace function public.add_account_member(account_id uuid, user_id uuid, account_role public.account_role default 'member')
returns public.accounts_memberships
language plpgsql
security definer
set search_path = ''
as $$
declare
  result public.accounts_memberships;
begin
  perform sfp_private.require_account_role(add_account_member.account_id, 'owner', 'adding a member');
  if user_id is null or account_role is null then
    raise exception 'user_id and account_role are required' using errcode = '22023';
  end if;
  if not exists (select 1 from auth.users u where u.id = add_account_member.user_id) then
    raise exception 'no user with id %', user_id using errcode = 'PT404';
  end if;
  insert into public.accounts_memberships as m (account_id, user_id, account_role)
  values (add_account_member.account_id, add_account_member.user_id, add_account_member.account_role)
  on conflict on constraint accounts_memberships_pkey do update set account_role = excluded.account_role
  returning m.* into result;
  return result;
end
$$;
revoke all on function public.add_account_member(uuid, uuid, public.account_role) from public, anon, authenticated, service_role;
grant execute on function public.add_account_member(uuid, uuid, public.account_role) to authenticated, service_role;
comment on function public.add_account_member(uuid, uuid, public.account_role) is
  'Owners (and service_role) add a user to the account with a role, or change the role of an existing member; returns the membership. Errors: 42501 not an owner, PT404 no such user, 23514 last owner demoted.';

create or replace function public.set_account_member_role(account_id uuid, user_id uuid, account_role public.account_role)
returns public.accounts_memberships
language plpgsql
security definer
set search_path = ''
as $$
declare
  result public.accounts_memberships;
begin
  perform sfp_private.require_account_role(set_account_member_role.account_id, 'owner', 'changing a member''s role');
  if account_role is null then
    raise exception 'account_role is required' using errcode = '22023';
  end if;
  update public.accounts_memberships m set account_role = set_account_member_role.account_role
  where m.account_id = set_account_member_role.account_id and m.user_id = set_account_member_role.user_id
  returning m.* into result;
  if not found then
    raise exception 'user % is not a member of account %', user_id, account_id using errcode = 'PT404';
  end if;
  return result;
end
$$;
revoke all on function public.set_account_member_role(uuid, uuid, public.account_role) from public, anon, authenticated, service_role;
grant execute on function public.set_account_member_role(uuid, uuid, public.account_role) to authenticated, service_role;
comment on function public.set_account_member_role(uuid, uuid, public.account_role) is
  'Owners (and service_role) change a member''s role; returns the membership. Errors: 42501 not an owner, PT404 not a member, 23514 last owner demoted.';

create or replace function public.remove_account_member(account_id uuid, user_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if user_id is distinct from auth.uid() then
    perform sfp_private.require_account_role(remove_account_member.account_id, 'owner', 'removing a member');
  end if;
  delete from public.accounts_memberships m
  where m.account_id = remove_account_member.account_id and m.user_id = remove_account_member.user_id;
  return found;
end
$$;
revoke all on function public.remove_account_member(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function public.remove_account_member(uuid, uuid) to authenticated, service_role;
comment on function public.remove_account_member(uuid, uuid) is
  'Owners (and service_role) remove a member; any member may remove themselves (leave). Returns whether a membership was removed. Errors: 42501 not an owner, 23514 last owner.';

create or replace function public.find_user_by_email(account_id uuid, email text)
returns uuid
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  found_id uuid;
begin
  -- Checked before the lookup, so a non-owner learns nothing about the address.
  perform sfp_private.require_account_role(find_user_by_email.account_id, 'owner', 'looking up a user by email');
  select u.id into found_id
  from auth.users u
  where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(find_user_by_email.email))
    and u.deleted_at is null and not u.is_sso_user
  limit 1;
  return found_id;
end
$$;
revoke all on function public.find_user_by_email(uuid, text) from public, anon, authenticated, service_role;
grant execute on function public.find_user_by_email(uuid, text) to authenticated, service_role;
comment on function public.find_user_by_email(uuid, text) is
  'Owners of the account (and service_role) look up a user''s id by email (case-insensitive), to add them with add_account_member; null when there is no such user. Anyone else gets 42501 whatever the address, so it reveals nothing.';

create or replace function public.list_account_members(account_id uuid)
returns table (user_id uuid, email text, account_role public.account_role, created_at timestamptz)
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  perform sfp_private.require_account_role(list_account_members.account_id, 'viewer', 'listing members');
  return query
    select m.user_id, u.email::text, m.account_role, m.created_at
    from public.accounts_memberships m
    join auth.users u on u.id = m.user_id
    where m.account_id = list_account_members.account_id
    order by m.account_role desc, u.email;
end
$$;
revoke all on function public.list_account_members(uuid) from public, anon, authenticated, service_role;
grant execute on function public.list_account_members(uuid) to authenticated, service_role;
comment on function public.list_account_members(uuid) is
  'Members of the account with their email and role, owners first; for any member of the account (and service_role). Errors: 42501 not a member.';

notify pgrst, 'reload schema';
