-- Schemas and default privileges as the supabase/postgres image grants them.

create schema if not exists extensions;
alter schema extensions owner to postgres;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

create extension if not exists pgcrypto    with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

-- public: usage for the API roles; tables, functions and sequences that
-- postgres or supabase_admin create are granted to the API roles, and
-- row-level security decides what each of them may see.
grant usage on schema public to postgres, anon, authenticated, service_role;

alter default privileges in schema public grant all on tables    to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;

alter default privileges for role postgres in schema public grant all on tables    to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;

alter default privileges for role supabase_admin in schema public grant all on tables    to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;

alter default privileges for role supabase_admin in schema extensions grant all on tables    to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema extensions grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema extensions grant all on sequences to postgres, anon, authenticated, service_role;

-- Where the Supabase CLI (and sfp's migration runner) records applied migrations.
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;

-- Realtime broadcasts changes of the tables in this publication; the tenant
-- migrations add tables to it.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;
