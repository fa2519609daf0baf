-- auth.flow_state, shaped as GoTrue's migrations up to v2.196 leave it
-- (20230322519590, 20230402418590, 20230508135423, 20240306115329,
-- 20260115000000): one row per OAuth (and SSO) sign-in in progress. Its id
-- is the state parameter sent to the identity provider; a PKCE flow keeps
-- the code challenge and, after the callback, the user and the auth code
-- that /token?grant_type=pkce exchanges.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'code_challenge_method') then
    create type auth.code_challenge_method as enum ('s256', 'plain');
  end if;
end
$$;
alter type auth.code_challenge_method owner to supabase_auth_admin;

create table if not exists auth.flow_state (
  id uuid primary key,
  user_id uuid null,
  auth_code text null,
  code_challenge_method auth.code_challenge_method null,
  code_challenge text null,
  provider_type text not null,
  provider_access_token text null,
  provider_refresh_token text null,
  created_at timestamp with time zone null,
  updated_at timestamp with time zone null,
  authentication_method text not null,
  auth_code_issued_at timestamp with time zone null,
  invite_token text null,
  referrer text null,
  oauth_client_state_id uuid null,
  linking_target_id uuid null,
  email_optional boolean not null default false
);
create index if not exists idx_auth_code on auth.flow_state (auth_code);
create index if not exists idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);
create index if not exists flow_state_created_at_idx on auth.flow_state (created_at desc);
comment on table auth.flow_state is 'Stores metadata for all OAuth/SSO login flows';

alter table auth.flow_state owner to supabase_auth_admin;
alter table auth.flow_state enable row level security;
grant all on auth.flow_state to supabase_auth_admin, dashboard_user, postgres;
