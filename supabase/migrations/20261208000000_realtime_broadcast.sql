-- Broadcast from Database for task and deployment progress.
--
-- Every insert of a task or deployment, every update that changes its
-- status, progress or message, and its delete, is broadcast on the
-- resource's own private topic — task:<id>, deployment:<id> — with
-- realtime.broadcast_changes (event INSERT, UPDATE or DELETE; payload
-- {record, old_record, operation, table, schema}). A viewer (or more) of the
-- account may join those topics; nobody else may, and no API role may send
-- on them (no INSERT policy: only these triggers write).
--
-- Realtime checks the join once, against the policy below; after that each
-- message is delivered to the topic's subscribers without a check per
-- subscriber, which is why Supabase recommends it over postgres_changes for
-- many subscribers. postgres_changes on the tables keeps working.
--
-- realtime.messages is created by supabase/platform on the embedded runtime
-- and by the official realtime container under docker compose, which starts
-- after the migrations: there the policy is created only when the table
-- already exists (sfp_private.ensure_realtime_topic_policy() creates it
-- later), and the triggers skip broadcasting while realtime.send does not
-- exist yet. Without the policy private joins are refused, and clients fall
-- back to postgres_changes.

-- may_watch_topic answers whether the calling user (auth.uid()) is at
-- least a viewer of the account owning the task or deployment a topic
-- names. SECURITY DEFINER with an empty search_path, so the policy's check
-- does not depend on the caller's own grants and nothing can be shadowed;
-- it reveals nothing but that yes or no about the caller.
create or replace function sfp_private.may_watch_topic(topic text)
returns boolean
language plpgsql stable
security definer
set search_path = ''
as $$
declare
  kind text := pg_catalog.split_part(topic, ':', 1);
  rest text := pg_catalog.substr(topic, pg_catalog.length(kind) + 2);
  topic_id uuid;
begin
  if auth.uid() is null
     or rest !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' then
    return false;
  end if;
  topic_id := rest::uuid;
  if kind = 'task' then
    return exists (select 1 from public.task_executions t
                   where t.id = topic_id
                     and public.has_account_role(t.account_id, 'viewer'));
  elsif kind = 'deployment' then
    return exists (select 1 from public.deployments d
                   where d.id = topic_id
                     and public.has_account_role(d.account_id, 'viewer'));
  end if;
  return false;
end
$$;
revoke all on function sfp_private.may_watch_topic(text) from public, anon, authenticated, service_role;
grant execute on function sfp_private.may_watch_topic(text) to authenticated;
comment on function sfp_private.may_watch_topic(text) is
  'True when the calling user is a viewer (or more) of the account owning the task or deployment the Realtime topic names (task:<uuid>, deployment:<uuid>); false for any other topic or without a user token. The SELECT policy of realtime.messages calls it.';

-- broadcast_progress is the trigger on task_executions and deployments:
-- it broadcasts the row on <resource>:<id> when it is created, deleted, or
-- its status, progress or message changed.
create or replace function sfp_private.broadcast_progress()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  resource text := case tg_table_name when 'task_executions' then 'task' else 'deployment' end;
  row_id uuid;
begin
  if tg_op = 'UPDATE' and new.status is not distinct from old.status
     and new.progress is not distinct from old.progress
     and new.message is not distinct from old.message then
    return null;
  end if;
  if pg_catalog.to_regprocedure('realtime.broadcast_changes(text, text, text, text, text, record, record, text)') is null then
    return null; -- the official realtime container has not created it yet
  end if;
  row_id := case tg_op when 'DELETE' then old.id else new.id end;
  perform realtime.broadcast_changes(resource || ':' || row_id::text, tg_op, tg_op,
    tg_table_name, tg_table_schema, new, old);
  return null;
end
$$;
revoke all on function sfp_private.broadcast_progress() from public, anon, authenticated, service_role;
comment on function sfp_private.broadcast_progress() is
  'Trigger (after insert, update or delete on task_executions and deployments): broadcasts the row on the private Realtime topic task:<id> or deployment:<id> with realtime.broadcast_changes (event INSERT, UPDATE or DELETE) when it is created, deleted, or its status, progress or message changed.';

create or replace trigger task_executions_broadcast
  after insert or update or delete on public.task_executions
  for each row execute function sfp_private.broadcast_progress();
create or replace trigger deployments_broadcast
  after insert or update or delete on public.deployments
  for each row execute function sfp_private.broadcast_progress();

-- ensure_realtime_topic_policy creates the policy when realtime.messages
-- exists and says whether it did. The migration calls it; under docker
-- compose, where the realtime container creates the table after the
-- migrations ran, run it once realtime is up (docs/realtime.md).
create or replace function sfp_private.ensure_realtime_topic_policy()
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if pg_catalog.to_regclass('realtime.messages') is null then
    raise notice 'realtime.messages does not exist yet: the task and deployment topic policy is not created';
    return false;
  end if;
  drop policy if exists sfp_watch_resource_topics on realtime.messages;
  create policy sfp_watch_resource_topics on realtime.messages
    for select to authenticated
    using (
      extension in ('broadcast', 'presence')
      and topic = (select realtime.topic())
      and (select sfp_private.may_watch_topic(realtime.topic()))
    );
  comment on policy sfp_watch_resource_topics on realtime.messages is
    'sfp: viewers (or more) of the owning account may join the private topics task:<id> and deployment:<id> and receive what is broadcast there.';
  return true;
end
$$;
revoke all on function sfp_private.ensure_realtime_topic_policy() from public, anon, authenticated, service_role;
comment on function sfp_private.ensure_realtime_topic_policy() is
  'Creates (again) the SELECT policy of realtime.messages that lets viewers of an account join task:<id> and deployment:<id>; false when realtime.messages does not exist yet (docker compose before the realtime container started). Run by the migration, and under docker compose by sfp server start once every service is healthy.';

select sfp_private.ensure_realtime_topic_policy();

notify pgrst, 'reload schema';
