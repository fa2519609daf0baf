package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	postgrest "github.com/supabase-community/postgrest-go"

	"github.com/sfp-dev/sfp/pkg/server/gateway"
)

// Users of the tenant-schema tests.
const (
	uidOwner    = "10000000-0000-0000-0000-000000000001"
	uidMember   = "10000000-0000-0000-0000-000000000002"
	uidStranger = "10000000-0000-0000-0000-000000000003"
)

// withGateway puts the repository's kong.yml gateway in front of the REST
// server (upstream host "rest"), as the embedded runtime does.
func withGateway(t *testing.T, e *env) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	kong := filepath.Join(filepath.Dir(file), "..", "..", "..", "kong.yml")
	cfg, err := gateway.Load(kong, map[string]string{
		"SUPABASE_ANON_KEY":    e.anon,
		"SUPABASE_SERVICE_KEY": e.svc,
		"DASHBOARD_USERNAME":   "admin",
		"DASHBOARD_PASSWORD":   "not-used-here",
	})
	if err != nil {
		t.Fatalf("load kong.yml: %v", err)
	}
	gw, err := gateway.New(cfg, gateway.Options{Upstreams: map[string]http.Handler{"rest": e.srv}})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	hs := httptest.NewServer(gw)
	t.Cleanup(hs.Close)
	return hs.URL
}

// gw sends a request through the gateway with an apikey and, when token
// is not "", the user's own bearer token.
func (e *env) gw(base, method, path, apikey, token, body string, headers ...string) *resp {
	e.t.Helper()
	h := append([]string{}, headers...)
	if apikey != "" {
		h = append(h, "apikey", apikey)
	}
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	return e.doAt(base, method, path, "", body, h...)
}

