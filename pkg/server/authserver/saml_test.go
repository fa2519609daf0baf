package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A SAML sign-in through a real IdP, implicit flow: the user is created as
// GoTrue creates SSO users, the tokens come back in the fragment with the
// sso/saml amr naming the provider, and a second sign-in finds the same
// user.
func TestSAMLSignInImplicit(t *testing.T) {
	s := newSAMLSetup(t)
	final, err := s.browser.SignIn(context.Background(),
		s.startSSO(map[string]any{"domain": "acme.test", "redirect_to": testSiteURL + "/welcome"}), "ada", adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(final.String(), testSiteURL+"/welcome#") {
		t.Fatalf("sign-in ended at %s", final)
	}
	tokens := samlFragment(t, final)
	claims := parseClaims(t, tokens.Get("access_token"))
	if claims["email"] != adaEmail || claims["aal"] != "aal1" {
		t.Errorf("claims %v", claims)
	}
	amr, _ := claims["amr"].([]any)
	if len(amr) != 1 {
		t.Fatalf("amr %v", claims["amr"])
	}
	entry := amr[0].(map[string]any)
	if entry["method"] != "sso/saml" || entry["provider"] != s.providerID {
		t.Errorf("amr entry %v, want method sso/saml, provider %s", entry, s.providerID)
	}
	app := claims["app_metadata"].(map[string]any)
	if app["provider"] != "sso:"+s.providerID {
		t.Errorf("app_metadata %v", app)
	}

	user := s.req("GET", "/user", nil, "Authorization", "Bearer "+tokens.Get("access_token")).mustStatus(t, 200, "GET /user").json(t)
	ids := user["identities"].([]any)
	if len(ids) != 1 {
		t.Fatalf("identities %v", ids)
	}
	id := ids[0].(map[string]any)
	data := id["identity_data"].(map[string]any)
	if id["provider"] != "sso:"+s.providerID || id["id"] != adaEmail {
		t.Errorf("identity %v", id)
	}
	if data["iss"] != s.idp.EntityID() || data["sub"] != adaEmail || data["email_verified"] != true || data["name"] != "Ada Lovelace" {
		t.Errorf("identity_data %v", data)
	}
	custom, _ := data["custom_claims"].(map[string]any)
	if groups, _ := custom["groups"].([]any); len(groups) != 2 || custom["department"] != "engineering" {
		t.Errorf("custom_claims %v (groups as an array, department from its default)", custom)
	}
	if user["user_metadata"].(map[string]any)["name"] != "Ada Lovelace" {
		t.Errorf("user_metadata %v", user["user_metadata"])
	}
	uid := user["id"].(string)
	if s.scalar(`select is_sso_user from auth.users where id = $1`, uid) != true {
		t.Error("the user is not marked is_sso_user")
	}
	if n := s.scalar(`select count(*) from auth.mfa_amr_claims c join auth.sessions s on s.id = c.session_id
		where s.user_id = $1 and c.authentication_method = 'sso/saml'`, uid).(int64); n != 1 {
		t.Errorf("%d sso/saml amr claims", n)
	}
	if n := s.scalar(`select count(*) from auth.audit_log_entries where payload->>'action' = 'user_signedup'
		and payload->>'actor_id' = $1 and (payload->>'actor_via_sso')::boolean
		and payload->'traits'->>'provider' = $2`, uid, "sso:"+s.providerID).(int64); n != 1 {
		t.Errorf("%d user_signedup audit entries for the SSO user", n)
	}
	if n := s.scalar(`select count(*) from auth.saml_relay_states`).(int64); n != 0 {
		t.Errorf("%d relay states left after the sign-in", n)
	}

	// The IdP owns the user's address and credentials; metadata is the
	// user's. No password sign-in reaches an SSO user.
	bearer := "Bearer " + tokens.Get("access_token")
	wantError(t, s.req("PUT", "/user", map[string]any{"password": "a-new-password"}, "Authorization", bearer),
		422, CodeUserSSOManaged, "only possible via SSO")
	wantError(t, s.req("PUT", "/user", map[string]any{"email": "ada@elsewhere.test"}, "Authorization", bearer),
		422, CodeUserSSOManaged, "only possible via SSO")
	s.req("PUT", "/user", map[string]any{"data": map[string]any{"theme": "dark"}}, "Authorization", bearer).mustStatus(t, 200, "PUT /user data")
	wantError(t, s.req("POST", "/token?grant_type=password", map[string]any{"email": adaEmail, "password": adaPassword}),
		400, CodeInvalidCredentials, "Invalid login credentials")

	// The refresh keeps the amr and its provider.
	refreshed := s.refresh(tokens.Get("refresh_token")).mustStatus(t, 200, "refresh").json(t)
	ramr := parseClaims(t, refreshed["access_token"].(string))["amr"].([]any)[0].(map[string]any)
	if ramr["method"] != "sso/saml" || ramr["provider"] != s.providerID {
		t.Errorf("refreshed amr %v", ramr)
	}

	// Again: the same user, a login audit entry, no second user.
	final, err = s.browser.SignIn(context.Background(), s.startSSO(map[string]any{"provider_id": s.providerID}), "ada", adaPassword)
	if err != nil {
		t.Fatal(err)
	}
	if got := parseClaims(t, samlFragment(t, final).Get("access_token"))["sub"]; got != uid {
		t.Errorf("second sign-in is user %v, want %s", got, uid)
	}
	if !strings.HasPrefix(final.String(), testSiteURL+"#") {
		t.Errorf("without redirect_to the sign-in ends at the site URL, not %s", final)
	}
	if n := s.ssoUsers(); n != 1 {
		t.Errorf("%d SSO users after two sign-ins", n)
	}
}

// An assertion's SessionNotOnOrAfter ends the session then, as in GoTrue:
// the refresh token stops working at that time.
func TestSAMLSessionNotAfter(t *testing.T) {
	s := newSAMLSetup(t)
	end := s.clock.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	s.idp.EndSessionsAt(end)
	tokens := samlFragment(t, s.post(s.idpResponse(map[string]any{"domain": "acme.test"})))
	got := s.scalar(`select not_after from auth.sessions`).(time.Time)
	if !got.Equal(end) {
		t.Fatalf("session not_after %s, want %s", got, end)
	}
	s.clock.Advance(31 * time.Minute)
	wantError(t, s.refresh(tokens.Get("refresh_token")), 400, CodeSessionExpired, "Session Expired")
}

// Sign-ins abandoned at the IdP are deleted a day later, as GoTrue's
// cleanup does.
func TestSAMLAbandonedSignInsCleanedUp(t *testing.T) {
	s := newSAMLSetup(t)
	s.startSSO(map[string]any{"domain": "acme.test"})
	s.clock.Advance(samlStateLifetime + time.Minute)
	s.startSSO(map[string]any{"domain": "acme.test"})
	relays := s.scalar(`select count(*) from auth.saml_relay_states`).(int64)
	flows := s.scalar(`select count(*) from auth.flow_state where authentication_method = 'sso/saml'`).(int64)
	if relays != 1 || flows != 1 {
		t.Errorf("%d relay states and %d flow states left; want only the new sign-in's", relays, flows)
	}
}

// Without skip_http_redirect, POST /sso redirects (303) to the IdP with a
// signed AuthnRequest and our relay state.
func TestSSORedirect(t *testing.T) {
	s := newSAMLSetup(t)
	r := s.req("POST", "/sso", map[string]any{"domain": "ACME.test"}, "apikey", s.anonKey)
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /sso: %d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	for _, part := range []string{s.idp.URL + "/sso?", "SAMLRequest=", "RelayState=", "Signature=", "SigAlg="} {
		if !strings.Contains(loc, part) {
			t.Errorf("Location %s lacks %s", loc, part)
		}
	}
	if n := s.scalar(`select count(*) from auth.saml_relay_states r join auth.flow_state f on f.id = r.flow_state_id
		where f.authentication_method = 'sso/saml' and f.auth_code is null`).(int64); n != 1 {
		t.Errorf("%d relay states with an implicit flow state", n)
	}
}

// PKCE: the ACS gives the browser a code, which only the right verifier
// exchanges, once.
func TestSAMLSignInPKCE(t *testing.T) {
	s := newSAMLSetup(t)
	verifier := strings.Repeat("v3rifier-", 6)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	final := s.post(s.idpResponse(map[string]any{"domain": "acme.test", "redirect_to": testSiteURL + "/cb",
		"code_challenge": challenge, "code_challenge_method": "s256"}))
	code := final.Query().Get("code")
	if !strings.HasPrefix(final.String(), testSiteURL+"/cb?") || code == "" || final.Fragment != "" {
		t.Fatalf("PKCE sign-in ended at %s", final)
	}
	if n := s.scalar(`select count(*) from auth.sessions`).(int64); n != 0 {
		t.Errorf("%d sessions before the code exchange", n)
	}
	wrong := s.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": strings.Repeat("x", 48)})
	wantError(t, wrong, 400, CodeBadCodeVerifier, "code challenge does not match")
	ok := s.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier}).
		mustStatus(t, 200, "PKCE exchange").json(t)
	amr := parseClaims(t, ok["access_token"].(string))["amr"].([]any)[0].(map[string]any)
	if amr["method"] != "sso/saml" || amr["provider"] != s.providerID {
		t.Errorf("amr %v", amr)
	}
	if ok["user"].(map[string]any)["email"] != adaEmail {
		t.Errorf("user %v", ok["user"])
	}
	again := s.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier})
	wantError(t, again, 404, CodeFlowStateNotFound, "no valid flow state")
}

