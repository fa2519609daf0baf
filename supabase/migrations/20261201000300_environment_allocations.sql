-- Environment allocations: a lease queue per environment.
--
-- request_environment(environment_id, lease, reason) appends a ticket to the
-- environment's queue; the oldest queued ticket becomes the active holder
-- when nobody holds the environment. At most one ticket per environment is
-- active, enforced by a partial unique index. Every RPC locks the
-- environment row first, so concurrent requesters are served one at a time.
--
-- Expiry is lazy: an active ticket whose expires_at has passed stops counting
-- the next time any of the RPCs below touches the environment (it is marked
-- expired and the next ticket promoted). Until then the row still says
-- active; readers of the table should treat expires_at <= now() as expired.
-- expire_environment_allocations() applies expiry to every environment, for a
-- periodic job.

create table if not exists public.environment_allocations (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  project_id uuid not null,
  environment_id uuid not null,
  status text not null default 'queued',
  reason text,
  lease interval not null,
  requested_at timestamptz not null default clock_timestamp(),
  granted_at timestamptz,
  expires_at timestamptz,
  released_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint environment_allocations_environment_fkey foreign key (environment_id, project_id, account_id)
    references public.environments (id, project_id, account_id) on delete cascade,
  constraint environment_allocations_status_check check (status in ('queued', 'active', 'released', 'expired', 'cancelled')),
  constraint environment_allocations_lease_range check (lease > interval '0' and lease <= interval '30 days'),
  constraint environment_allocations_active_expiry check (status <> 'active' or (granted_at is not null and expires_at is not null))
);
create unique index if not exists environment_allocations_one_active_idx
  on public.environment_allocations (environment_id) where status = 'active';
create index if not exists environment_allocations_queue_idx
  on public.environment_allocations (environment_id, requested_at, id) where status = 'queued';
create index if not exists environment_allocations_expiry_idx
  on public.environment_allocations (expires_at) where status = 'active';
create index if not exists environment_allocations_account_requested_idx
  on public.environment_allocations (account_id, requested_at desc);
comment on table public.environment_allocations is
  'sfp: lease queue of environments; a row is a ticket (its id). At most one active ticket per environment (unique index). Written only through request_environment, release_environment, extend_environment (members and owners) and by service_role; viewers read. Expiry is lazy: an active ticket with expires_at <= now() is expired the next time an RPC touches the environment. In publication supabase_realtime, REPLICA IDENTITY FULL: watch your ticket with filter id=eq.<ticket>.';
comment on column public.environment_allocations.id is 'The ticket.';
comment on column public.environment_allocations.account_id is 'Account of the environment.';
comment on column public.environment_allocations.project_id is 'Project of the environment.';
comment on column public.environment_allocations.environment_id is 'The environment requested.';
comment on column public.environment_allocations.status is 'queued (waiting), active (holds the environment until expires_at), released (given back), expired (lease ran out), cancelled (released while queued).';
comment on column public.environment_allocations.reason is 'Why the environment was requested (free text).';
comment on column public.environment_allocations.lease is 'Lease length requested (plus extensions while queued); the active lease runs from granted_at to expires_at.';
comment on column public.environment_allocations.requested_at is 'When the ticket was requested; the queue is served in this order.';
comment on column public.environment_allocations.granted_at is 'When the ticket became active.';
comment on column public.environment_allocations.expires_at is 'When the active lease ends unless extended.';
comment on column public.environment_allocations.released_at is 'When the ticket was released, cancelled or expired.';
comment on column public.environment_allocations.created_at is 'When the row was created.';
comment on column public.environment_allocations.updated_at is 'When the row was last updated (maintained by a trigger).';
comment on column public.environment_allocations.created_by is 'User who requested the ticket.';

create or replace trigger environment_allocations_stamp_insert before insert on public.environment_allocations
  for each row execute function sfp_private.stamp_insert();
create or replace trigger environment_allocations_stamp_update before update on public.environment_allocations
  for each row execute function sfp_private.stamp_update('account');

