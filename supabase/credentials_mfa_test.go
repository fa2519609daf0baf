package supabase_test

import (
	"testing"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// TestCredentialsRequireAAL2WhenEnrolled checks the aal2 rule of
// 20261207000500_credentials_require_aal2.sql: an owner with a verified MFA
// factor reads and writes credentials only with an aal2 token; an owner
// without one, and service_role, are not affected; a refused read is not
// logged.
func TestCredentialsRequireAAL2WhenEnrolled(t *testing.T) {
	db := newFixtureDB(t)
	ownerAAL1, ownerAAL2 := user(accA.Owner), user(accA.Owner)
	ownerAAL2["aal"] = "aal2"

	// No factor yet: aal1 is enough.
	mustQuery(t, db, ownerAAL1, nil, `select public.set_integration_credentials($1, '{"token": "t1"}')`, accA.Integration)

	// An unverified factor changes nothing: enrolment is not finished.
	db.Exec(t, `insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
		values ('0c3a4b5e-0000-4000-8000-000000000001', '`+accA.Owner+`', 'app', 'totp', 'unverified', now(), now(), 'S')`)
	mustQuery(t, db, ownerAAL1, nil, `select public.get_integration_credentials($1)`, accA.Integration)

	var logged, after int
	adminScan(t, db, &logged, `select count(*) from public.credential_access_log`)
	db.Exec(t, `update auth.mfa_factors set status = 'verified' where id = '0c3a4b5e-0000-4000-8000-000000000001'`)
	for _, call := range []struct{ what, sql string }{
		{"read", `select public.get_integration_credentials($1)`},
		{"write", `select public.set_integration_credentials($1, '{"token": "t2"}')`},
	} {
		wantState(t, "owner at aal1 "+call.what, query(t, db, ownerAAL1, nil, call.sql, accA.Integration), "42501", "aal2")
		noAAL := user(accA.Owner)
		delete(noAAL, "aal")
		wantState(t, "owner without aal claim "+call.what, query(t, db, noAAL, nil, call.sql, accA.Integration), "42501", "aal2")
	}
	adminScan(t, db, &after, `select count(*) from public.credential_access_log`)
	if after != logged {
		t.Fatalf("refused calls were logged: %d entries before, %d after", logged, after)
	}

	mustQuery(t, db, ownerAAL2, nil, `select public.set_integration_credentials($1, '{"token": "t3"}')`, accA.Integration)
	for _, c := range []pgtest.Claims{ownerAAL2, pgtest.Service()} {
		var got map[string]any
		mustQuery(t, db, c, &got, `select public.get_integration_credentials($1)`, accA.Integration)
		if got["token"] != "t3" {
			t.Fatalf("%v read %v", c["aal"], got)
		}
	}
	// A member at aal2 is still not an owner.
	member := user(accA.Member)
	member["aal"] = "aal2"
	wantState(t, "member at aal2", query(t, db, member, nil, `select public.get_integration_credentials($1)`, accA.Integration), "42501", "owner role")
}
