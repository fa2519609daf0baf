-- A lease's start and end are computed from one instant.
--
-- lease_tick read clock_timestamp() once for granted_at and again for
-- expires_at, so a promoted ticket could run a microsecond longer than its
-- lease (granted 10:00:00.000001, expiring 11:00:00.000002), and the expiry
-- test compared against yet another reading. It now reads the clock once per
-- call and uses that instant for expiry and promotion alike: expires_at -
-- granted_at is exactly the lease, and a ticket expired and the ticket
-- promoted in its place share the same moment.

create or replace function sfp_private.lease_tick(environment_id uuid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  at constant timestamptz := pg_catalog.clock_timestamp();
  next_id uuid;
begin
  update public.environment_allocations a
  set status = 'expired', released_at = a.expires_at
  where a.environment_id = lease_tick.environment_id and a.status = 'active' and a.expires_at <= at;
  if not exists (select 1 from public.environment_allocations a
                 where a.environment_id = lease_tick.environment_id and a.status = 'active') then
    select a.id into next_id
    from public.environment_allocations a
    where a.environment_id = lease_tick.environment_id and a.status = 'queued'
    order by a.requested_at, a.id
    limit 1;
    if next_id is not null then
      update public.environment_allocations a
      set status = 'active', granted_at = at, expires_at = at + a.lease
      where a.id = next_id;
    end if;
  end if;
end
$$;
revoke all on function sfp_private.lease_tick(uuid) from public, anon, authenticated, service_role;
comment on function sfp_private.lease_tick(uuid) is
  'Expires the environment''s active ticket when its time is up and promotes the oldest queued ticket when nobody holds the environment, all at one instant (one clock reading per call: a promoted ticket''s expires_at - granted_at is exactly its lease). The caller must hold the environment row lock.';

notify pgrst, 'reload schema';
