package authserver

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/supabase-community/gotrue-go/types"

	"github.com/sfp-dev/sfp/internal/idptest"
	"github.com/sfp-dev/sfp/internal/logtest"
)

// TestOAuthPKCEGitHub signs a new user in with GitHub through the PKCE
// flow: /authorize, GitHub's endpoints, /callback, the code exchange.
func TestOAuthPKCEGitHub(t *testing.T) {
	e, p := newOAuthEnv(t)
	verifier, challenge := pkcePair()
	start := e.base + "/authorize?" + url.Values{"provider": {"github"}, "scopes": {"repo"},
		"code_challenge": {challenge}, "code_challenge_method": {"s256"}, "redirect_to": {"http://localhost:3000/welcome"}}.Encode()
	end, visited := browser(t, start, "http://localhost:3000/welcome")
	code := end.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", end)
	}
	if got := p.github.Authorized()[0].Get("scope"); got != "user:email repo" {
		t.Fatalf("GitHub was asked for scope %q", got)
	}
	if p.github.Authorized()[0].Get("code_challenge") != "" {
		t.Fatal("the app's code challenge was passed on to GitHub")
	}
	callback := visited[len(visited)-1]
	if !strings.HasPrefix(callback, e.base+"/callback?") {
		t.Fatalf("last hop before the app is not the callback: %v", visited)
	}
	// A second trip through the callback before the exchange: the flow is used.
	replay := e.req("GET", strings.TrimPrefix(callback, e.base), nil)
	if replay.status != 303 || !strings.Contains(replay.header.Get("Location"), "error_code=flow_state_already_used") {
		t.Fatalf("replayed callback: %d %s", replay.status, replay.header.Get("Location"))
	}

	wantError(t, e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier + "x"}),
		400, CodeBadCodeVerifier, "code challenge does not match")
	sess := e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier}).
		mustStatus(t, 200, "pkce exchange").json(t)
	if !strings.HasPrefix(sess["provider_token"].(string), "gho_") {
		t.Fatalf("provider_token: %v", sess["provider_token"])
	}
	user := sess["user"].(map[string]any)
	if user["email"] != "ada@example.com" || user["email_confirmed_at"] == nil {
		t.Fatalf("user: %v", user)
	}
	app := user["app_metadata"].(map[string]any)
	if app["provider"] != "github" || len(app["providers"].([]any)) != 1 {
		t.Fatalf("app_metadata: %v", app)
	}
	meta := user["user_metadata"].(map[string]any)
	if meta["user_name"] != "ada" || meta["provider_id"] != "4242" || meta["email_verified"] != true {
		t.Fatalf("user_metadata: %v", meta)
	}
	claims := parseClaims(t, sess["access_token"].(string))
	if amr := claims["amr"].([]any)[0].(map[string]any); amr["method"] != "oauth" {
		t.Fatalf("amr: %v", claims["amr"])
	}
	// The identity row as GoTrue writes it.
	if n := e.count(`select count(*) from auth.identities where provider = 'github' and provider_id = '4242'
		and email = 'ada@example.com' and identity_data->>'iss' = $1 and identity_data->>'sub' = '4242'
		and identity_data->>'preferred_username' = 'ada' and (identity_data->'phone_verified')::bool = false`, p.github.URL+"/api/v3"); n != 1 {
		t.Fatalf("github identity rows: %d", n)
	}
	// The code is used once.
	wantError(t, e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier}),
		404, CodeFlowStateNotFound, "no valid flow state")
	if n := e.count(`select count(*) from auth.flow_state`); n != 0 {
		t.Fatalf("flow states left: %d", n)
	}
	if n := e.count(`select count(*) from auth.audit_log_entries where payload->>'action' = 'login'
		and payload->'traits'->>'provider_type' = 'github'`); n != 1 {
		t.Fatalf("login audit entries: %d", n)
	}
}

// TestOAuthImplicitKeycloak signs in through Keycloak's layout with the
// implicit flow: the session arrives in the URL fragment.
func TestOAuthImplicitKeycloak(t *testing.T) {
	e, p := newOAuthEnv(t)
	end, visited := browser(t, e.base+"/authorize?provider=keycloak", "http://localhost:3000")
	f := fragment(t, end)
	if f.Get("access_token") == "" || f.Get("refresh_token") == "" || f.Get("provider_token") == "" || f.Get("token_type") != "bearer" {
		t.Fatalf("fragment: %v", f)
	}
	if _, ok := f["sb"]; !ok {
		t.Fatalf("no sb marker in %v", f)
	}
	u := e.req("GET", "/user", nil, "Authorization", "Bearer "+f.Get("access_token")).mustStatus(t, 200, "get user").json(t)
	ids := u["identities"].([]any)
	if len(ids) != 1 || ids[0].(map[string]any)["provider"] != "keycloak" || ids[0].(map[string]any)["id"] != ada.ID {
		t.Fatalf("identities: %v", ids)
	}
	data := ids[0].(map[string]any)["identity_data"].(map[string]any)
	if data["iss"] != p.keycloak.Issuer || data["email"] != "ada@example.com" || data["custom_claims"] == nil {
		t.Fatalf("keycloak identity_data: %v", data)
	}
	// The flow state is gone: the same callback again is refused.
	callback := visited[len(visited)-1]
	replay := e.req("GET", strings.TrimPrefix(callback, e.base), nil)
	loc := replay.header.Get("Location")
	if replay.status != 303 || !strings.Contains(loc, "error_code=bad_oauth_state") || !strings.Contains(loc, "not+found") {
		t.Fatalf("replayed callback: %d %s", replay.status, loc)
	}
}