alter table public.environment_allocations enable row level security;
revoke all on public.environment_allocations from anon;
-- The queue's rules live in the RPCs; API users only read the table.
revoke insert, update, delete, truncate, references, trigger on public.environment_allocations from authenticated;

drop policy if exists environment_allocations_select on public.environment_allocations;
create policy environment_allocations_select on public.environment_allocations for select to authenticated
  using (account_id = any ((select public.account_ids_with_role('viewer'))::uuid[]));
comment on policy environment_allocations_select on public.environment_allocations is
  'Members of any role read the account''s tickets; writes go through the RPCs.';

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'public' and t.typname = 'environment_lease') then
    create type public.environment_lease as (
      ticket uuid,
      environment_id uuid,
      status text,
      queue_position integer,
      lease interval,
      reason text,
      requested_at timestamptz,
      granted_at timestamptz,
      expires_at timestamptz,
      released_at timestamptz
    );
  end if;
end
$$;
comment on type public.environment_lease is
  'A ticket of the environment lease queue as the RPCs return it. queue_position: 0 = holds the environment (active), 1 = next in line, ...; null once released, cancelled or expired.';
comment on column public.environment_lease.ticket is 'The ticket (environment_allocations.id).';
comment on column public.environment_lease.environment_id is 'The environment.';
comment on column public.environment_lease.status is 'queued, active, released, expired or cancelled.';
comment on column public.environment_lease.queue_position is '0 when active, n >= 1 when n-th in line, null when finished.';
comment on column public.environment_lease.lease is 'Lease length.';
comment on column public.environment_lease.reason is 'Why it was requested.';
comment on column public.environment_lease.requested_at is 'When it was requested.';
comment on column public.environment_lease.granted_at is 'When it became active.';
comment on column public.environment_lease.expires_at is 'When the active lease ends.';
comment on column public.environment_lease.released_at is 'When it was released, cancelled or expired.';

