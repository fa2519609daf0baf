-- Test fixture: two accounts, A and B, each with an owner, a member, a
-- viewer and a second member ("extra"), and one row of every tenant table;
-- plus a user who belongs to no account. Loaded as supabase_admin by the Go
-- tests (supabase/*_test.go), which address the rows by these fixed ids.
--
--   users     aaaaaaaa-0000-0000-0000-00000000000{1 owner, 2 member, 3 viewer, 4 extra}
--             bbbbbbbb-0000-0000-0000-00000000000{1..4} likewise for B
--             eeeeeeee-0000-0000-0000-000000000001 outsider
--   account   a0000000-0000-0000-0000-000000000000 (A), b0000000-… (B)
--   rows      <x>1… project, <x>2… environment, <x>3… build, <x>4… release,
--             <x>5… deployment, <x>6… allocation, <x>7… task, <x>8… integration
--             where <x> is a or b and the rest of the id is zeros.

insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', u.id::uuid, 'authenticated', 'authenticated', u.email, '',
       now(), '{"provider":"email","providers":["email"]}', '{}', now(), now()
from (values
  ('aaaaaaaa-0000-0000-0000-000000000001', 'owner.a@example.test'),
  ('aaaaaaaa-0000-0000-0000-000000000002', 'member.a@example.test'),
  ('aaaaaaaa-0000-0000-0000-000000000003', 'viewer.a@example.test'),
  ('aaaaaaaa-0000-0000-0000-000000000004', 'extra.a@example.test'),
  ('bbbbbbbb-0000-0000-0000-000000000001', 'owner.b@example.test'),
  ('bbbbbbbb-0000-0000-0000-000000000002', 'member.b@example.test'),
  ('bbbbbbbb-0000-0000-0000-000000000003', 'viewer.b@example.test'),
  ('bbbbbbbb-0000-0000-0000-000000000004', 'extra.b@example.test'),
  ('eeeeeeee-0000-0000-0000-000000000001', 'Outsider@Example.test')
) u (id, email);

insert into public.accounts (id, name, slug, created_by) values
  ('a0000000-0000-0000-0000-000000000000', 'Account A', 'account-a', 'aaaaaaaa-0000-0000-0000-000000000001'),
  ('b0000000-0000-0000-0000-000000000000', 'Account B', 'account-b', 'bbbbbbbb-0000-0000-0000-000000000001');

insert into public.accounts_memberships (account_id, user_id, account_role)
select a.id::uuid, (a.prefix || '-0000-0000-0000-00000000000' || r.n)::uuid, r.role::public.account_role
from (values ('a0000000-0000-0000-0000-000000000000', 'aaaaaaaa'),
             ('b0000000-0000-0000-0000-000000000000', 'bbbbbbbb')) a (id, prefix)
cross join (values (1, 'owner'), (2, 'member'), (3, 'viewer'), (4, 'member')) r (n, role);

-- One row of each table per account.
insert into public.projects (id, account_id, identifier, platform, remote_url)
values ('a1000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'org-a/repo', 'github', 'https://github.com/org-a/repo.git'),
       ('b1000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'org-b/project/repo', 'azure_devops', 'https://dev.azure.com/org-b/project/_git/repo');

insert into public.environments (id, account_id, project_id, name, category, branch, tags, metadata)
values ('a2000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000', 'uat', 'sandbox', 'main', '{ci}', '{"instance": "a"}'),
       ('b2000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000', 'uat', 'sandbox', 'main', '{ci}', '{"instance": "b"}');

insert into public.builds (id, account_id, project_id, build_number, status)
values ('a3000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000', '1', 'succeeded'),
       ('b3000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000', '1', 'succeeded');

insert into public.releases (id, account_id, project_id, name, definition)
values ('a4000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000', 'main', '{"packages": ["core"]}'),
       ('b4000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000', 'main', '{"packages": ["core"]}');

insert into public.deployments (id, account_id, project_id, environment_id, release_id, build_id, status)
values ('a5000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000',
        'a2000000-0000-0000-0000-000000000000', 'a4000000-0000-0000-0000-000000000000', 'a3000000-0000-0000-0000-000000000000', 'running'),
       ('b5000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000',
        'b2000000-0000-0000-0000-000000000000', 'b4000000-0000-0000-0000-000000000000', 'b3000000-0000-0000-0000-000000000000', 'running');

insert into public.environment_allocations (id, account_id, project_id, environment_id, status, lease, granted_at, expires_at, reason)
values ('a6000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000',
        'a2000000-0000-0000-0000-000000000000', 'active', '1 day', now(), now() + interval '1 day', 'fixture'),
       ('b6000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000',
        'b2000000-0000-0000-0000-000000000000', 'active', '1 day', now(), now() + interval '1 day', 'fixture');

insert into public.task_executions (id, account_id, project_id, resource_type, resource_id, kind, status)
values ('a7000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000',
        'deployment', 'a5000000-0000-0000-0000-000000000000', 'deploy', 'running'),
       ('b7000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'b1000000-0000-0000-0000-000000000000',
        'deployment', 'b5000000-0000-0000-0000-000000000000', 'deploy', 'running');

insert into public.integrations (id, account_id, name, provider, auth_type, metadata)
values ('a8000000-0000-0000-0000-000000000000', 'a0000000-0000-0000-0000-000000000000', 'github', 'github', 'token', '{"org": "org-a"}'),
       ('b8000000-0000-0000-0000-000000000000', 'b0000000-0000-0000-0000-000000000000', 'github', 'github', 'token', '{"org": "org-b"}');

-- As supabase_admin (a privileged caller): create the key and store
-- credentials, which also writes credential_access_log.
select public.init_credentials_key();
select public.set_integration_credentials('a8000000-0000-0000-0000-000000000000', '{"token": "fixture-secret-a"}');
select public.set_integration_credentials('b8000000-0000-0000-0000-000000000000', '{"token": "fixture-secret-b"}');

insert into public.documents (account_id, collection, key, data)
values ('a0000000-0000-0000-0000-000000000000', 'notes', 'hello', '{"text": "a"}'),
       ('b0000000-0000-0000-0000-000000000000', 'notes', 'hello', '{"text": "b"}');
insert into public.build_manifests (account_id, collection, key, data)
values ('a0000000-0000-0000-0000-000000000000', 'build_manifests', 'build-1', '{"packages": []}'),
       ('b0000000-0000-0000-0000-000000000000', 'build_manifests', 'build-1', '{"packages": []}');
insert into public.changelogs (account_id, collection, key, data)
values ('a0000000-0000-0000-0000-000000000000', 'changelogs', 'release-1', '{"changes": []}'),
       ('b0000000-0000-0000-0000-000000000000', 'changelogs', 'release-1', '{"changes": []}');

-- A route without documents, which service_role may change or remove.
insert into public.document_stores (collection, table_name, description)
values ('scratch', 'documents', 'fixture route');
