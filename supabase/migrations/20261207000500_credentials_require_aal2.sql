-- Credential reads and writes by a person need a second factor once that
-- person has enrolled one: an example of requiring aal2 (GoTrue's
-- authenticator assurance level, the "aal" claim of the access token) for
-- the most sensitive operation of the schema.
--
-- The rule: a caller that is not privileged (not service_role, not a
-- superuser or BYPASSRLS role) and whose user (auth.uid()) has at least one
-- verified MFA factor in auth.mfa_factors must present an access token
-- whose aal claim is 'aal2' to call set_integration_credentials or
-- get_integration_credentials. Users without a verified factor are not
-- affected (MFA stays opt-in per user), nor are workers and the server
-- (service_role). It is Supabase's documented pattern for enforcing MFA on
-- enrolled users only.

create or replace function sfp_private.require_aal2_if_enrolled(action text) returns void
language plpgsql stable
security definer
set search_path = ''
as $$
begin
  if sfp_private.caller_is_privileged() then
    return;
  end if;
  if exists (select 1 from auth.mfa_factors f where f.user_id = auth.uid() and f.status = 'verified')
     and coalesce(auth.jwt() ->> 'aal', '') <> 'aal2' then
    raise exception '% integration credentials requires a second factor (aal2): this user has enrolled one', action
      using errcode = '42501',
            hint = 'verify the TOTP factor (sfp login asks for the code) and call again with the aal2 access token';
  end if;
end
$$;
revoke all on function sfp_private.require_aal2_if_enrolled(text) from public, anon, authenticated, service_role;
comment on function sfp_private.require_aal2_if_enrolled(text) is
  'Raises 42501 when the caller is a user with a verified MFA factor whose access token is not aal2; service_role and privileged roles pass. action names the operation in the message.';

create or replace function public.set_integration_credentials(integration_id uuid, credentials jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
  sealed bytea;
begin
  acc := sfp_private.credentials_access(integration_id, 'writing');
  perform sfp_private.require_aal2_if_enrolled('writing');
  if credentials is null or pg_catalog.jsonb_typeof(credentials) <> 'object' then
    raise exception 'credentials must be a JSON object' using errcode = '22023';
  end if;
  sealed := extensions.pgp_sym_encrypt(credentials::text, sfp_private.credentials_key(),
                                       'cipher-algo=aes256, compress-algo=0');
  insert into public.integration_credentials as c (integration_id, account_id, ciphertext, updated_by)
  values (set_integration_credentials.integration_id, acc, sealed, auth.uid())
  on conflict on constraint integration_credentials_pkey do update
    set ciphertext = excluded.ciphertext, key_name = excluded.key_name,
        updated_at = pg_catalog.now(), updated_by = excluded.updated_by;
  update public.integrations i set credentials_updated_at = pg_catalog.now()
  where i.id = set_integration_credentials.integration_id;
  perform sfp_private.log_credential_access(acc, integration_id, 'write');
end
$$;
revoke all on function public.set_integration_credentials(uuid, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.set_integration_credentials(uuid, jsonb) to authenticated, service_role;
comment on function public.set_integration_credentials(uuid, jsonb) is
  'Encrypts and stores an integration''s credentials (a JSON object), replacing any previous ones, and logs a write. For owners of the account and service_role; an owner who has enrolled a verified MFA factor must call with an aal2 access token. Errors: 42501 anyone else or an enrolled owner at aal1, PT404 unknown integration (service_role), 22023 not a JSON object, 55000 key not initialised (call init_credentials_key).';

create or replace function public.get_integration_credentials(integration_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  acc uuid;
  sealed bytea;
begin
  acc := sfp_private.credentials_access(integration_id, 'reading');
  perform sfp_private.require_aal2_if_enrolled('reading');
  select c.ciphertext into sealed from public.integration_credentials c
  where c.integration_id = get_integration_credentials.integration_id;
  perform sfp_private.log_credential_access(acc, integration_id, 'read');
  if sealed is null then
    return null;
  end if;
  return extensions.pgp_sym_decrypt(sealed, sfp_private.credentials_key())::jsonb;
end
$$;
revoke all on function public.get_integration_credentials(uuid) from public, anon, authenticated, service_role;
grant execute on function public.get_integration_credentials(uuid) to authenticated, service_role;
comment on function public.get_integration_credentials(uuid) is
  'Decrypts and returns an integration''s credentials (JSON object; null when none are set) and logs a read. For service_role (workers) and owners of the account; an owner who has enrolled a verified MFA factor must call with an aal2 access token. Members, viewers, everyone else and an enrolled owner at aal1 get 42501. Errors: PT404 unknown integration (service_role).';

notify pgrst, 'reload schema';