-- lease_tick applies the queue's rules to one environment whose row the
-- caller has locked: expire active tickets whose time is up, then, if nobody
-- holds the environment, promote the oldest queued ticket.
create or replace function sfp_private.lease_tick(environment_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  next_id uuid;
begin
  update public.environment_allocations a
  set status = 'expired', released_at = a.expires_at
  where a.environment_id = lease_tick.environment_id and a.status = 'active' and a.expires_at <= pg_catalog.clock_timestamp();
  if not exists (select 1 from public.environment_allocations a
                 where a.environment_id = lease_tick.environment_id and a.status = 'active') then
    select a.id into next_id
    from public.environment_allocations a
    where a.environment_id = lease_tick.environment_id and a.status = 'queued'
    order by a.requested_at, a.id
    limit 1;
    if next_id is not null then
      update public.environment_allocations a
      set status = 'active', granted_at = pg_catalog.clock_timestamp(), expires_at = pg_catalog.clock_timestamp() + a.lease
      where a.id = next_id;
    end if;
  end if;
end
$$;
revoke all on function sfp_private.lease_tick(uuid) from public, anon, authenticated, service_role;
comment on function sfp_private.lease_tick(uuid) is
  'Expires the environment''s active ticket when its time is up and promotes the oldest queued ticket when nobody holds the environment. The caller must hold the environment row lock.';

-- lease_of returns a ticket with its queue position.
create or replace function sfp_private.lease_of(ticket uuid) returns public.environment_lease
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  result public.environment_lease;
begin
  select a.id, a.environment_id, a.status,
         case a.status
           when 'active' then 0
           when 'queued' then 1 + (
             select pg_catalog.count(*)::integer from public.environment_allocations q
             where q.environment_id = a.environment_id and q.status = 'queued'
               and (q.requested_at, q.id) < (a.requested_at, a.id))
         end,
         a.lease, a.reason, a.requested_at, a.granted_at, a.expires_at, a.released_at
  into result
  from public.environment_allocations a
  where a.id = lease_of.ticket;
  return result;
end
$$;
revoke all on function sfp_private.lease_of(uuid) from public, anon, authenticated, service_role;
comment on function sfp_private.lease_of(uuid) is 'A ticket as public.environment_lease, with its queue position.';

-- lock_ticket_environment locks the environment of a ticket and checks the
-- caller may write to its account; a ticket the caller cannot see is
-- reported as not found.
create or replace function sfp_private.lock_ticket_environment(ticket uuid, action text) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  env uuid;
  acc uuid;
begin
  select a.environment_id, a.account_id into env, acc
  from public.environment_allocations a where a.id = lock_ticket_environment.ticket;
  if env is null or not (sfp_private.caller_is_privileged() or public.has_account_role(acc, 'viewer')) then
    raise exception 'ticket % not found', coalesce(ticket::text, 'null') using errcode = 'PT404';
  end if;
  perform sfp_private.require_account_role(acc, 'member', action);
  perform 1 from public.environments e where e.id = env for no key update;
  return env;
end
$$;
revoke all on function sfp_private.lock_ticket_environment(uuid, text) from public, anon, authenticated, service_role;
comment on function sfp_private.lock_ticket_environment(uuid, text) is
  'Locks the environment row of a ticket after checking the caller is a member (PT404 when the ticket is unknown or invisible, 42501 for viewers); returns the environment id.';

create or replace function sfp_private.check_lease(lease interval) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if lease is null or lease <= interval '0' or lease > interval '30 days' then
    raise exception 'lease must be a positive interval of at most 30 days, got %', coalesce(lease::text, 'null')
      using errcode = '22023';
  end if;
end
$$;
revoke all on function sfp_private.check_lease(interval) from public, anon, authenticated, service_role;
comment on function sfp_private.check_lease(interval) is 'Raises 22023 unless 0 < lease <= 30 days.';

create or replace function public.request_environment(environment_id uuid, lease interval default interval '1 hour', reason text default null)
returns public.environment_lease
language plpgsql
security definer
set search_path = ''
as $$
declare
  env record;
  new_ticket uuid;
begin
  perform sfp_private.check_lease(lease);
  select e.id, e.account_id, e.project_id, e.active into env
  from public.environments e where e.id = request_environment.environment_id
  for no key update;
  if env.id is null or not (sfp_private.caller_is_privileged() or public.has_account_role(env.account_id, 'viewer')) then
    raise exception 'environment % not found', coalesce(environment_id::text, 'null') using errcode = 'PT404';
  end if;
  perform sfp_private.require_account_role(env.account_id, 'member', 'requesting an environment');
  if not env.active then
    raise exception 'environment % is inactive', environment_id using errcode = 'PT409',
      hint = 'activate the environment (environments.active) before requesting it';
  end if;
  insert into public.environment_allocations (account_id, project_id, environment_id, lease, reason)
  values (env.account_id, env.project_id, env.id, lease, reason)
  returning id into new_ticket;
  perform sfp_private.lease_tick(env.id);
  return sfp_private.lease_of(new_ticket);
end
$$;
revoke all on function public.request_environment(uuid, interval, text) from public, anon, authenticated, service_role;
grant execute on function public.request_environment(uuid, interval, text) to authenticated, service_role;
comment on function public.request_environment(uuid, interval, text) is
  'Queues a ticket for the environment and returns it (public.environment_lease): status active and queue_position 0 when granted at once, else queued with its position (1 = next). lease: 0 < lease <= 30 days, default 1 hour. For members and owners (and service_role). Errors: PT404 unknown environment, 42501 viewer, PT409 inactive environment, 22023 bad lease.';

create or replace function public.release_environment(ticket uuid)
returns public.environment_lease
language plpgsql
security definer
set search_path = ''
as $$
declare
  env uuid;
begin
  env := sfp_private.lock_ticket_environment(ticket, 'releasing an environment');
  perform sfp_private.lease_tick(env);
  update public.environment_allocations a
  set status = case a.status when 'active' then 'released' else 'cancelled' end,
      released_at = pg_catalog.clock_timestamp()
  where a.id = release_environment.ticket and a.status in ('active', 'queued');
  perform sfp_private.lease_tick(env);
  return sfp_private.lease_of(ticket);
end
$$;
revoke all on function public.release_environment(uuid) from public, anon, authenticated, service_role;
grant execute on function public.release_environment(uuid) to authenticated, service_role;
comment on function public.release_environment(uuid) is
  'Gives back a ticket: an active one becomes released and the next queued ticket is promoted; a queued one becomes cancelled. Releasing a finished ticket changes nothing. Returns the ticket. Any member or owner of the account may release (and service_role). Errors: PT404 unknown ticket, 42501 viewer.';

create or replace function public.extend_environment(ticket uuid, lease interval)
returns public.environment_lease
language plpgsql
security definer
set search_path = ''
as $$
declare
  env uuid;
  st text;
begin
  perform sfp_private.check_lease(lease);
  env := sfp_private.lock_ticket_environment(ticket, 'extending an environment lease');
  perform sfp_private.lease_tick(env);
  select a.status into st from public.environment_allocations a where a.id = extend_environment.ticket;
  if st = 'active' then
    update public.environment_allocations a set expires_at = a.expires_at + extend_environment.lease
    where a.id = extend_environment.ticket;
  elsif st = 'queued' then
    if (select a.lease from public.environment_allocations a where a.id = extend_environment.ticket) + lease > interval '30 days' then
      raise exception 'lease of a queued ticket cannot exceed 30 days' using errcode = '22023';
    end if;
    update public.environment_allocations a set lease = a.lease + extend_environment.lease
    where a.id = extend_environment.ticket;
  else
    raise exception 'ticket % is %; request the environment again', ticket, st using errcode = 'PT409';
  end if;
  return sfp_private.lease_of(ticket);
end
$$;
revoke all on function public.extend_environment(uuid, interval) from public, anon, authenticated, service_role;
grant execute on function public.extend_environment(uuid, interval) to authenticated, service_role;
comment on function public.extend_environment(uuid, interval) is
  'Extends a ticket by lease (0 < lease <= 30 days): an active ticket''s expires_at moves later by lease; a queued ticket will hold the environment that much longer once granted. Returns the ticket. Errors: PT409 when the ticket is released, cancelled or expired (an active lease whose time is up is expired first), PT404 unknown ticket, 42501 viewer, 22023 bad lease.';

create or replace function public.environment_queue(environment_id uuid)
returns setof public.environment_lease
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
begin
  select e.account_id into acc from public.environments e where e.id = environment_queue.environment_id
  for no key update;
  if acc is null or not (sfp_private.caller_is_privileged() or public.has_account_role(acc, 'viewer')) then
    raise exception 'environment % not found', coalesce(environment_id::text, 'null') using errcode = 'PT404';
  end if;
  perform sfp_private.lease_tick(environment_id);
  return query
    select l.*
    from public.environment_allocations a
    cross join lateral sfp_private.lease_of(a.id) l
    where a.environment_id = environment_queue.environment_id and a.status in ('active', 'queued')
    order by l.queue_position;
end
$$;
revoke all on function public.environment_queue(uuid) from public, anon, authenticated, service_role;
grant execute on function public.environment_queue(uuid) to authenticated, service_role;
comment on function public.environment_queue(uuid) is
  'The environment''s current holder and queue in order (queue_position 0, 1, 2, ...), after applying expiry. For any member of the account (and service_role). Errors: PT404 unknown environment.';

create or replace function public.expire_environment_allocations()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  env uuid;
  n integer := 0;
begin
  if not sfp_private.caller_is_privileged() then
    raise exception 'expire_environment_allocations is for service_role only' using errcode = '42501';
  end if;
  for env in
    select distinct a.environment_id from public.environment_allocations a
    where a.status = 'active' and a.expires_at <= pg_catalog.clock_timestamp()
  loop
    perform 1 from public.environments e where e.id = env for no key update;
    perform sfp_private.lease_tick(env);
    n := n + 1;
  end loop;
  return n;
end
$$;
revoke all on function public.expire_environment_allocations() from public, anon, authenticated, service_role;
grant execute on function public.expire_environment_allocations() to service_role;
comment on function public.expire_environment_allocations() is
  'service_role only: applies expiry to every environment whose active lease has run out (and promotes the next tickets); returns how many environments changed. For a periodic job; the RPCs apply expiry lazily anyway.';

notify pgrst, 'reload schema';
