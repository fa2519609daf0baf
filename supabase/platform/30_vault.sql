-- Vault: the SQL API of supabase_vault (vault.secrets, vault.create_secret,
-- vault.update_secret, vault.decrypted_secrets), encrypting with pgcrypto.
--
-- The root key is a random key file, sfp_vault_root.key, that sfp writes into
-- the cluster's data directory at initdb time with mode 0600, owned by the
-- database server's user: only the server can read it, and only superuser
-- code (these functions, owned by supabase_admin) can ask the server to. It
-- never appears in SQL text, environment variables or configuration files.
--
-- Secrets are encrypted with OpenPGP symmetric encryption (AES-256 with an
-- integrity check) under a per-secret key derived from the root key and the
-- secret's key_id, so rotating the key_id of one secret re-keys only it.

create schema if not exists vault;
alter schema vault owner to supabase_admin;
revoke all on schema vault from public;
grant usage on schema vault to postgres, service_role;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);
create unique index if not exists secrets_name_idx on vault.secrets (name) where name is not null;
comment on table vault.secrets is 'Table with encrypted `secret` column for storing sensitive information on disk.';
revoke all on vault.secrets from public;
grant select, delete on vault.secrets to postgres, service_role;

-- _root_key reads the key file. Superuser-only: pg_read_file needs it, and
-- no API role may execute it.
create or replace function vault._root_key() returns text
language plpgsql stable
set search_path = ''
as $$
declare
  k text;
begin
  k := pg_catalog.btrim(pg_catalog.pg_read_file('sfp_vault_root.key'), E' \n\r\t');
  if k is null or pg_catalog.length(k) < 64 then
    raise exception 'vault root key file sfp_vault_root.key is missing or too short'
      using errcode = '58P01';
  end if;
  return k;
end
$$;
revoke all on function vault._root_key() from public;

create or replace function vault._secret_key(key_id uuid) returns text
language sql stable
set search_path = ''
as $$
  select pg_catalog.encode(
    extensions.hmac(coalesce(key_id::text, ''), vault._root_key(), 'sha256'), 'hex')
$$;
revoke all on function vault._secret_key(uuid) from public;

create or replace function vault._encrypt(plaintext text, key_id uuid) returns text
language sql volatile
set search_path = ''
as $$
  select pg_catalog.encode(
    extensions.pgp_sym_encrypt(plaintext, vault._secret_key(key_id),
      'cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256, compress-algo=0'),
    'base64')
$$;
revoke all on function vault._encrypt(text, uuid) from public;

-- _decrypt runs as its owner so the view below can read the key file on
-- behalf of the roles allowed to select from it (postgres, service_role).
create or replace function vault._decrypt(ciphertext text, key_id uuid) returns text
language sql stable
security definer
set search_path = ''
as $$
  select extensions.pgp_sym_decrypt(pg_catalog.decode(ciphertext, 'base64'), vault._secret_key(key_id))
$$;
revoke all on function vault._decrypt(text, uuid) from public;
grant execute on function vault._decrypt(text, uuid) to postgres, service_role;

create or replace function vault.create_secret(
  new_secret text,
  new_name text default null,
  new_description text default '',
  new_key_id uuid default null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  rec record;
  kid uuid := coalesce(new_key_id, gen_random_uuid());
begin
  if new_secret is null then
    raise exception 'vault.create_secret: secret must not be null' using errcode = '22004';
  end if;
  insert into vault.secrets (secret, name, description, key_id)
  values (vault._encrypt(new_secret, kid), new_name, coalesce(new_description, ''), kid)
  returning * into rec;
  return rec.id;
end
$$;
revoke all on function vault.create_secret(text, text, text, uuid) from public;
grant execute on function vault.create_secret(text, text, text, uuid) to postgres, service_role;

create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text default null,
  new_name text default null,
  new_description text default null,
  new_key_id uuid default null
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  cur record;
  kid uuid;
  plain text;
begin
  select * into cur from vault.secrets where id = secret_id for update;
  if not found then
    raise exception 'vault.update_secret: no secret with id %', secret_id using errcode = 'P0002';
  end if;
  kid := coalesce(new_key_id, cur.key_id);
  plain := coalesce(new_secret, vault._decrypt(cur.secret, cur.key_id));
  update vault.secrets set
    secret = vault._encrypt(plain, kid),
    key_id = kid,
    name = coalesce(new_name, cur.name),
    description = coalesce(new_description, cur.description),
    updated_at = current_timestamp
  where id = secret_id;
end
$$;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public;
grant execute on function vault.update_secret(uuid, text, text, text, uuid) to postgres, service_role;

create or replace view vault.decrypted_secrets as
select s.id,
       s.name,
       s.description,
       s.secret,
       vault._decrypt(s.secret, s.key_id) as decrypted_secret,
       s.key_id,
       s.nonce,
       s.created_at,
       s.updated_at
from vault.secrets s;
revoke all on vault.decrypted_secrets from public;
grant select on vault.decrypted_secrets to postgres, service_role;