// The code exchange refuses a flow state older than five minutes.
func TestSAMLPKCEExpired(t *testing.T) {
	s := newSAMLSetup(t)
	verifier := strings.Repeat("a", 43)
	final := s.post(s.idpResponse(map[string]any{"domain": "acme.test", "code_challenge": verifier, "code_challenge_method": "plain"}))
	s.clock.Advance(samlFlowStateExpiry + time.Second)
	r := s.req("POST", "/token?grant_type=pkce", map[string]any{"auth_code": final.Query().Get("code"), "code_verifier": verifier})
	wantError(t, r, 422, CodeFlowStateExpired, "flow state has expired")
}

// GET /sso/saml/metadata describes the SP at the external URL, with the
// certificate of the configured key.
func TestSAMLMetadata(t *testing.T) {
	e := newSAMLEnv(t)
	r := e.req("GET", "/sso/saml/metadata", nil).mustStatus(t, 200, "metadata")
	body := string(r.body)
	for _, want := range []string{
		`entityID="` + e.base + `/sso/saml/metadata"`,
		`Location="` + e.base + `/sso/saml/acs"`,
		base64.StdEncoding.EncodeToString(e.srv.cfg.SAML.certificate.Raw),
		"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metadata lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `use="encryption"`) || strings.Contains(body, "AuthnRequestsSigned") {
		t.Errorf("metadata offers encryption or promises signed requests:\n%s", body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/xml" || r.header.Get("Content-Disposition") != "" {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, r.header.Get("Content-Disposition"))
	}
	if r := e.req("GET", "/sso/saml/acs", nil); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET /sso/saml/acs: %d Allow %q (GoTrue has the ACS for POST only)", r.status, r.header.Get("Allow"))
	}
	d := e.req("GET", "/sso/saml/metadata?download=true", nil).mustStatus(t, 200, "metadata download")
	if d.header.Get("Content-Disposition") != `attachment; filename="metadata.xml"` {
		t.Errorf("download Content-Disposition %q", d.header.Get("Content-Disposition"))
	}
	settings := e.req("GET", "/settings", nil).json(t)
	if settings["saml_enabled"] != true {
		t.Errorf("settings saml_enabled %v", settings["saml_enabled"])
	}
}