// TestOAuthAzureAndGoogle signs the same person in with Azure, then Google:
// the verified address links both identities to one user.
func TestOAuthAzureAndGoogle(t *testing.T) {
	e, p := newOAuthEnv(t)
	first := fragment(t, must(browser(t, e.base+"/authorize?provider=azure&scopes=email", "http://localhost:3000")))
	second := fragment(t, must(browser(t, e.base+"/authorize?provider=google", "http://localhost:3000")))
	if first.Get("error") != "" || second.Get("error") != "" {
		t.Fatalf("sign-ins: %v, %v", first, second)
	}
	a := parseClaims(t, first.Get("access_token"))
	b := parseClaims(t, second.Get("access_token"))
	if a["sub"] != b["sub"] {
		t.Fatalf("two users for one verified address: %v, %v", a["sub"], b["sub"])
	}
	providers := b["app_metadata"].(map[string]any)["providers"].([]any)
	if len(providers) != 2 || providers[0] != "azure" || providers[1] != "google" {
		t.Fatalf("providers: %v", providers)
	}
	if n := e.count(`select count(*) from auth.identities where provider = 'azure' and identity_data->>'iss' = $1`, p.azure.Issuer); n != 1 {
		t.Fatalf("azure identities: %d", n)
	}
	if n := e.count(`select count(*) from auth.audit_log_entries where payload->>'action' = 'identity_linked'`); n != 1 {
		t.Fatalf("identity_linked entries: %d", n)
	}
}

func must(u *url.URL, _ []string) *url.URL { return u }

// TestOAuthLinksEmailUser: a GitHub sign-in with the verified address of
// an email user adds the GitHub identity to that user.
func TestOAuthLinksEmailUser(t *testing.T) {
	e, _ := newOAuthEnv(t)
	signup := e.signUp("ada@example.com", "correct horse")
	id := signup["user"].(map[string]any)["id"]
	f := fragment(t, must(browser(t, e.base+"/authorize?provider=github", "http://localhost:3000")))
	c := parseClaims(t, f.Get("access_token"))
	if c["sub"] != id {
		t.Fatalf("github sign-in made user %v, want %v", c["sub"], id)
	}
	// The password still works: the user was confirmed.
	e.signIn("ada@example.com", "correct horse")
}

// TestOAuthUnverifiedEmail: without autoconfirm, a GitHub address GitHub
// has not verified neither links to the email user nor signs in.
func TestOAuthUnverifiedEmail(t *testing.T) {
	e, p := newOAuthEnv(t, func(c *Config) { c.MailerAutoconfirm = false })
	created := e.req("POST", "/admin/users", map[string]any{"email": "ada@example.com", "password": "correct horse", "email_confirm": true},
		"Authorization", "Bearer "+e.serviceKey).mustStatus(t, 200, "create user").json(t)
	p.github.SetUser(idptestUnverified())
	end, _ := browser(t, e.base+"/authorize?provider=github", "http://localhost:3000")
	if end.Query().Get("error_code") != CodeProviderEmailNeedsVerification || end.Query().Get("error") != "access_denied" {
		t.Fatalf("redirect: %s", end)
	}
	if n := e.count(`select count(*) from auth.identities where user_id = $1`, created["id"]); n != 1 {
		t.Fatalf("the email user got %d identities", n)
	}
}

