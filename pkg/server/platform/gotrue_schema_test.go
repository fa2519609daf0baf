package platform_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// imageAuthVersions are the versions the supabase/postgres image records in
// auth.schema_migrations for the auth schema it creates itself
// (migrations/db/init-scripts/00000000000001-auth-schema.sql).
var imageAuthVersions = []string{
	"20171026211738", "20171026211808", "20171026211834", "20180103212743", "20180108183307",
	"20180119214651", "20180125194653",
}

// gotrueMigrations are the migrations of supabase/auth v2.196.0 (the
// migrations/ folder of that tag, listed with git ls-tree), each with
// probes of what it leaves in the schema: once its version is recorded,
// GoTrue's migrate never runs it, so the platform SQL must have created
// that already. A probe is kind:object —
//
//	table:auth.t  column:auth.t.c  nocolumn:auth.t.c  index:auth.i
//	constraint:auth.t.name  noconstraint:auth.t.name  type:auth.t
//	label:auth.type.label  function:auth.f  notable:auth.t  rls:auth.t
//	grantoption:auth.t (postgres may grant select)  pk:auth.t.column
//
// Data backfills (20221125140132, 20221208132122, 20230131181311) have
// nothing to probe in a fresh schema but the columns they write.
var gotrueMigrations = []struct {
	version string
	probes  []string
}{
	{"00", []string{"table:auth.users", "table:auth.refresh_tokens", "table:auth.instances", "table:auth.audit_log_entries",
		"table:auth.schema_migrations", "constraint:auth.users.users_id_key", "index:auth.users_instance_id_idx", "function:auth.uid"}},
	{"20210710035447", []string{"column:auth.users.phone", "column:auth.users.phone_change_sent_at", "column:auth.users.email_confirmed_at",
		"constraint:auth.users.users_phone_key"}},
	{"20210722035447", []string{"column:auth.users.confirmed_at"}},
	{"20210730183235", []string{"column:auth.users.email_change_token_current", "column:auth.users.email_change_token_new",
		"constraint:auth.users.users_email_change_confirm_status_check"}},
	{"20210909172000", []string{"table:auth.identities", "constraint:auth.identities.identities_user_id_fkey"}},
	{"20210927181326", []string{"column:auth.refresh_tokens.parent", "constraint:auth.refresh_tokens.refresh_tokens_token_unique",
		"index:auth.refresh_tokens_parent_idx"}},
	{"20211122151130", []string{"index:auth.identities_user_id_idx"}},
	{"20211124214934", []string{"function:auth.email", "function:auth.role"}},
	{"20211202183645", []string{"function:auth.uid"}},
	{"20220114185221", []string{"index:auth.users_instance_id_email_idx"}},
	{"20220114185340", []string{"column:auth.users.banned_until"}},
	{"20220224000811", []string{"function:auth.uid"}},
	{"20220323170000", []string{"column:auth.users.reauthentication_token", "column:auth.users.reauthentication_sent_at"}},
	{"20220429102000", []string{"index:auth.confirmation_token_idx", "index:auth.recovery_token_idx", "index:auth.email_change_token_current_idx",
		"index:auth.email_change_token_new_idx", "index:auth.reauthentication_token_idx"}},
	{"20220531120530", []string{"function:auth.jwt"}},
	{"20220614074223", []string{"column:auth.audit_log_entries.ip_address"}},
	{"20220811173540", []string{"table:auth.sessions", "column:auth.refresh_tokens.session_id", "constraint:auth.refresh_tokens.refresh_tokens_session_id_fkey"}},
	{"20221003041349", []string{"type:auth.factor_type", "type:auth.factor_status", "type:auth.aal_level", "table:auth.mfa_factors",
		"table:auth.mfa_challenges", "table:auth.mfa_amr_claims", "index:auth.mfa_factors_user_friendly_name_unique"}},
	{"20221003041400", []string{"column:auth.sessions.factor_id", "column:auth.sessions.aal"}},
	{"20221011041400", []string{"column:auth.mfa_amr_claims.id", "constraint:auth.mfa_amr_claims.amr_id_pk", "index:auth.user_id_created_at_idx",
		"index:auth.factor_id_created_at_idx"}},
	{"20221020193600", []string{"index:auth.sessions_user_id_idx"}},
	{"20221021073300", []string{"index:auth.refresh_tokens_session_id_revoked_idx"}},
	{"20221021082433", []string{"table:auth.sso_providers", "table:auth.sso_domains", "table:auth.saml_providers", "table:auth.saml_relay_states",
		"index:auth.sso_providers_resource_id_idx", "index:auth.sso_domains_domain_idx", "index:auth.saml_relay_states_for_email_idx"}},
	{"20221027105023", []string{"index:auth.identities_user_id_idx"}},
	{"20221114143122", []string{"column:auth.sessions.not_after"}},
	{"20221114143410", []string{"noconstraint:auth.refresh_tokens.refresh_tokens_parent_fkey"}},
	{"20221125140132", []string{"column:auth.identities.identity_data"}},
	{"20221208132122", []string{"column:auth.identities.last_sign_in_at"}},
	{"20221215195500", []string{"column:auth.users.is_sso_user", "noconstraint:auth.users.users_email_key", "index:auth.users_email_partial_key"}},
	{"20221215195800", []string{"column:auth.identities.email", "index:auth.identities_email_idx"}},
	{"20221215195900", []string{"notable:auth.sso_sessions"}},
	{"20230116124310", []string{"coltype:auth.users.phone.text", "coltype:auth.users.phone_change.text"}},
	{"20230116124412", []string{"column:auth.users.deleted_at"}},
	{"20230131181311", []string{"column:auth.users.invited_at"}},
	{"20230322519590", []string{"type:auth.code_challenge_method", "table:auth.flow_state", "index:auth.idx_auth_code"}},
	{"20230402418590", []string{"column:auth.flow_state.authentication_method", "index:auth.idx_user_id_auth_method"}},
	{"20230411005111", []string{"noindex:auth.refresh_tokens_token_idx"}},
	{"20230508135423", []string{"index:auth.refresh_tokens_updated_at_idx", "index:auth.flow_state_created_at_idx",
		"index:auth.saml_relay_states_created_at_idx", "index:auth.sessions_not_after_idx"}},
	{"20230523124323", []string{"index:auth.mfa_challenge_created_at_idx"}},
	{"20230818113222", []string{"column:auth.saml_relay_states.flow_state_id"}},
	{"20230914180801", []string{"index:auth.mfa_factors_user_id_idx"}},
	{"20231027141322", []string{"column:auth.sessions.refreshed_at", "column:auth.sessions.user_agent", "column:auth.sessions.ip"}},
	{"20231114161723", []string{"column:auth.sessions.tag"}},
	{"20231117164230", []string{"column:auth.identities.provider_id", "pk:auth.identities.id",
		"constraint:auth.identities.identities_provider_id_provider_unique"}},
	{"20240115144230", []string{"nocolumn:auth.saml_relay_states.from_ip_address"}},
	{"20240214120130", []string{"column:auth.users.is_anonymous", "index:auth.users_is_anonymous_idx"}},
	{"20240306115329", []string{"column:auth.flow_state.auth_code_issued_at"}},
	{"20240314092811", []string{"column:auth.saml_providers.name_id_format"}},
	{"20240427152123", []string{"type:auth.one_time_token_type", "table:auth.one_time_tokens", "index:auth.one_time_tokens_token_hash_hash_idx",
		"index:auth.one_time_tokens_user_id_token_type_key"}},
	{"20240612123726", []string{"rls:auth.users", "rls:auth.identities", "rls:auth.one_time_tokens", "rls:auth.schema_migrations",
		"grantoption:auth.users", "grantoption:auth.flow_state"}},
	{"20240729123726", []string{"label:auth.factor_type.phone", "column:auth.mfa_factors.phone", "column:auth.mfa_challenges.otp_code"}},
	{"20240802193726", []string{"column:auth.mfa_factors.last_challenged_at", "constraint:auth.mfa_factors.mfa_factors_last_challenged_at_key"}},
	{"20240806073726", []string{"noconstraint:auth.mfa_factors.mfa_factors_phone_key", "index:auth.unique_phone_factor_per_user",
		"noindex:auth.unique_verified_phone_factor"}},
	{"20241009103726", []string{"column:auth.mfa_factors.web_authn_credential", "column:auth.mfa_factors.web_authn_aaguid",
		"column:auth.mfa_challenges.web_authn_session_data"}},
	{"20250717082212", []string{"column:auth.sso_providers.disabled", "index:auth.sso_providers_resource_id_pattern_idx"}},
	{"20250731150234", []string{"type:auth.oauth_registration_type", "table:auth.oauth_clients", "index:auth.oauth_clients_deleted_at_idx"}},
	{"20250804100000", []string{"table:auth.oauth_authorizations", "table:auth.oauth_consents", "type:auth.oauth_authorization_status",
		"index:auth.oauth_auth_pending_exp_idx", "index:auth.oauth_consents_user_order_idx"}},
	{"20250901200500", []string{"type:auth.oauth_client_type", "column:auth.oauth_clients.client_type"}},
	{"20250903112500", []string{"nocolumn:auth.oauth_clients.client_id", "noindex:auth.oauth_clients_client_id_idx"}},
	{"20250904133000", []string{"column:auth.sessions.oauth_client_id", "constraint:auth.sessions.sessions_oauth_client_id_fkey",
		"index:auth.sessions_oauth_client_id_idx"}},
	{"20250925093508", []string{"column:auth.mfa_factors.last_webauthn_challenge_data"}},
	{"20251007112900", []string{"column:auth.sessions.refresh_token_hmac_key", "column:auth.sessions.refresh_token_counter"}},
	{"20251104100000", []string{"column:auth.oauth_authorizations.nonce", "constraint:auth.oauth_authorizations.oauth_authorizations_nonce_length"}},
	{"20251111201300", []string{"column:auth.sessions.scopes", "constraint:auth.sessions.sessions_scopes_length"}},
	{"20251201000000", []string{"table:auth.oauth_client_states", "index:auth.idx_oauth_client_states_created_at"}},
	{"20260115000000", []string{"column:auth.flow_state.invite_token", "column:auth.flow_state.linking_target_id",
		"column:auth.flow_state.email_optional", "nullable:auth.flow_state.auth_code"}},
	{"20260121000000", []string{"column:auth.oauth_clients.token_endpoint_auth_method"}},
	{"20260219120000", []string{"table:auth.custom_oauth_providers", "constraint:auth.custom_oauth_providers.custom_oauth_providers_identifier_format"}},
	{"20260302000000", []string{"table:auth.webauthn_credentials", "table:auth.webauthn_challenges",
		"index:auth.webauthn_credentials_credential_id_key"}},
	{"20260625000000", []string{"column:auth.custom_oauth_providers.custom_claims_allowlist"}},
}