// POST /sso's refusals, as GoTrue's.
func TestSSOValidation(t *testing.T) {
	s := newSAMLSetup(t)
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"neither", map[string]any{}, 400, CodeValidationFailed, "A provider_id or domain needs to be provided"},
		{"both", map[string]any{"domain": "acme.test", "provider_id": s.providerID}, 400, CodeValidationFailed, "Only one of provider_id or domain supported"},
		{"unknown domain", map[string]any{"domain": "other.test"}, 404, CodeSSOProviderNotFound, "No SSO provider assigned for this domain"},
		{"unknown provider", map[string]any{"provider_id": newUUID()}, 404, CodeSSOProviderNotFound, "No such SSO provider"},
		{"bad provider id", map[string]any{"provider_id": "nope"}, 400, CodeBadJSON, "Could not parse request body as JSON"},
		{"challenge without method", map[string]any{"domain": "acme.test", "code_challenge": strings.Repeat("a", 43)}, 400, CodeValidationFailed, "PKCE flow requires code_challenge_method and code_challenge"},
		{"short challenge", map[string]any{"domain": "acme.test", "code_challenge": "abc", "code_challenge_method": "s256"}, 400, CodeValidationFailed, "code challenge has to be between 43 and 128 characters"},
		{"bad method", map[string]any{"domain": "acme.test", "code_challenge": strings.Repeat("a", 43), "code_challenge_method": "md5"}, 400, CodeValidationFailed, "Invalid code_challenge_method"},
		{"not JSON", "domain=acme.test", 400, CodeBadJSON, "Could not parse request body as JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, s.req("POST", "/sso", c.body, "apikey", s.anonKey), c.status, c.code, c.msg)
		})
	}
	disabled := true
	s.req("PUT", "/admin/sso/providers/"+s.providerID, map[string]any{"disabled": disabled}, "Authorization", "Bearer "+s.serviceKey).
		mustStatus(t, 200, "disable provider")
	wantError(t, s.req("POST", "/sso", map[string]any{"domain": "acme.test"}), 404, CodeSSOProviderDisabled, "SSO Provider is currently disabled")
	if n := s.scalar(`select count(*) from auth.saml_relay_states`).(int64); n != 0 {
		t.Errorf("refused requests left %d relay states", n)
	}
}
