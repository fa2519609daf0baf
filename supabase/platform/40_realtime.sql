-- Broadcast from Database, as Supabase Realtime's own tenant migrations
-- create it on the official image: realtime.messages (partitioned by day on
-- inserted_at, row-level security on), realtime.topic(), realtime.send() and
-- realtime.broadcast_changes(), with the same columns, signatures and
-- grants, so policies and triggers written for Supabase run unchanged.
--
-- Only the embedded runtime applies this file. Under docker compose the
-- official realtime container creates these objects itself; the tenant
-- migrations guard what they add to them (see 20261208000000).
--
-- What differs, and why:
--   * realtime.sfp_probe_messages() and realtime.sfp_maintain_messages() are
--     sfp's: the first lets the embedded server (connected as authenticator,
--     which cannot bypass RLS) insert the rows a join's authorisation check
--     reads back under the subscriber's role, in a transaction it rolls
--     back; the second keeps the partitions (creates the next days', drops
--     the ones past retention), as the official server's janitor does.
--   * realtime.messages is streamed through publication supabase_realtime
--     (see the end of this file), not a publication of its own.

create schema if not exists realtime;
grant usage on schema realtime to postgres, anon, authenticated, service_role, supabase_realtime_admin;
grant create on schema realtime to supabase_realtime_admin;
-- authenticator (noinherit) calls the sfp_ functions below before it
-- switches to the subscriber's role.
grant usage on schema realtime to authenticator;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);

-- Rows of a day without its partition (the server was down for days) land
-- here rather than fail; maintenance purges them with the rest.
create table if not exists realtime.messages_default partition of realtime.messages default;

create index if not exists messages_inserted_at_topic_index
  on only realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;

alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages_default owner to supabase_realtime_admin;

grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
grant delete, truncate, references, trigger on realtime.messages to postgres;
grant all on realtime.messages to supabase_realtime_admin;

comment on table realtime.messages is
  'Realtime Broadcast messages (Supabase Realtime''s table): a row inserted here is delivered as a broadcast event to the channels joined to its topic whose private flag matches. The SELECT and INSERT policies on it decide who may join and send on private channels. Partitioned by day; partitions older than the retention are dropped.';

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(pg_catalog.current_setting('realtime.topic', true), '')::text;
$$;
alter function realtime.topic() owner to supabase_realtime_admin;
comment on function realtime.topic() is
  'The topic being authorised or sent to (setting realtime.topic); policies on realtime.messages compare it.';

-- realtime.send inserts a broadcast under the caller's rights (its INSERT
-- policy applies unless the caller bypasses RLS, as SECURITY DEFINER
-- triggers owned by postgres do). Like the official function it never fails
-- the caller's transaction: an error becomes a warning.
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := pg_catalog.jsonb_set(payload, '{id}', pg_catalog.to_jsonb(generated_id));
    end if;
    perform pg_catalog.set_config('realtime.topic', topic, true);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;
comment on function realtime.send(jsonb, text, text, boolean) is
  'Broadcasts payload as event on topic (private channels by default) by inserting into realtime.messages; adds an "id" to the payload unless it has one. Errors become warnings.';

create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW')
returns void
language plpgsql
as $$
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  perform realtime.send(
    pg_catalog.jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
      'table', table_name, 'schema', table_schema),
    event_name, topic_name);
end
$$;
comment on function realtime.broadcast_changes(text, text, text, text, text, record, record, text) is
  'For row triggers: broadcasts {record, old_record, operation, table, schema} as event_name on topic_name (private) through realtime.send.';

-- sfp_probe_messages inserts, as the table's owner (no RLS), one broadcast
-- and one presence row for topic and returns their ids. The server calls it
-- at the start of a join's authorisation transaction, switches to the
-- subscriber's role and reads the rows back: the SELECT policies decide.
-- The transaction is rolled back, so nothing is kept or streamed. Only
-- authenticator (before it switches role) may call it.
create or replace function realtime.sfp_probe_messages(topic text, out broadcast_id uuid, out presence_id uuid)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if pg_catalog.current_setting('transaction_read_only') = 'on' then
    raise exception 'sfp_probe_messages needs a read-write transaction';
  end if;
  insert into realtime.messages (topic, extension, private) values (sfp_probe_messages.topic, 'broadcast', true)
    returning id into broadcast_id;
  insert into realtime.messages (topic, extension, private) values (sfp_probe_messages.topic, 'presence', true)
    returning id into presence_id;
