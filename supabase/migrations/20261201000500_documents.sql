-- Document storage: collections of JSON documents addressed by
-- (account_id, collection, key), each with a version for optimistic
-- concurrency, behind the RPCs doc_put, doc_get, doc_list, doc_delete and
-- doc_collections.
--
-- Most collections live in public.documents. High-volume collections live in
-- dedicated tables of the same shape with their own indexes; which table
-- serves a collection is data: a row in public.document_stores. The RPCs look
-- the table up there and address it with format('%I'), so callers cannot tell
-- where a collection is stored. build_manifests and changelogs are dedicated
-- from the start.
--
-- The RPCs are SECURITY INVOKER: row-level security on the tables applies to
-- them as to direct access, after an explicit role check that gives a clear
-- error. Keys sort bytewise (collation "C"), which is the order of doc_list's
-- keyset pagination.

create table if not exists public.documents (
  account_id uuid not null references public.accounts (id) on delete cascade,
  collection text not null,
  key text collate "C" not null,
  data jsonb not null,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint documents_pkey primary key (account_id, collection, key),
  constraint documents_collection_format check (collection ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  constraint documents_key_length check (pg_catalog.length(key) between 1 and 512),
  constraint documents_version_positive check (version > 0)
);
comment on table public.documents is
  'sfp: JSON documents of the collections that have no dedicated table (see document_stores). Use the doc_* RPCs; direct reads and writes follow the same policies. Viewers read, members and owners write. The row type is what doc_put, doc_get and doc_list return.';
comment on column public.documents.account_id is 'Account the document belongs to.';
comment on column public.documents.collection is 'Collection name: 1-63 of a-z 0-9 _ . - starting with a letter or digit.';
comment on column public.documents.key is 'Key within the collection, 1-512 characters; sorted bytewise (collation C).';
comment on column public.documents.data is 'The document (any JSON value).';
comment on column public.documents.version is 'Starts at 1, incremented by every update. An update that sets another value raises PT409.';
comment on column public.documents.created_at is 'When the document was created.';
comment on column public.documents.updated_at is 'When the document was last written.';
comment on column public.documents.created_by is 'User who created the document.';

create table if not exists public.build_manifests (
  account_id uuid not null references public.accounts (id) on delete cascade,
  collection text not null,
  key text collate "C" not null,
  data jsonb not null,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint build_manifests_pkey primary key (account_id, collection, key),
  constraint build_manifests_collection_format check (collection ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  constraint build_manifests_key_length check (pg_catalog.length(key) between 1 and 512),
  constraint build_manifests_version_positive check (version > 0)
);
create index if not exists build_manifests_account_updated_idx on public.build_manifests (account_id, updated_at desc);
create index if not exists build_manifests_data_idx on public.build_manifests using gin (data jsonb_path_ops);
comment on table public.build_manifests is
  'sfp: dedicated store of document collection build_manifests (artifact manifests of builds, high volume), with a GIN index on data and an index by update time. Same shape and policies as documents; use the doc_* RPCs.';
comment on column public.build_manifests.account_id is 'Account the document belongs to.';
comment on column public.build_manifests.collection is 'Collection name (build_manifests unless document_stores routes another collection here).';
comment on column public.build_manifests.key is 'Key within the collection; sorted bytewise (collation C).';
comment on column public.build_manifests.data is 'The manifest (JSON, GIN-indexed).';
comment on column public.build_manifests.version is 'Starts at 1, incremented by every update. An update that sets another value raises PT409.';
comment on column public.build_manifests.created_at is 'When the document was created.';
comment on column public.build_manifests.updated_at is 'When the document was last written.';
comment on column public.build_manifests.created_by is 'User who created the document.';

create table if not exists public.changelogs (
  account_id uuid not null references public.accounts (id) on delete cascade,
  collection text not null,
  key text collate "C" not null,
  data jsonb not null,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  constraint changelogs_pkey primary key (account_id, collection, key),
  constraint changelogs_collection_format check (collection ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  constraint changelogs_key_length check (pg_catalog.length(key) between 1 and 512),
  constraint changelogs_version_positive check (version > 0)
);
create index if not exists changelogs_account_created_idx on public.changelogs (account_id, created_at desc);
comment on table public.changelogs is
  'sfp: dedicated store of document collection changelogs (release changelogs, high volume), with an index by creation time. Same shape and policies as documents; use the doc_* RPCs.';
comment on column public.changelogs.account_id is 'Account the document belongs to.';
comment on column public.changelogs.collection is 'Collection name (changelogs unless document_stores routes another collection here).';
comment on column public.changelogs.key is 'Key within the collection; sorted bytewise (collation C).';
comment on column public.changelogs.data is 'The changelog (JSON).';
comment on column public.changelogs.version is 'Starts at 1, incremented by every update. An update that sets another value raises PT409.';
comment on column public.changelogs.created_at is 'When the document was created.';
comment on column public.changelogs.updated_at is 'When the document was last written.';
comment on column public.changelogs.created_by is 'User who created the document.';

-- document_version implements the optimistic lock for every document table.
create or replace function sfp_private.document_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.version := 1;
    return new;
  end if;
  if new.version is distinct from old.version then
    raise exception 'document %/% was changed concurrently: version % is stale', old.collection, old.key, new.version
      using errcode = 'PT409',
            detail = pg_catalog.format('current version is %s', old.version),
            hint = 'read the document again and retry with its current version';
  end if;
  new.version := old.version + 1;
  return new;
end
$$;
revoke all on function sfp_private.document_version() from public, anon, authenticated, service_role;
comment on function sfp_private.document_version() is
  'Trigger on every document table: a new document gets version 1; an update that sets version to anything but the stored value raises PT409 (detail "current version is N"), otherwise version is incremented.';

do $$
declare
  t text;
begin
  foreach t in array array['documents', 'build_manifests', 'changelogs'] loop
    execute format('create or replace trigger %I before insert on public.%I for each row execute function sfp_private.stamp_insert()',
                   t || '_stamp_insert', t);
    execute format('create or replace trigger %I before update on public.%I for each row execute function sfp_private.stamp_update(%L)',
                   t || '_stamp_update', t, 'account');
    execute format('create or replace trigger %I before insert or update on public.%I for each row execute function sfp_private.document_version()',
                   t || '_version', t);
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from anon', t);
    execute format('revoke truncate, references, trigger on public.%I from authenticated', t);
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
    execute format('comment on policy %I on public.%I is %L', t || '_select', t, 'Members of any role read the account''s documents.');
    execute format('comment on policy %I on public.%I is %L', t || '_insert', t, 'Members and owners create documents.');
    execute format('comment on policy %I on public.%I is %L', t || '_update', t, 'Members and owners update documents.');
    execute format('comment on policy %I on public.%I is %L', t || '_delete', t, 'Members and owners delete documents.');
  end loop;
end
$$;

-- ---------------------------------------------------------------------------
-- document_stores: which table serves a collection
-- ---------------------------------------------------------------------------

create table if not exists public.document_stores (
  collection text primary key,
  table_name text not null,
  description text,
  created_at timestamptz not null default now(),
  constraint document_stores_collection_format check (collection ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
  constraint document_stores_table_name_format check (table_name ~ '^[a-z_][a-z0-9_]{0,62}$')
);
comment on table public.document_stores is
  'sfp: routing of document collections to dedicated tables in schema public; a collection without a row here lives in documents. Global (not per account): every signed-in user reads it, only service_role (or a migration) changes it. A table must have the documents shape, a primary key (account_id, collection, key) and row-level security; a collection that already has documents cannot be re-routed (move them first).';
comment on column public.document_stores.collection is 'Collection name.';
comment on column public.document_stores.table_name is 'Table in schema public that stores the collection.';
comment on column public.document_stores.description is 'What the collection holds.';
comment on column public.document_stores.created_at is 'When the route was added.';

-- check_document_store validates a route: the table exists with the
-- documents shape, and no documents would be stranded in the table that
-- served the collection before.
create or replace function sfp_private.check_document_store() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  rel regclass;
  missing text;
  previous text;
  upcoming text;
  stranded boolean;
begin
  if tg_op <> 'DELETE' then
    if new.table_name !~ '^[a-z_][a-z0-9_]{0,62}$' or new.collection !~ '^[a-z0-9][a-z0-9_.-]{0,62}$' then
      return new; -- the check constraints report it
    end if;
    rel := pg_catalog.to_regclass('public.' || pg_catalog.quote_ident(new.table_name));
    if rel is null then
      raise exception 'document store table public.% does not exist', new.table_name
        using errcode = '23503', constraint = 'document_stores_table_name_check';
    end if;
    select pg_catalog.string_agg(w.col || ' ' || w.typ, ', ') into missing
    from (values ('account_id', 'uuid'), ('collection', 'text'), ('key', 'text'), ('data', 'jsonb'),
                 ('version', 'bigint'), ('created_at', 'timestamp with time zone'),
                 ('updated_at', 'timestamp with time zone'), ('created_by', 'uuid')) w (col, typ)
    where not exists (
      select 1 from pg_catalog.pg_attribute a
      where a.attrelid = rel and a.attname = w.col and not a.attisdropped
        and pg_catalog.format_type(a.atttypid, a.atttypmod) = w.typ);
    if missing is not null then
      raise exception 'table public.% lacks document columns: %', new.table_name, missing
        using errcode = '23514', constraint = 'document_stores_table_name_check';
    end if;
    if not exists (
      select 1 from pg_catalog.pg_index i
      where i.indrelid = rel and i.indisprimary
        and (select pg_catalog.array_agg(a.attname::text order by k.ord)
             from pg_catalog.unnest(i.indkey) with ordinality k (attnum, ord)
             join pg_catalog.pg_attribute a on a.attrelid = rel and a.attnum = k.attnum)
            = array['account_id', 'collection', 'key']) then
      raise exception 'table public.% needs primary key (account_id, collection, key)', new.table_name
        using errcode = '23514', constraint = 'document_stores_table_name_check';
    end if;
    if not (select c.relrowsecurity from pg_catalog.pg_class c where c.oid = rel) then
      raise exception 'table public.% does not have row-level security enabled', new.table_name
        using errcode = '23514', constraint = 'document_stores_table_name_check';
    end if;
  end if;
  -- The table that served the collection until now, and the one that will.
  previous := case tg_op when 'INSERT' then 'documents' else old.table_name end;
  upcoming := case tg_op when 'DELETE' then 'documents' else new.table_name end;
  if previous = upcoming and (tg_op <> 'UPDATE' or new.collection = old.collection) then
    if tg_op = 'DELETE' then
      return old;
    end if;
    return new;
  end if;
  execute pg_catalog.format('select exists (select 1 from public.%I where collection = $1)', previous)
    into stranded using coalesce(old.collection, new.collection);
  if stranded then
    raise exception 'collection % still has documents in public.%', coalesce(old.collection, new.collection), previous
      using errcode = '23514', constraint = 'document_stores_stranded_documents',
            hint = 'move the documents to the new table in the same transaction before changing the route';
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$$;
revoke all on function sfp_private.check_document_store() from public, anon, authenticated, service_role;
comment on function sfp_private.check_document_store() is
  'Trigger on document_stores: the table must exist in public with the documents columns, primary key (account_id, collection, key) and row-level security; a collection whose documents would be stranded in the previous table cannot be re-routed. Raises 23503/23514.';

create or replace trigger document_stores_check before insert or update or delete on public.document_stores
  for each row execute function sfp_private.check_document_store();

alter table public.document_stores enable row level security;
revoke all on public.document_stores from anon;
revoke insert, update, delete, truncate, references, trigger on public.document_stores from authenticated;
drop policy if exists document_stores_select on public.document_stores;
create policy document_stores_select on public.document_stores for select to authenticated using (true);
comment on policy document_stores_select on public.document_stores is 'Every signed-in user reads the routing table; only service_role changes it.';

insert into public.document_stores (collection, table_name, description) values
  ('build_manifests', 'build_manifests', 'Artifact manifests of builds.'),
  ('changelogs', 'changelogs', 'Release changelogs.')
on conflict (collection) do nothing;

-- ---------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------

-- document_table returns the table serving a collection after validating
-- the arguments every RPC shares.
create or replace function sfp_private.document_table(account_id uuid, collection text) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if account_id is null then
    raise exception 'account_id is required' using errcode = '22023';
  end if;
  if collection is null or collection !~ '^[a-z0-9][a-z0-9_.-]{0,62}$' then
    raise exception 'invalid collection name %', coalesce(pg_catalog.quote_literal(collection), 'null')
      using errcode = '22023', hint = 'use 1-63 of a-z 0-9 _ . - starting with a letter or digit';
  end if;
  return coalesce((select s.table_name from public.document_stores s where s.collection = document_table.collection),
                  'documents');
end
$$;
revoke all on function sfp_private.document_table(uuid, text) from public, anon, authenticated, service_role;
grant execute on function sfp_private.document_table(uuid, text) to authenticated, service_role;
comment on function sfp_private.document_table(uuid, text) is
  'Validates account_id and collection (22023) and returns the table that stores the collection (document_stores, else documents).';

create or replace function sfp_private.check_document_key(key text) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if key is null or pg_catalog.length(key) not between 1 and 512 then
    raise exception 'document key must be 1-512 characters' using errcode = '22023';
  end if;
end
$$;
revoke all on function sfp_private.check_document_key(text) from public, anon, authenticated, service_role;
grant execute on function sfp_private.check_document_key(text) to authenticated, service_role;
comment on function sfp_private.check_document_key(text) is 'Raises 22023 unless the key has 1-512 characters.';

create or replace function public.doc_put(account_id uuid, collection text, key text, data jsonb, expected_version bigint default null)
returns public.documents
language plpgsql
set search_path = ''
as $$
declare
  tbl text := sfp_private.document_table(account_id, collection);
  result public.documents;
  cur bigint;
  n integer;
  cols constant text := 'd.account_id, d.collection, d.key, d.data, d.version, d.created_at, d.updated_at, d.created_by';
begin
  perform sfp_private.check_document_key(key);
  if data is null then
    raise exception 'document data must not be null (use doc_delete to remove a document)' using errcode = '22023';
  end if;
  if expected_version < 0 then
    raise exception 'expected_version must be null, 0 (create only) or a version, got %', expected_version
      using errcode = '22023';
  end if;
  perform sfp_private.require_account_role(account_id, 'member', 'writing documents');
  if expected_version is null then
    execute pg_catalog.format(
      'insert into public.%I as d (account_id, collection, key, data) values ($1, $2, $3, $4)
       on conflict (account_id, collection, key) do update set data = excluded.data
       returning ' || cols, tbl)
      into result using account_id, collection, key, data;
    return result;
  elsif expected_version = 0 then
    execute pg_catalog.format(
      'insert into public.%I as d (account_id, collection, key, data) values ($1, $2, $3, $4)
       on conflict (account_id, collection, key) do nothing
       returning ' || cols, tbl)
      into result using account_id, collection, key, data;
  else
    execute pg_catalog.format(
      'update public.%I as d set data = $4
       where d.account_id = $1 and d.collection = $2 and d.key = $3 and d.version = $5
       returning ' || cols, tbl)
      into result using account_id, collection, key, data, expected_version;
  end if;
  get diagnostics n = row_count;
  if n = 1 then
    return result;
  end if;
  execute pg_catalog.format('select d.version from public.%I d where d.account_id = $1 and d.collection = $2 and d.key = $3', tbl)
    into cur using account_id, collection, key;
  raise exception 'document %/% is not at version %', collection, key, expected_version
    using errcode = 'PT409',
          detail = case when cur is null then 'the document does not exist'
                        else pg_catalog.format('current version is %s', cur) end,
          hint = case when cur is null then 'create it with expected_version 0 or null'
                      else 'read the document again and retry with its current version' end;
end
$$;
revoke all on function public.doc_put(uuid, text, text, jsonb, bigint) from public, anon, authenticated, service_role;
grant execute on function public.doc_put(uuid, text, text, jsonb, bigint) to authenticated, service_role;
comment on function public.doc_put(uuid, text, text, jsonb, bigint) is
  'Creates or replaces a document and returns it (with its new version). expected_version: null = write unconditionally; 0 = create only; n = replace only if the stored version is n. A mismatch raises PT409 (HTTP 409) with the current version in the detail ("current version is N" or "the document does not exist"). For members and owners (and service_role). Errors: 42501 not allowed, 22023 bad argument.';

create or replace function public.doc_get(account_id uuid, collection text, key text)
returns setof public.documents
language plpgsql stable
set search_path = ''
as $$
declare
  tbl text := sfp_private.document_table(account_id, collection);
begin
  perform sfp_private.check_document_key(key);
  perform sfp_private.require_account_role(account_id, 'viewer', 'reading documents');
  return query execute pg_catalog.format(
    'select d.account_id, d.collection, d.key, d.data, d.version, d.created_at, d.updated_at, d.created_by
     from public.%I d where d.account_id = $1 and d.collection = $2 and d.key = $3', tbl)
    using account_id, collection, key;
end
$$;
revoke all on function public.doc_get(uuid, text, text) from public, anon, authenticated, service_role;
grant execute on function public.doc_get(uuid, text, text) to authenticated, service_role;
comment on function public.doc_get(uuid, text, text) is
  'The document as a set of zero or one rows (PostgREST: [] or [doc]; with Accept application/vnd.pgrst.object+json, the object or 406). For any member of the account (and service_role). Errors: 42501 not a member, 22023 bad argument.';

create or replace function public.doc_list(account_id uuid, collection text, prefix text default null, after text default null, "limit" integer default 100)
returns setof public.documents
language plpgsql stable
set search_path = ''
as $$
declare
  tbl text := sfp_private.document_table(account_id, collection);
  q text;
begin
  if "limit" is null or "limit" not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000, got %', coalesce("limit"::text, 'null') using errcode = '22023';
  end if;
  perform sfp_private.require_account_role(account_id, 'viewer', 'listing documents');
  q := 'select d.account_id, d.collection, d.key, d.data, d.version, d.created_at, d.updated_at, d.created_by
        from public.%I d where d.account_id = $1 and d.collection = $2';
  if prefix is not null and prefix <> '' then
    q := q || ' and d.key ^@ $3';
  end if;
  if after is not null then
    q := q || ' and d.key > $4';
  end if;
  q := q || ' order by d.key limit $5';
  return query execute pg_catalog.format(q, tbl) using account_id, collection, prefix, after, "limit";
end
$$;
revoke all on function public.doc_list(uuid, text, text, text, integer) from public, anon, authenticated, service_role;
grant execute on function public.doc_list(uuid, text, text, text, integer) to authenticated, service_role;
comment on function public.doc_list(uuid, text, text, text, integer) is
  'Documents of a collection in key order (bytewise), at most "limit" (1-1000, default 100), optionally only keys starting with prefix, and only keys after "after": pass the last key of a page to get the next (keyset pagination: stable under concurrent writes, every document present throughout is returned exactly once). For any member of the account (and service_role). Errors: 42501 not a member, 22023 bad argument.';

create or replace function public.doc_delete(account_id uuid, collection text, key text, expected_version bigint default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  tbl text := sfp_private.document_table(account_id, collection);
  cur bigint;
  n integer;
begin
  perform sfp_private.check_document_key(key);
  perform sfp_private.require_account_role(account_id, 'member', 'deleting documents');
  if expected_version is null then
    execute pg_catalog.format('delete from public.%I d where d.account_id = $1 and d.collection = $2 and d.key = $3', tbl)
      using account_id, collection, key;
    get diagnostics n = row_count;
    return n > 0;
  end if;
  execute pg_catalog.format(
    'delete from public.%I d where d.account_id = $1 and d.collection = $2 and d.key = $3 and d.version = $4', tbl)
    using account_id, collection, key, expected_version;
  get diagnostics n = row_count;
  if n > 0 then
    return true;
  end if;
  execute pg_catalog.format('select d.version from public.%I d where d.account_id = $1 and d.collection = $2 and d.key = $3', tbl)
    into cur using account_id, collection, key;
  raise exception 'document %/% is not at version %', collection, key, expected_version
    using errcode = 'PT409',
          detail = case when cur is null then 'the document does not exist'
                        else pg_catalog.format('current version is %s', cur) end;
end
$$;
revoke all on function public.doc_delete(uuid, text, text, bigint) from public, anon, authenticated, service_role;
grant execute on function public.doc_delete(uuid, text, text, bigint) to authenticated, service_role;
comment on function public.doc_delete(uuid, text, text, bigint) is
  'Deletes a document; returns whether one was deleted. expected_version: null = unconditionally; n = only if the stored version is n, else PT409 (detail as doc_put). For members and owners (and service_role). Errors: 42501 not allowed, 22023 bad argument.';

create or replace function public.doc_collections(account_id uuid)
returns table (collection text, document_count bigint, last_updated_at timestamptz)
language plpgsql stable
set search_path = ''
as $$
declare
  q text;
begin
  if account_id is null then
    raise exception 'account_id is required' using errcode = '22023';
  end if;
  perform sfp_private.require_account_role(account_id, 'viewer', 'listing document collections');
  select pg_catalog.string_agg(
           pg_catalog.format('select d.collection, pg_catalog.count(*), pg_catalog.max(d.updated_at) from public.%I d where d.account_id = $1 group by d.collection', t.table_name),
           ' union all ')
    into q
  from (select 'documents' as table_name union select s.table_name from public.document_stores s) t;
  return query execute 'select c.collection::text, c.count::bigint, c.max from (' || q || ') c (collection, count, max) order by 1'
    using account_id;
end
$$;
revoke all on function public.doc_collections(uuid) from public, anon, authenticated, service_role;
grant execute on function public.doc_collections(uuid) to authenticated, service_role;
comment on function public.doc_collections(uuid) is
  'The account''s collections that hold documents, with their document count and last update, in name order, whichever table stores them. For any member of the account (and service_role). Errors: 42501 not a member.';

notify pgrst, 'reload schema';
