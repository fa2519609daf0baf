package stacktest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	gotrue "github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"
	postgrest "github.com/supabase-community/postgrest-go"

	"github.com/sfp-dev/sfp/internal/jstest"
	"github.com/sfp-dev/sfp/internal/pgtest"
)

// gotrue-go v1.2.0 against the whole tenant, through the gateway: the user
// journey and the admin API; the access token works against REST, where
// row-level security sees the user (auth.uid()).
func TestGoTrueGoThroughGateway(t *testing.T) {
	s := Shared()
	hc := http.Client{Timeout: 30 * time.Second}
	anon := gotrue.New("unused", s.AnonKey).WithCustomGoTrueURL(s.URL + "/auth/v1").WithClient(hc)
	email := "gotrue-" + pgtest.RandomHex(4) + "@example.test"

	signup, err := anon.Signup(types.SignupRequest{Email: email, Password: "first-password"})
	if err != nil || signup.AccessToken == "" {
		t.Fatalf("signup: %+v %v", signup, err)
	}
	session, err := anon.SignInWithEmailPassword(email, "first-password")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	refreshed, err := anon.RefreshToken(session.RefreshToken)
	if err != nil || refreshed.RefreshToken == session.RefreshToken {
		t.Fatalf("refresh: %+v %v", refreshed, err)
	}
	user := anon.WithToken(refreshed.AccessToken)
	me, err := user.GetUser()
	if err != nil || me.Email != email {
		t.Fatalf("get user: %+v %v", me, err)
	}
	if _, err := user.UpdateUser(types.UpdateUserRequest{Data: map[string]any{"team": "ops"}}); err != nil {
		t.Fatalf("update user: %v", err)
	}

	// The token works against REST and RLS sees the user.
	var accountID string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", refreshed.AccessToken, map[string]any{"name": "GoTrue Go", "slug": "gotrue-" + pgtest.RandomHex(3)}, http.StatusOK, &accountID)
	var members []struct {
		UserID string `json:"user_id"`
		Role   string `json:"account_role"`
	}
	s.Do(t, http.MethodGet, "/rest/v1/accounts_memberships?select=user_id,account_role&account_id=eq."+accountID, refreshed.AccessToken, nil, http.StatusOK, &members)
	if len(members) != 1 || members[0].UserID != me.ID.String() || members[0].Role != "owner" {
		t.Fatalf("memberships seen by the user: %+v (user %s)", members, me.ID)
	}

	if err := user.Logout(); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := anon.RefreshToken(refreshed.RefreshToken); err == nil {
		t.Fatal("a refresh token still works after logout")
	}

	// The admin API with the service key; a user's token is refused there.
	admin := gotrue.New("unused", s.AnonKey).WithCustomGoTrueURL(s.URL + "/auth/v1").WithClient(hc).WithToken(s.ServiceKey)
	created, err := admin.AdminCreateUser(types.AdminCreateUserRequest{Email: "admin-made-" + pgtest.RandomHex(4) + "@example.test", Password: ptr("admin-made-pw"), EmailConfirm: true})
	if err != nil {
		t.Fatalf("admin create: %v", err)
	}
	if got, err := admin.AdminGetUser(types.AdminGetUserRequest{UserID: created.ID}); err != nil || got.Email != created.Email {
		t.Fatalf("admin get: %+v %v", got, err)
	}
	list, err := admin.AdminListUsers()
	if err != nil || len(list.Users) < 2 {
		t.Fatalf("admin list: %v (%d users)", err, len(list.Users))
	}
	if _, err := admin.AdminUpdateUser(types.AdminUpdateUserRequest{UserID: created.ID, UserMetadata: map[string]any{"k": "v"}}); err != nil {
		t.Fatalf("admin update: %v", err)
	}
	if err := admin.AdminDeleteUser(types.AdminDeleteUserRequest{UserID: created.ID}); err != nil {
		t.Fatalf("admin delete: %v", err)
	}
	if _, err := user.WithToken(session.AccessToken).AdminListUsers(); err == nil {
		t.Fatal("a user's token listed users")
	}
}

