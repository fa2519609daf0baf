-- Realtime judges every event by the row version it is about: a DELETE
-- reaches a subscriber only if the table's SELECT policies, evaluated under
-- the subscriber's token on the deleted row's values, admit it. Those values
-- are in the WAL only with REPLICA IDENTITY FULL; with the default identity
-- a DELETE carries just the primary key, the policies (on account_id)
-- cannot be judged, and no member would hear of the delete.
--
-- task_events was the one published table left on the default identity. It
-- is append-only, so the full identity costs nothing until its rows go
-- (with their task or account).

alter table public.task_events replica identity full;
comment on table public.task_events is
  'sfp: append-only log of a task''s life. The database appends "created" on insert and "status", "progress" or "message" when an update changes them (with the new values); members may append their own events (e.g. "log"). No API role may update or delete events; they go when their task is deleted. In publication supabase_realtime, REPLICA IDENTITY FULL.';

notify pgrst, 'reload schema';
