package rest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// roleSettingSQL sets a pgrst.* setting on authenticator for the test's
// database only (the role is shared by every database of the cluster).
func roleSettingSQL(name, value string) string {
	return `do $$ begin execute format('alter role authenticator in database %I set ` + name + ` = %L', current_database(), '` + value + `'); end $$`
}

// TestInDatabaseConfig: pgrst.* settings on the authenticator role,
// reloaded on NOTIFY pgrst, 'reload config', and a db_pre_config function
// overriding them, for the settings the embedded server has.
func TestInDatabaseConfig(t *testing.T) {
	e := newEnv(t, filmsSQL, `
		create schema extra;
		grant usage on schema extra to anon, authenticated, service_role;
		create function public.check_request() returns void language plpgsql stable as $$
		begin
		  if current_setting('request.headers', true)::json->>'x-block' = 'yes' then
		    raise sqlstate 'PT403' using message = 'blocked by the pre-request';
		  end if;
		end $$;
		create function public.pre_config() returns void language sql as $$
		  select set_config('pgrst.db_max_rows', '3', true), set_config('pgrst.db_aggregates_enabled', 'false', true)
		$$;`)
	e.do("GET", "/orders?select=amount.sum()", e.anon, "").expectErr(t, "aggregates off by default", 400, codeAggregates)

	e.db.Exec(t, roleSettingSQL("pgrst.db_aggregates_enabled", "true"))
	e.db.Exec(t, roleSettingSQL("pgrst.db_max_rows", "2"))
	e.db.Exec(t, roleSettingSQL("pgrst.db_extra_search_path", "public, extra"))
	e.db.Exec(t, roleSettingSQL("pgrst.db_pre_request", "public.check_request"))
	e.db.Exec(t, roleSettingSQL("pgrst.jwt_secret", "ignored-by-the-embedded-server"))
	// Not applied until reloaded.
	e.do("GET", "/orders?select=amount.sum()", e.anon, "").expectErr(t, "before the reload", 400, codeAggregates)
	e.db.Exec(t, `notify pgrst, 'reload config'`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do("GET", "/orders?select=amount.sum()", e.anon, "")
		if r.status == 200 {
			r.expect(t, "aggregates from the role's setting", 200, `[{"sum":143.50}]`)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("configuration was not reloaded: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := ids(t, e.do("GET", "/films?order=id", e.anon, "")); len(got) != 2 {
		t.Errorf("db_max_rows 2: %v", got)
	}
	e.do("GET", "/films?select=id&id=eq.1", e.anon, "", "X-Block", "yes").expectErr(t, "pre-request", 403, "PT403")
	e.do("GET", "/films?select=id&id=eq.1", e.anon, "").expect(t, "pre-request passes", 200, `[{"id":1}]`)
	r := e.do("POST", "/rpc/whoami", e.anon, "{}")
	if m, ok := r.json(t).(map[string]any); !ok || m["search_path"] != `"public", "extra"` {
		t.Errorf("extra search path: %s", r.body)
	}

	// db_pre_config's set_config calls win over the role's settings.
	e.db.Exec(t, roleSettingSQL("pgrst.db_pre_config", "public.pre_config"))
	if err := e.srv.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, e.do("GET", "/films?order=id", e.anon, "")); len(got) != 3 {
		t.Errorf("db_max_rows 3 from db_pre_config: %v", got)
	}
	e.do("GET", "/orders?select=amount.sum()", e.anon, "").expectErr(t, "aggregates off from db_pre_config", 400, codeAggregates)

	// A bad value is ignored, the rest applies; a missing function fails the reload.
	e.db.Exec(t, roleSettingSQL("pgrst.db_pre_config", ""))
	e.db.Exec(t, roleSettingSQL("pgrst.db_max_rows", "many"))
	if err := e.srv.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, e.do("GET", "/films?order=id", e.anon, "")); len(got) != 4 {
		t.Errorf("bad db_max_rows ignored (Config's 1000 applies): %v", got)
	}
	e.db.Exec(t, roleSettingSQL("pgrst.db_pre_config", "public.nope"))
	if err := e.srv.ReloadConfig(context.Background()); err == nil || !strings.Contains(err.Error(), "public.nope") {
		t.Errorf("missing pre-config function: %v", err)
	}
}

// TestInDatabaseConfigBrokenAtStart: a failing db_pre_config function
// does not keep the server from starting; Config applies until a reload
// succeeds.
func TestInDatabaseConfigBrokenAtStart(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.MaxRows = 2 }, filmsSQL, roleSettingSQL("pgrst.db_pre_config", "public.missing_function"),
		roleSettingSQL("pgrst.db_max_rows", "3"))
	if got := ids(t, e.do("GET", "/films?order=id", e.anon, "")); len(got) != 2 {
		t.Errorf("Config's MaxRows while the configuration is broken: %v", got)
	}
	e.db.Exec(t, roleSettingSQL("pgrst.db_pre_config", ""))
	if err := e.srv.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, e.do("GET", "/films?order=id", e.anon, "")); len(got) != 3 {
		t.Errorf("the role's db_max_rows once reloaded: %v", got)
	}
}