func ptr[T any](v T) *T { return &v }

// postgrest-go v0.0.11 against the whole tenant, through the gateway, as a
// signed-in user: insert, filtered select with an embed, update; RLS hides
// another account's rows.
func TestPostgrestGoThroughGateway(t *testing.T) {
	s := Shared()
	u, other := s.NewUser(t), s.NewUser(t)
	var accountID string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "PG Go", "slug": "pggo-" + pgtest.RandomHex(3)}, http.StatusOK, &accountID)
	client := func(token string) *postgrest.Client {
		return postgrest.NewClient(s.URL+"/rest/v1", "public", map[string]string{"apikey": s.AnonKey, "Authorization": "Bearer " + token})
	}
	c := client(u.AccessToken)
	var inserted []map[string]any
	if _, err := c.From("projects").Insert(map[string]any{"account_id": accountID, "identifier": "acme/pg-go", "platform": "github"}, false, "", "representation", "").ExecuteTo(&inserted); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var rows []struct {
		Identifier string `json:"identifier"`
		Version    int    `json:"version"`
		Accounts   struct {
			Slug string `json:"slug"`
		} `json:"accounts"`
	}
	if _, err := c.From("projects").Select("identifier,version,accounts(slug)", "", false).Eq("account_id", accountID).ExecuteTo(&rows); err != nil {
		t.Fatalf("select: %v", err)
	}
	if len(rows) != 1 || rows[0].Identifier != "acme/pg-go" || rows[0].Version != 1 || rows[0].Accounts.Slug == "" {
		t.Fatalf("rows %+v", rows)
	}
	if _, _, err := c.From("projects").Update(map[string]any{"settings": map[string]any{"x": 1}, "version": 1}, "", "").Eq("account_id", accountID).Execute(); err != nil {
		t.Fatalf("update: %v", err)
	}
	var seen []map[string]any
	if _, err := client(other.AccessToken).From("projects").Select("id", "", false).Eq("account_id", accountID).ExecuteTo(&seen); err != nil || len(seen) != 0 {
		t.Fatalf("another user sees %v (%v)", seen, err)
	}
}

