package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sfp-dev/sfp/internal/idptest"
	"github.com/sfp-dev/sfp/internal/jstest"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// oauthScript drives supabase-js's OAuth API against a tenant: PKCE
// sign-in with GitHub (signInWithOAuth, then exchangeCodeForSession after
// following the redirects as a browser), manual linking of Keycloak
// (linkIdentity, getUserIdentities, unlinkIdentity), a wrong code
// verifier, and signInWithIdToken with a right and a wrong nonce.
const oauthScript = `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

const url = process.env.SFP_URL, anon = process.env.SFP_ANON, app = 'http://localhost:3000/done';
function memoryStorage() {
  const m = new Map();
  return { m, getItem: (k) => m.get(k) ?? null, setItem: (k, v) => { m.set(k, v); }, removeItem: (k) => { m.delete(k); } };
}
const storage = memoryStorage();
const sb = createClient(url, anon, { realtime: { transport: WebSocket }, auth: { flowType: 'pkce', storage, autoRefreshToken: false, detectSessionInUrl: false } });

async function browse(start) {
  let next = start;
  for (let i = 0; i < 20; i++) {
    if (next.startsWith(app)) return new URL(next);
    const res = await fetch(next, { redirect: 'manual' });
    const loc = res.headers.get('location');
    if (!loc) throw new Error('no redirect from ' + next + ': ' + res.status + ' ' + (await res.text()));
    next = new URL(loc, next).toString();
  }
  throw new Error('too many redirects from ' + start);
}

const result = {};
const { data: start, error: e1 } = await sb.auth.signInWithOAuth({ provider: 'github', options: { redirectTo: app, skipBrowserRedirect: true } });
if (e1) throw e1;
result.challenge = new URL(start.url).searchParams.get('code_challenge_method');
const back = await browse(start.url);
const { data: ex, error: e2 } = await sb.auth.exchangeCodeForSession(back.searchParams.get('code'));
if (e2) throw e2;
result.github = { email: ex.user.email, provider: ex.user.app_metadata.provider, providerToken: !!ex.session.provider_token };

const { data: link, error: e3 } = await sb.auth.linkIdentity({ provider: 'keycloak', options: { redirectTo: app, skipBrowserRedirect: true } });
if (e3) throw e3;
const back2 = await browse(link.url);
const { data: ex2, error: e4 } = await sb.auth.exchangeCodeForSession(back2.searchParams.get('code'));
if (e4) throw e4;
result.linkedSameUser = ex2.user.id === ex.user.id;
const { data: ids, error: e5 } = await sb.auth.getUserIdentities();
if (e5) throw e5;
result.linked = ids.identities.map((i) => i.provider).sort();
const { error: e6 } = await sb.auth.unlinkIdentity(ids.identities.find((i) => i.provider === 'keycloak'));
if (e6) throw e6;
const { data: ids2 } = await sb.auth.getUserIdentities();
result.afterUnlink = ids2.identities.map((i) => i.provider);

// A flow whose stored verifier is not the one its challenge was made from.
const { data: start3 } = await sb.auth.signInWithOAuth({ provider: 'github', options: { redirectTo: app, skipBrowserRedirect: true } });
const back3 = await browse(start3.url);
for (const k of storage.m.keys()) if (k.endsWith('-code-verifier')) storage.m.set(k, JSON.stringify('x'.repeat(64)));
const { error: e7 } = await sb.auth.exchangeCodeForSession(back3.searchParams.get('code'));
result.wrongVerifier = e7 && { status: e7.status, code: e7.code };

const other = createClient(url, anon, { realtime: { transport: WebSocket }, auth: { storage: memoryStorage(), autoRefreshToken: false, detectSessionInUrl: false } });
const { error: e8 } = await other.auth.signInWithIdToken({ provider: 'keycloak', token: process.env.ID_TOKEN, nonce: 'not-the-nonce' });
result.wrongNonce = e8 && { status: e8.status, message: e8.message };
const { data: idt, error: e9 } = await other.auth.signInWithIdToken({ provider: 'keycloak', token: process.env.ID_TOKEN, nonce: 'js-nonce' });
if (e9) throw e9;
result.idToken = { email: idt.user.email, provider: idt.user.app_metadata.provider };
console.log(JSON.stringify(result));
process.exit(0);
`