// TestOAuthCallbackRefusals: forged, malformed, missing and expired state,
// provider errors and a missing code, each answered as GoTrue answers it,
// with no user made.
func TestOAuthCallbackRefusals(t *testing.T) {
	var logs logtest.Buffer
	e, _ := newOAuthEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	cases := []struct{ name, query, status, code, desc string }{
		{"missing state", "", "303", CodeBadOAuthCallback, "OAuth state parameter missing"},
		{"malformed state", "state=abc", "303", CodeBadOAuthState, "OAuth state parameter is invalid"},
		{"forged state", "state=" + newUUID() + "&code=x", "303", CodeBadOAuthState, "OAuth state not found or expired"},
	}
	for _, c := range cases {
		r := e.req("GET", "/callback?"+c.query, nil)
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status != 303 || loc.Query().Get("error_code") != c.code || loc.Query().Get("error_description") != c.desc ||
			loc.Query().Get("error") != "invalid_request" || !strings.HasPrefix(loc.String(), "http://localhost:3000") {
			t.Errorf("%s: %d %s", c.name, r.status, loc)
		}
	}
	// A flow started, then the provider's error, then a missing code.
	start := e.req("GET", "/authorize?provider=github&redirect_to=http://localhost:3000/x", nil).mustStatus(t, 302, "authorize")
	auth, _ := url.Parse(start.header.Get("Location"))
	state := auth.Query().Get("state")
	r := e.req("GET", "/callback?state="+state+"&error=access_denied&error_description=The+user+said+no", nil)
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != 302 || loc.Query().Get("error") != "access_denied" || !strings.HasPrefix(loc.String(), "http://localhost:3000/x?") ||
		!strings.Contains(loc.Fragment, "error_description=The+user+said+no") {
		t.Fatalf("provider error: %d %s", r.status, loc)
	}
	r = e.req("POST", "/callback", "state="+state, "Content-Type", "application/x-www-form-urlencoded")
	loc, _ = url.Parse(r.header.Get("Location"))
	if r.status != 302 || loc.Query().Get("error_code") != CodeBadOAuthCallback {
		t.Fatalf("missing code: %d %s", r.status, loc)
	}
	// A code GitHub never issued.
	r = e.req("GET", "/callback?state="+state+"&code=forged", nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	if r.status != 302 || loc.Query().Get("error") != "server_error" || !strings.Contains(loc.Query().Get("error_description"), "Unable to exchange external code: forg") {
		t.Fatalf("forged code: %d %s", r.status, loc)
	}
	// The flow expires after five minutes.
	e.clock.Advance(DefaultFlowStateExpiry + time.Second)
	r = e.req("GET", "/callback?state="+state+"&code=x", nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	if r.status != 303 || loc.Query().Get("error_description") != "OAuth state has expired" {
		t.Fatalf("expired flow: %d %s", r.status, loc)
	}
	if n := e.count(`select count(*) from auth.users`); n != 0 {
		t.Fatalf("%d users made by refused callbacks", n)
	}
	// Each refusal is in the log, with its code; no secret is.
	for _, want := range []string{"code=bad_oauth_callback", "code=bad_oauth_state", "error=access_denied", "Unable to exchange external code"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), testClientSecret) {
		t.Error("the client secret is in the log")
	}
}

// TestOAuthAuthorizeRefusals: GoTrue's validation of /authorize.
func TestOAuthAuthorizeRefusals(t *testing.T) {
	e, _ := newOAuthEnv(t)
	_, challenge := pkcePair()
	wantError(t, e.req("GET", "/authorize?provider=apple", nil), 400, CodeValidationFailed, "Unsupported provider: provider is not enabled")
	wantError(t, e.req("GET", "/authorize?provider=github&code_challenge="+challenge, nil), 400, CodeValidationFailed,
		"PKCE flow requires code_challenge_method and code_challenge")
	wantError(t, e.req("GET", "/authorize?provider=github&code_challenge=short&code_challenge_method=s256", nil), 400, CodeValidationFailed,
		"code challenge has to be between 43 and 128 characters")
	wantError(t, e.req("GET", "/authorize?provider=github&code_challenge="+challenge+"&code_challenge_method=md5", nil), 400, CodeValidationFailed,
		"Invalid code_challenge_method")
	// redirect_to outside the allow list falls back to the site URL.
	r := e.req("GET", "/authorize?provider=github&redirect_to=https://evil.example/steal", nil).mustStatus(t, 302, "authorize")
	state, _ := url.Parse(r.header.Get("Location"))
	if ref := e.scalar(`select referrer from auth.flow_state where id = $1`, state.Query().Get("state")); ref != "http://localhost:3000" {
		t.Fatalf("referrer %v", ref)
	}
	// The client cannot override what the server sends the provider.
	r = e.req("GET", "/authorize?provider=github&redirect_uri=https://evil.example&state=mine&login=ada", nil).mustStatus(t, 302, "authorize")
	auth, _ := url.Parse(r.header.Get("Location"))
	if auth.Query().Get("redirect_uri") != e.base+"/callback" || auth.Query().Get("state") == "mine" || auth.Query().Get("login") != "ada" {
		t.Fatalf("authorization URL: %s", auth)
	}
}

// TestOAuthPKCEAnotherFlow: the code of one flow with the verifier of
// another is refused; the right pair still works.
func TestOAuthPKCEAnotherFlow(t *testing.T) {
	e, _ := newOAuthEnv(t)
	v1, c1 := pkcePair()
	v2, c2 := pkcePair()
	start := func(challenge string) string {
		u := must(browser(t, e.base+"/authorize?provider=keycloak&code_challenge_method=S256&code_challenge="+challenge, "http://localhost:3000"))
		return u.Query().Get("code")
	}
	code1, code2 := start(c1), start(c2)
	wantError(t, e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code1, "code_verifier": v2}),
		400, CodeBadCodeVerifier, "code challenge does not match previously saved code verifier")
	e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code2, "code_verifier": v2}).mustStatus(t, 200, "flow 2")
	e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code1, "code_verifier": v1}).mustStatus(t, 200, "flow 1")
}