// The official supabase-js client's auth (auth-js) and data (postgrest-js)
// APIs against the whole tenant through the gateway, with the results and
// error codes PostgREST and GoTrue give.
func TestSupabaseJSAuthAndDataThroughGateway(t *testing.T) {
	s := Shared()
	out := jstest.Run(t, `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
const url = process.env.SFP_URL, anon = process.env.SFP_ANON;
const sb = createClient(url, anon, { realtime: { transport: WebSocket }, auth: { persistSession: false, autoRefreshToken: false } });
const r = {};
const email = 'js-auth-' + Date.now() + '@example.test';
const must = (res, what) => { if (res.error) throw new Error(what + ': ' + JSON.stringify(res.error)); return res.data; };

// auth-js
const up = must(await sb.auth.signUp({ email, password: 'js-password-1' }), 'signUp');
r.signUp = { session: !!up.session, email: up.user.email };
r.wrongPassword = (await sb.auth.signInWithPassword({ email, password: 'nope-nope' })).error?.code;
const signedIn = must(await sb.auth.signInWithPassword({ email, password: 'js-password-1' }), 'signIn');
const refreshed = must(await sb.auth.refreshSession(), 'refresh');
r.refreshRotates = refreshed.session.refresh_token !== signedIn.session.refresh_token;
r.getUser = must(await sb.auth.getUser(), 'getUser').user.email;
r.updateUser = must(await sb.auth.updateUser({ data: { team: 'web' } }), 'updateUser').user.user_metadata.team;
r.duplicateSignUp = (await createClient(url, anon, { realtime: { transport: WebSocket }, auth: { persistSession: false } }).auth.signUp({ email, password: 'js-password-1' })).error?.code;

// postgrest-js
const slug = 'js-data-' + Date.now();
const accountId = must(await sb.rpc('create_account', { name: 'JS Data', slug }), 'rpc');
const proj = must(await sb.from('projects').insert({ account_id: accountId, identifier: 'acme/js', platform: 'github' }).select('id, identifier, version').single(), 'insert');
r.inserted = { identifier: proj.identifier, version: proj.version };
must(await sb.from('environments').insert([{ account_id: accountId, project_id: proj.id, name: 'dev' }, { account_id: accountId, project_id: proj.id, name: 'prod', category: 'production' }], { defaultToNull: false }), 'bulk insert with missing=default');
const up2 = must(await sb.from('environments').upsert({ account_id: accountId, project_id: proj.id, name: 'prod', branch: 'main' }, { onConflict: 'project_id,name' }).select('name, branch, category'), 'upsert');
r.upsert = up2;
const embed = must(await sb.from('projects').select('identifier, environments(name)').eq('id', proj.id).order('name', { referencedTable: 'environments' }).single(), 'embed');
r.embed = embed;
const { count } = await sb.from('environments').select('*', { count: 'exact', head: true }).eq('project_id', proj.id);
r.count = count;
const filtered = must(await sb.from('environments').select('name').eq('project_id', proj.id).or('name.eq.dev,category.eq.none'), 'or');
r.filtered = filtered.map(e => e.name);
r.maybeSingle = must(await sb.from('environments').select('name').eq('name', 'nope').maybeSingle(), 'maybeSingle');
r.singleError = (await sb.from('environments').select('name').eq('project_id', proj.id).single()).error?.code;
must(await sb.from('environments').update({ branch: 'release' }).eq('project_id', proj.id).eq('name', 'dev'), 'update');
r.stale = (await sb.from('projects').update({ version: 7 }).eq('id', proj.id)).error?.code;
r.duplicate = (await sb.from('environments').insert({ account_id: accountId, project_id: proj.id, name: 'dev' })).error?.code;
must(await sb.from('environments').delete().eq('project_id', proj.id).eq('name', 'dev'), 'delete');
r.afterDelete = must(await sb.from('environments').select('name').eq('project_id', proj.id), 'after delete').map(e => e.name);
const put = must(await sb.rpc('doc_put', { account_id: accountId, collection: 'notes', key: 'a', data: { n: 1 }, expected_version: null }), 'doc_put');
r.docVersion = put.version;
r.docConflict = (await sb.rpc('doc_put', { account_id: accountId, collection: 'notes', key: 'a', data: { n: 2 }, expected_version: 5 })).error?.code;
r.unknownTable = (await sb.from('nope').select('*')).error?.code;

must(await sb.auth.signOut(), 'signOut');
r.afterSignOut = (await sb.auth.refreshSession({ refresh_token: refreshed.session.refresh_token })).error?.code;
console.log(JSON.stringify(r));
process.exit(0);
`, map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.AnonKey})
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]string{
		"signUp":          `{"email":"` + got["signUp"].(map[string]any)["email"].(string) + `","session":true}`,
		"wrongPassword":   `"invalid_credentials"`,
		"refreshRotates":  `true`,
		"updateUser":      `"web"`,
		"duplicateSignUp": `"user_already_exists"`,
		"inserted":        `{"identifier":"acme/js","version":1}`,
		"upsert":          `[{"branch":"main","category":"production","name":"prod"}]`,
		"embed":           `{"environments":[{"name":"dev"},{"name":"prod"}],"identifier":"acme/js"}`,
		"count":           `2`,
		"filtered":        `["dev"]`,
		"maybeSingle":     `null`,
		"singleError":     `"PGRST116"`,
		"stale":           `"PT409"`,
		"duplicate":       `"23505"`,
		"afterDelete":     `["prod"]`,
		"docVersion":      `1`,
		"docConflict":     `"PT409"`,
		"unknownTable":    `"PGRST205"`,
		"afterSignOut":    `"refresh_token_not_found"`,
	}
	for k, w := range want {
		b, _ := json.Marshal(got[k])
		if string(b) != w {
			t.Errorf("%s = %s, want %s", k, b, w)
		}
	}
	if got["getUser"] == nil {
		t.Errorf("getUser: %v", got["getUser"])
	}
}