// probeSQL turns a probe into a query returning one boolean.
func probeSQL(probe string) (string, []any, error) {
	kind, obj, ok := strings.Cut(probe, ":")
	parts := strings.Split(obj, ".")
	if !ok || len(parts) < 2 || parts[0] != "auth" {
		return "", nil, fmt.Errorf("bad probe %q", probe)
	}
	rel := "auth." + parts[1]
	switch kind {
	case "table":
		return `select to_regclass($1) is not null`, []any{rel}, nil
	case "notable", "noindex":
		return `select to_regclass($1) is null`, []any{rel}, nil
	case "index":
		return `select exists (select 1 from pg_indexes where schemaname = 'auth' and indexname = $1)`, []any{parts[1]}, nil
	case "type":
		return `select to_regtype($1) is not null`, []any{rel}, nil
	case "function":
		return `select exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth' and p.proname = $1)`, []any{parts[1]}, nil
	case "rls":
		return `select relrowsecurity from pg_class where oid = to_regclass($1)`, []any{rel}, nil
	case "grantoption":
		return `select has_table_privilege('postgres', $1, 'select with grant option')`, []any{rel}, nil
	}
	if len(parts) < 3 {
		return "", nil, fmt.Errorf("probe %q needs a table and a name", probe)
	}
	name := parts[2]
	const column = `select exists (select 1 from information_schema.columns where table_schema = 'auth' and table_name = $1 and column_name = $2`
	const constraint = `select exists (select 1 from pg_constraint where conrelid = to_regclass($1) and conname = $2)`
	switch kind {
	case "column":
		return column + `)`, []any{parts[1], name}, nil
	case "nocolumn":
		return `select not ` + strings.TrimPrefix(column, "select ") + `)`, []any{parts[1], name}, nil
	case "nullable":
		return column + ` and is_nullable = 'YES')`, []any{parts[1], name}, nil
	case "coltype":
		return column + ` and data_type = $3)`, []any{parts[1], name, parts[3]}, nil
	case "constraint":
		return constraint, []any{rel, name}, nil
	case "noconstraint":
		return `select not ` + strings.TrimPrefix(constraint, "select "), []any{rel, name}, nil
	case "pk":
		return `select exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
			where i.indrelid = to_regclass($1) and i.indisprimary and a.attname = $2)`, []any{rel, name}, nil
	case "label":
		return `select exists (select 1 from pg_enum e where e.enumtypid = to_regtype($1) and e.enumlabel = $2)`, []any{rel, name}, nil
	}
	return "", nil, fmt.Errorf("unknown probe kind in %q", probe)
}

