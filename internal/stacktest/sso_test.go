package stacktest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/jstest"
	"github.com/sfp-dev/sfp/internal/samltest"
)

// SAML single sign-on end to end through the gateway: supabase-js's
// signInWithSSO starts it, a browser goes through the IdP's login form and
// back to the tenant's ACS, and supabase-js exchanges the code (PKCE) or
// takes the tokens (implicit) — the same client code a web app runs, with
// the page reload between the two halves.
func TestSupabaseJSSignInWithSSO(t *testing.T) {
	s := Shared()
	idp := samltest.StartIdP(t)
	idp.AddUser(t, samltest.User{Name: "grace", Password: "pw-grace-1", Email: "grace@sso-e2e.test", GivenName: "Grace", Surname: "Hopper"})
	providerID := samltest.RegisterOnTenant(t, idp, s.URL, s.ServiceKey, "sso-e2e.test")
	site := s.Tenant.Config.Auth.SiteURL
	env := map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.AnonKey, "SFP_SITE": site}

	// PKCE: signInWithSSO keeps the code verifier in the client's storage;
	// the storage survives the "reload" as a browser's would.
	start := runJSON(t, jsClient+`
const { data, error } = await client('pkce', {}).auth.signInWithSSO({ domain: 'SSO-E2E.test', options: { redirectTo: process.env.SFP_SITE + '/cb' } });
if (error) throw error;
console.log(JSON.stringify({ url: data.url, storage: store }));
`, env)
	browser := samltest.NewBrowser(site)
	final, err := browser.SignIn(context.Background(), start["url"].(string), "grace", "pw-grace-1")
	if err != nil {
		t.Fatal(err)
	}
	code := final.Query().Get("code")
	if !strings.HasPrefix(final.String(), site+"/cb?") || code == "" {
		t.Fatalf("PKCE sign-in ended at %s", final)
	}
	storage, _ := json.Marshal(start["storage"])
	env["SFP_STORAGE"], env["SFP_CODE"] = string(storage), code
	got := runJSON(t, jsClient+`
const c = client('pkce', JSON.parse(process.env.SFP_STORAGE));
const { data, error } = await c.auth.exchangeCodeForSession(process.env.SFP_CODE);
if (error) throw error;
const { data: aal } = await c.auth.mfa.getAuthenticatorAssuranceLevel();
const { data: u, error: uerr } = await c.auth.getUser();
if (uerr) throw uerr;
console.log(JSON.stringify({ email: data.user.email, amr: aal.currentAuthenticationMethods,
  provider: u.user.app_metadata.provider, identity: u.user.identities[0].provider, name: u.user.user_metadata.name ?? null }));
`, env)
	amr := got["amr"].([]any)[0].(map[string]any)
	if got["email"] != "grace@sso-e2e.test" || amr["method"] != "sso/saml" || amr["provider"] != providerID ||
		got["provider"] != "sso:"+providerID || got["identity"] != "sso:"+providerID {
		t.Errorf("PKCE session %v", got)
	}

	// Implicit: the tokens come in the fragment; the client takes them.
	start = runJSON(t, jsClient+`
const { data, error } = await client('implicit', {}).auth.signInWithSSO({ providerId: process.env.SFP_PROVIDER });
if (error) throw error;
console.log(JSON.stringify({ url: data.url }));
`, map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.AnonKey, "SFP_PROVIDER": providerID})
	final, err = browser.SignIn(context.Background(), start["url"].(string), "grace", "pw-grace-1")
	if err != nil {
		t.Fatal(err)
	}
	frag := final.Fragment
	if !strings.HasPrefix(final.String(), site+"#") || !strings.Contains(frag, "access_token=") {
		t.Fatalf("implicit sign-in ended at %s", final)
	}
	env["SFP_FRAGMENT"] = frag
	got = runJSON(t, jsClient+`
const p = new URLSearchParams(process.env.SFP_FRAGMENT);
const c = client('implicit', {});
const { data, error } = await c.auth.setSession({ access_token: p.get('access_token'), refresh_token: p.get('refresh_token') });
if (error) throw error;
const { data: refreshed, error: rerr } = await c.auth.refreshSession();
if (rerr) throw rerr;
console.log(JSON.stringify({ email: data.user.email, refreshed: !!refreshed.session, sso: data.user.app_metadata.provider }));
`, env)
	if got["email"] != "grace@sso-e2e.test" || got["refreshed"] != true || got["sso"] != "sso:"+providerID {
		t.Errorf("implicit session %v", got)
	}
}

// jsClient defines client(flowType, storedItems): a supabase-js client whose
// storage is the object store, printed by the scripts that need it kept.
const jsClient = `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
let store = {};
const storage = { getItem: (k) => store[k] ?? null, setItem: (k, v) => { store[k] = v; }, removeItem: (k) => { delete store[k]; } };
function client(flowType, items) {
  store = items;
  return createClient(process.env.SFP_URL, process.env.SFP_ANON, { realtime: { transport: WebSocket },
    auth: { flowType, storage, persistSession: true, autoRefreshToken: false, detectSessionInUrl: false } });
}
`

func runJSON(t *testing.T, script string, env map[string]string) map[string]any {
	t.Helper()
	out := jstest.Run(t, script, env)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("script output is not JSON: %v\n%s", err, out)
	}
	return m
}