// TestOAuthGoTrueGo drives the PKCE flow with gotrue-go v1.2.0: its
// Authorize makes the authorization URL and verifier, the settings show
// the provider, and after the exchange the user reads its identities.
// gotrue-go's own PKCE exchange sends the code as "code", which GoTrue
// does not read: it gets GoTrue's answer for a missing auth_code.
func TestOAuthGoTrueGo(t *testing.T) {
	e, _ := newOAuthEnv(t)
	c := e.gotrueClient()
	settings, err := c.GetSettings()
	if err != nil || !settings.External.GitHub || !settings.External.Keycloak || settings.External.Bitbucket {
		t.Fatalf("settings: %+v %v", settings.External, err)
	}
	auth, err := c.Authorize(types.AuthorizeRequest{Provider: types.ProviderGitHub, FlowType: types.FlowPKCE})
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	end, _ := browser(t, auth.AuthorizationURL, "http://localhost:3000")
	code := end.Query().Get("code")
	_, err = c.Token(types.TokenRequest{GrantType: "pkce", Code: code, CodeVerifier: auth.Verifier})
	if err == nil || !strings.Contains(err.Error(), "both auth code and code verifier should be non-empty") {
		t.Fatalf("gotrue-go's pkce exchange: %v", err)
	}
	sess := e.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": auth.Verifier}).
		mustStatus(t, 200, "pkce exchange").json(t)
	u, err := c.WithToken(sess["access_token"].(string)).GetUser()
	if err != nil || len(u.Identities) != 1 || u.Identities[0].Provider != "github" || u.Identities[0].ID != "4242" {
		t.Fatalf("user: %+v %v", u, err)
	}
}

// TestOAuthGitLab signs in with GitLab: the primary address counts as
// verified when GitLab confirmed it; the secondary ones never do.
func TestOAuthGitLab(t *testing.T) {
	e, _ := newOAuthEnv(t, func(c *Config) { c.MailerAutoconfirm = false })
	gl := idptest.NewGitLab(t, testClientID, testClientSecret, idptest.GitLabUser{ID: 31, Name: "Margaret",
		Email: "Margaret@Example.com", ConfirmedAt: "2026-01-01T00:00:00Z", Emails: []string{"m.alt@example.com"}})
	ext := e.srv.external.Load().ExternalConfig
	ext.Providers["gitlab"] = ExternalProvider{Enabled: true, ClientID: []string{testClientID}, Secret: testClientSecret,
		RedirectURI: e.base + "/callback", URL: gl.URL}
	if err := e.srv.SetExternal(ext); err != nil {
		t.Fatal(err)
	}
	f := fragment(t, must(browser(t, e.base+"/authorize?provider=gitlab", "http://localhost:3000")))
	if f.Get("access_token") == "" || !strings.HasPrefix(f.Get("provider_token"), "glpat-") || !strings.HasPrefix(f.Get("provider_refresh_token"), "glrt-") {
		t.Fatalf("fragment: %v", f)
	}
	c := parseClaims(t, f.Get("access_token"))
	if c["email"] != "margaret@example.com" || c["user_metadata"].(map[string]any)["email_verified"] != true {
		t.Fatalf("claims: %v", c)
	}
	if n := e.count(`select count(*) from auth.identities where provider = 'gitlab' and provider_id = '31' and email = 'margaret@example.com'`); n != 1 {
		t.Fatalf("gitlab identities: %d", n)
	}
}

// TestOAuthAbandonedFlows: flows abandoned for a day are removed as new
// ones start, so /authorize cannot fill the table.
func TestOAuthAbandonedFlows(t *testing.T) {
	e, _ := newOAuthEnv(t)
	for range 3 {
		e.req("GET", "/authorize?provider=github", nil).mustStatus(t, 302, "authorize")
	}
	e.clock.Advance(25 * time.Hour)
	e.req("GET", "/authorize?provider=keycloak", nil).mustStatus(t, 302, "authorize")
	if n := e.count(`select count(*) from auth.flow_state`); n != 1 {
		t.Fatalf("%d flow states, want the new one only", n)
	}
}