// TestTenantThroughGateway runs the main flows against the tenant schema
// (supabase/migrations) through the kong.yml gateway: accounts and
// projects as owner, member, a stranger, anon and service_role. RLS
// decides; the REST layer never does.
func TestTenantThroughGateway(t *testing.T) {
	db := newTenantDB(t)
	e := startEnv(t, db, nil)
	base := withGateway(t, e)
	owner, member, stranger := userJWT(uidOwner), userJWT(uidMember), userJWT(uidStranger)

	// Missing and wrong keys are refused by the gateway.
	r := e.gw(base, "GET", "/rest/v1/accounts", "", "", "")
	if r.status != 401 || !strings.Contains(string(r.body), "No API key found in request") {
		t.Fatalf("missing apikey: %d %s", r.status, r.body)
	}
	r = e.gw(base, "GET", "/rest/v1/accounts", "wrong", "", "")
	if r.status != 401 || !strings.Contains(string(r.body), `"Unauthorized"`) {
		t.Fatalf("wrong apikey: %d %s", r.status, r.body)
	}

	// The owner creates an account (the RPC makes the caller owner) and adds a member.
	r = e.gw(base, "POST", "/rest/v1/rpc/create_account", e.anon, owner, `{"name":"Acme","slug":"acme"}`)
	if r.status != 200 {
		t.Fatalf("create_account: %d %s", r.status, r.body)
	}
	account := strings.Trim(string(r.body), `"`)
	e.gw(base, "POST", "/rest/v1/rpc/add_account_member", e.anon, owner,
		`{"account_id":"`+account+`","user_id":"`+uidMember+`","account_role":"member"}`).expect(t, "add member", 200, "")
	e.gw(base, "POST", "/rest/v1/rpc/create_account", e.anon, "", `{"name":"Nope","slug":"nope"}`).
		expectErr(t, "anon cannot create an account", 401, "42501")

	// A member creates a project with the anon key as apikey and their own token.
	r = e.gw(base, "POST", "/rest/v1/projects?select=identifier,version,account:accounts(slug)", e.anon, member,
		`{"account_id":"`+account+`","identifier":"acme/api"}`, "Prefer", "return=representation")
	r.expect(t, "member creates a project", 201, `[{"identifier":"acme/api","version":1,"account":{"slug":"acme"}}]`)

	// Reads: RLS decides who sees what.
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", e.anon, owner, "").expect(t, "owner reads", 200, `[{"identifier":"acme/api"}]`)
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", e.anon, stranger, "").expect(t, "stranger reads nothing", 200, `[]`)
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", e.anon, "", "").expectErr(t, "anon has no grant", 401, "42501")
	e.gw(base, "GET", "/rest/v1/projects?select=identifier", e.svc, "", "").expect(t, "service role reads all", 200, `[{"identifier":"acme/api"}]`)
	e.gw(base, "GET", "/rest/v1/accounts?select=slug,accounts_memberships(account_role)&accounts_memberships.order=account_role",
		e.anon, member, "").expect(t, "member reads the account and memberships", 200,
		`[{"slug":"acme","accounts_memberships":[{"account_role":"member"},{"account_role":"owner"}]}]`)

	// Optimistic update: a stale version is PT409 (409).
	e.gw(base, "PATCH", "/rest/v1/projects?identifier=eq.acme/api", e.anon, member, `{"description":"x","version":7}`).
		expectErr(t, "stale version", 409, "PT409")
	e.gw(base, "PATCH", "/rest/v1/projects?identifier=eq.acme/api&select=version", e.anon, member, `{"description":"x","version":1}`,
		"Prefer", "return=representation").expect(t, "current version", 200, `[{"version":2}]`)

	// Only owners delete projects: a member's delete matches no row.
	e.gw(base, "DELETE", "/rest/v1/projects?identifier=eq.acme/api&select=identifier", e.anon, member, "", "Prefer", "return=representation").
		expect(t, "member cannot delete", 200, `[]`)
	e.gw(base, "DELETE", "/rest/v1/projects?identifier=eq.acme/api&select=identifier", e.anon, owner, "", "Prefer", "return=representation").
		expect(t, "owner deletes", 200, `[{"identifier":"acme/api"}]`)

	// JWT errors pass through the gateway untouched.
	r = e.gw(base, "GET", "/rest/v1/projects", e.anon, signJWT("wrong-secret-wrong-secret-wrong-secret!!", map[string]any{"role": "authenticated"}), "")
	r.expectErr(t, "bad signature through the gateway", 401, "PGRST301")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
		t.Errorf("WWW-Authenticate through the gateway: %q", r.header.Get("WWW-Authenticate"))
	}

	// postgrest-go through the gateway, with the apikey header.
	c := postgrest.NewClient(base+"/rest/v1", "public", map[string]string{"apikey": e.anon})
	c.SetAuthToken(owner)
	var accounts []struct {
		Slug string `json:"slug"`
	}
	if _, err := c.From("accounts").Select("slug", "", false).Eq("id", account).ExecuteTo(&accounts); err != nil || len(accounts) != 1 || accounts[0].Slug != "acme" {
		t.Errorf("postgrest-go through the gateway: %+v %v", accounts, err)
	}
	var projects []map[string]any
	if _, err := c.From("projects").Insert(map[string]any{"account_id": account, "identifier": "acme/web"}, false, "", "", "").ExecuteTo(&projects); err != nil || len(projects) != 1 {
		t.Errorf("postgrest-go insert through the gateway: %v %v", projects, err)
	}
	anonClient := postgrest.NewClient(base+"/rest/v1", "public", map[string]string{"apikey": e.anon})
	if _, _, err := anonClient.From("projects").Select("*", "", false).Execute(); err == nil || !strings.Contains(err.Error(), "(42501)") {
		t.Errorf("anon through postgrest-go: %v", err)
	}
}

// newTenantDB is a test database with the tenant migrations (already in
// the template) and three users in auth.users.
func newTenantDB(t *testing.T) *pgtestDB {
	t.Helper()
	db := newPgDB(t)
	for _, u := range []string{uidOwner, uidMember, uidStranger} {
		if _, err := db.Admin(t).Exec(context.Background(),
			`insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')`, u, u+"@example.test"); err != nil {
			t.Fatalf("create user: %v", err)
		}
	}
	return db
}