// TestGoTrueSchemaMigrations checks that auth.schema_migrations records
// exactly the image's versions and GoTrue v2.196.0's, and that what each
// recorded GoTrue migration creates (or removes) is so in the platform's
// auth schema — so GoTrue's migrate over the tenant changes nothing and
// leaves nothing missing.
func TestGoTrueSchemaMigrations(t *testing.T) {
	db := pgtest.NewDB(t)
	admin := db.Admin(t)
	ctx := context.Background()
	rows, err := admin.Query(ctx, `select version from auth.schema_migrations order by version`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	rows.Close()
	want := slices.Clone(imageAuthVersions)
	for _, m := range gotrueMigrations {
		want = append(want, m.version)
	}
	slices.Sort(want)
	if len(gotrueMigrations) != 70 {
		t.Fatalf("the test lists %d GoTrue migrations; v2.196.0 has 70", len(gotrueMigrations))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("auth.schema_migrations\n got  %v\n want %v", got, want)
	}
	for _, m := range gotrueMigrations {
		for _, p := range m.probes {
			q, args, err := probeSQL(p)
			if err != nil {
				t.Fatal(err)
			}
			var ok *bool
			if err := admin.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
				t.Fatalf("%s %s: %v", m.version, p, err)
			}
			if ok == nil || !*ok {
				t.Errorf("migration %s is recorded but %s does not hold", m.version, p)
			}
		}
	}
}