end
$$;
alter function realtime.sfp_probe_messages(text) owner to supabase_realtime_admin;
revoke all on function realtime.sfp_probe_messages(text) from public, anon, authenticated, service_role;
grant execute on function realtime.sfp_probe_messages(text) to authenticator;
comment on function realtime.sfp_probe_messages(text) is
  'sfp: inserts a broadcast and a presence row for topic, bypassing RLS, and returns their ids; the embedded Realtime server reads them back under a subscriber''s role to authorise a private join, then rolls back. Executable by authenticator only.';

-- sfp_maintain_messages keeps realtime.messages bounded: it creates the
-- daily partitions of today and the next two days (unless rows of that day
-- already sit in the default partition) and drops the partitions that ended
-- before now - retention, purging the default partition likewise. The
-- embedded server calls it at start and every hour.
create or replace function realtime.sfp_maintain_messages(retention interval default '3 days')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  day date;
  part text;
  dropped integer := 0;
  r record;
begin
  if retention < interval '1 hour' then
    raise exception 'retention must be at least 1 hour, got %', retention;
  end if;
  -- One run at a time (several servers, or a manual call).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('realtime.sfp_maintain_messages'));
  for i in 0..2 loop
    day := (pg_catalog.now() at time zone 'utc')::date + i;
    part := 'messages_' || pg_catalog.to_char(day, 'YYYY_MM_DD');
    continue when pg_catalog.to_regclass('realtime.' || part) is not null;
    continue when exists (select 1 from realtime.messages_default d
                          where d.inserted_at >= day and d.inserted_at < day + 1);
    execute pg_catalog.format('create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
      part, day::timestamp, (day + 1)::timestamp);
  end loop;
  for r in
    select c.relname
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where i.inhparent = 'realtime.messages'::regclass
      and n.nspname = 'realtime'
      and c.relname ~ '^messages_[0-9]{4}_[0-9]{2}_[0-9]{2}$'
      and pg_catalog.to_date(pg_catalog.substr(c.relname, 10), 'YYYY_MM_DD') + 1
          < (pg_catalog.now() at time zone 'utc') - retention
  loop
    execute pg_catalog.format('drop table if exists realtime.%I', r.relname);
    dropped := dropped + 1;
  end loop;
  delete from realtime.messages_default
  where inserted_at < (pg_catalog.now() at time zone 'utc') - retention;
  return dropped;
end
$$;
alter function realtime.sfp_maintain_messages(interval) owner to supabase_realtime_admin;
revoke all on function realtime.sfp_maintain_messages(interval) from public, anon, authenticated, service_role;
grant execute on function realtime.sfp_maintain_messages(interval) to authenticator;
comment on function realtime.sfp_maintain_messages(interval) is
  'sfp: creates the daily partitions of realtime.messages for today and the next two days and drops those older than retention (default 3 days); returns how many it dropped. The embedded Realtime server runs it at start and hourly. Executable by authenticator only.';

select realtime.sfp_maintain_messages();

-- The embedded server streams realtime.messages through the publication it
-- already reads (supabase_realtime; its durable slot then delivers messages
-- committed while it was down). A second publication would break upgrades:
-- pgoutput refuses to decode WAL from before a publication it is asked for
-- existed, and an existing slot resumes from there. The partitions arrive
-- under their own names (messages_YYYY_MM_DD, messages_default).
do $$
begin
  if not exists (select 1 from pg_catalog.pg_publication_rel pr
                 join pg_catalog.pg_publication p on p.oid = pr.prpubid
                 where p.pubname = 'supabase_realtime' and pr.prrelid = 'realtime.messages'::regclass) then
    alter publication supabase_realtime add table realtime.messages;
  end if;
end
$$;