// TestSupabaseJSOAuth runs supabase-js's OAuth flows through the gateway
// of a tenant whose GitHub and Keycloak run in this process.
func TestSupabaseJSOAuth(t *testing.T) {
	gh := idptest.NewGitHub(t, "js-app", "js-secret", idptest.GitHubUser{ID: 99, Login: "linus", Name: "Linus",
		Emails: []idptest.GitHubEmail{{Email: "linus@example.com", Primary: true, Verified: true}}})
	var kc *idptest.OIDC
	kcUser := idptest.User{ID: "kc-linus", Username: "linus", FirstName: "Linus", LastName: "T", Email: "linus.kc@example.com", EmailVerified: true}
	s, err := Start(context.Background(), Options{
		Configure: func(c *tenant.Config) {
			callback := fmt.Sprintf("http://%s:%d/auth/v1/callback", c.API.Host, c.API.Port)
			kc = idptest.NewOIDC(t, idptest.Keycloak, kcUser,
				idptest.Client{ID: "js-app", Secret: "js-secret", RedirectURI: callback},
				idptest.Client{ID: "mobile", Secret: "js-secret", RedirectURI: "http://127.0.0.1:1/mobile"})
			c.Auth.External = map[string]tenant.ExternalProvider{
				"github":   {Enabled: true, ClientID: "js-app", URL: gh.URL},
				"keycloak": {Enabled: true, ClientID: "js-app,mobile", URL: kc.URL},
			}
			c.Auth.ManualLinking = true
		},
		Secrets: func(sec *tenant.Secrets) {
			sec.Extra[tenant.ProviderSecretVar("github")] = "js-secret"
			sec.Extra[tenant.ProviderSecretVar("keycloak")] = "js-secret"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The Keycloak user signs in on a phone app ("mobile") and hands the
	// ID token to the tenant.
	kc.SetUser(idptest.User{ID: "kc-ada", Username: "ada", FirstName: "Ada", LastName: "L", Email: "ada.kc@example.com", EmailVerified: true})
	token := kc.IDToken(t, "mobile", "js-secret", "http://127.0.0.1:1/mobile", "js-nonce")
	kc.SetUser(kcUser)

	out := jstest.Run(t, oauthScript, map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.PublishableKey, "ID_TOKEN": token})
	var res struct {
		Challenge string `json:"challenge"`
		GitHub    struct {
			Email, Provider string
			ProviderToken   bool
		} `json:"github"`
		LinkedSameUser bool     `json:"linkedSameUser"`
		Linked         []string `json:"linked"`
		AfterUnlink    []string `json:"afterUnlink"`
		WrongVerifier  *struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		} `json:"wrongVerifier"`
		WrongNonce *struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"wrongNonce"`
		IDToken struct{ Email, Provider string } `json:"idToken"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("script output %s: %v", out, err)
	}
	switch {
	case res.Challenge != "s256":
		t.Errorf("supabase-js did not start a PKCE flow: %s", out)
	case res.GitHub.Email != "linus@example.com" || res.GitHub.Provider != "github" || !res.GitHub.ProviderToken:
		t.Errorf("github sign-in: %s", out)
	case !res.LinkedSameUser || len(res.Linked) != 2 || res.Linked[0] != "github" || res.Linked[1] != "keycloak":
		t.Errorf("linkIdentity: %s", out)
	case len(res.AfterUnlink) != 1 || res.AfterUnlink[0] != "github":
		t.Errorf("unlinkIdentity: %s", out)
	case res.WrongVerifier == nil || res.WrongVerifier.Status != 400 || res.WrongVerifier.Code != "bad_code_verifier":
		t.Errorf("wrong verifier: %s", out)
	case res.WrongNonce == nil || res.WrongNonce.Status != 400:
		t.Errorf("wrong nonce: %s", out)
	case res.IDToken.Email != "ada.kc@example.com" || res.IDToken.Provider != "keycloak":
		t.Errorf("signInWithIdToken: %s", out)
	}
}
