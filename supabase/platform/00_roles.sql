-- Roles as the supabase/postgres image creates them. The bootstrap superuser
-- supabase_admin is created by initdb (-U supabase_admin). Passwords are not
-- set here: sfp sets them from the tenant's secrets as SCRAM verifiers computed
-- client-side, so no plaintext password ever reaches the server or its logs.

do $$
declare
  r text;
begin
  foreach r in array array[
    'anon', 'authenticated', 'service_role', 'authenticator', 'postgres',
    'supabase_auth_admin', 'supabase_replication_admin', 'supabase_realtime_admin',
    'dashboard_user'
  ] loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      execute format('create role %I', r);
    end if;
  end loop;
end
$$;

alter role anon                       with nosuperuser inherit   nocreaterole nocreatedb nologin noreplication nobypassrls;
alter role authenticated              with nosuperuser inherit   nocreaterole nocreatedb nologin noreplication nobypassrls;
alter role service_role               with nosuperuser inherit   nocreaterole nocreatedb nologin noreplication bypassrls;
alter role authenticator              with nosuperuser noinherit nocreaterole nocreatedb login   noreplication nobypassrls;
alter role postgres                   with nosuperuser inherit   createrole   createdb   login   replication   bypassrls;
alter role supabase_admin             with superuser   inherit   createrole   createdb   login   replication   bypassrls;
alter role supabase_auth_admin        with nosuperuser noinherit createrole   nocreatedb login   noreplication nobypassrls;
alter role supabase_replication_admin with nosuperuser inherit   nocreaterole nocreatedb login   replication   nobypassrls;
alter role supabase_realtime_admin    with nosuperuser noinherit nocreaterole nocreatedb nologin noreplication nobypassrls;
alter role dashboard_user             with nosuperuser inherit   createrole   createdb   nologin replication   nobypassrls;

-- Per-role settings, as the image sets them.
alter role anon                set statement_timeout = '3s';
alter role authenticated       set statement_timeout = '8s';
alter role authenticator       set statement_timeout = '8s';
alter role authenticator       set lock_timeout = '8s';
alter role postgres            set search_path = "$user", public, extensions;
alter role supabase_admin      set search_path = "$user", public, auth, extensions;
alter role supabase_admin      set log_statement = 'none';
alter role supabase_auth_admin set search_path = auth;
alter role supabase_auth_admin set idle_in_transaction_session_timeout = '60000';
alter role supabase_auth_admin set log_statement = 'none';

-- PostgREST (and the embedded REST and Realtime servers) log in as
-- authenticator and switch to the request's role.
grant anon          to authenticator;
grant authenticated to authenticator;
grant service_role  to authenticator;

grant anon                    to postgres;
grant authenticated           to postgres;
grant service_role            to postgres;
grant supabase_auth_admin     to postgres;
grant supabase_realtime_admin to postgres;
grant pg_monitor              to postgres;
grant pg_read_all_data        to postgres;
grant pg_signal_backend       to postgres;
