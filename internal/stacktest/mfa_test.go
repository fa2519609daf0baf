package stacktest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	gotrue "github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"

	"github.com/sfp-dev/sfp/internal/jstest"
	"github.com/sfp-dev/sfp/internal/pgtest"
)

// totpCodes are the codes of secret for the 30-second steps from a minute
// ago to ten minutes ahead, keyed by step number, computed with pquerna/otp.
// A script picks the one of its own time, however long node takes to start.
func totpCodes(t *testing.T, secret string) string {
	t.Helper()
	codes := map[string]string{}
	now := time.Now()
	for i := -2; i <= 20; i++ {
		at := now.Add(time.Duration(i) * 30 * time.Second)
		code, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatalf("generate totp code: %v", err)
		}
		codes[strconv.FormatInt(at.Unix()/30, 10)] = code
	}
	raw, _ := json.Marshal(codes)
	return string(raw)
}

const mfaJSEnroll = `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
const sb = createClient(process.env.SFP_URL, process.env.SFP_ANON, { realtime: { transport: WebSocket }, auth: { persistSession: false, autoRefreshToken: false } });
const must = (res, what) => { if (res.error) throw new Error(what + ': ' + JSON.stringify(res.error)); return res.data; };
const signed = must(await sb.auth.signInWithPassword({ email: process.env.SFP_EMAIL, password: process.env.SFP_PASSWORD }), 'signIn');
const enrolled = must(await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'js app' }), 'enroll');
const aal = must(await sb.auth.mfa.getAuthenticatorAssuranceLevel(), 'aal');
console.log(JSON.stringify({
  factorId: enrolled.id, type: enrolled.type, secret: enrolled.totp.secret,
  qrIsDataURI: enrolled.totp.qr_code.startsWith('data:image/svg+xml'), uri: enrolled.totp.uri,
  aal: { current: aal.currentLevel, next: aal.nextLevel },
  access: signed.session.access_token, refresh: signed.session.refresh_token,
}));
process.exit(0);
`

const mfaJSVerify = `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
const sb = createClient(process.env.SFP_URL, process.env.SFP_ANON, { realtime: { transport: WebSocket }, auth: { persistSession: false, autoRefreshToken: false } });
const must = (res, what) => { if (res.error) throw new Error(what + ': ' + JSON.stringify(res.error)); return res.data; };
const codes = JSON.parse(process.env.SFP_CODES);
const code = () => codes[String(Math.floor(Date.now() / 30000))];
must(await sb.auth.setSession({ access_token: process.env.SFP_ACCESS, refresh_token: process.env.SFP_REFRESH }), 'setSession');
const r = {};
r.readAtAAL1 = (await sb.rpc('get_integration_credentials', { integration_id: process.env.SFP_INTEGRATION })).error?.code ?? 'allowed';
const factorId = process.env.SFP_FACTOR;
const ch = must(await sb.auth.mfa.challenge({ factorId }), 'challenge');
r.wrongCode = (await sb.auth.mfa.verify({ factorId, challengeId: ch.id, code: '000000' })).error?.code;
must(await sb.auth.mfa.verify({ factorId, challengeId: ch.id, code: code() }), 'verify');
const aal = must(await sb.auth.mfa.getAuthenticatorAssuranceLevel(), 'aal');
r.aal = { current: aal.currentLevel, next: aal.nextLevel, methods: aal.currentAuthenticationMethods.map((m) => m.method).sort() };
const factors = must(await sb.auth.mfa.listFactors(), 'listFactors');
r.factors = factors.totp.map((f) => ({ id: f.id === factorId, status: f.status, name: f.friendly_name }));
r.readAtAAL2 = must(await sb.rpc('get_integration_credentials', { integration_id: process.env.SFP_INTEGRATION }), 'read at aal2');
const again = must(await sb.auth.mfa.challenge({ factorId }), 'challenge again');
r.reusedCode = (await sb.auth.mfa.verify({ factorId, challengeId: again.id, code: code() })).error?.code;
console.log(JSON.stringify(r));
process.exit(0);
`

// TestMFAThroughGateway enrolls and verifies a TOTP factor with supabase-js
// (mfa.enroll, challenge, verify, listFactors,
// getAuthenticatorAssuranceLevel) and gotrue-go through the gateway, codes
// computed with pquerna/otp, and checks that the tenant schema then asks
// this user for aal2 before handing out integration credentials.
func TestMFAThroughGateway(t *testing.T) {
	s := Shared()
	u := s.NewUser(t)
	var accountID, integrationID string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken,
		map[string]any{"name": "MFA Org", "slug": "mfa-" + pgtest.RandomHex(3)}, http.StatusOK, &accountID)
	var created []struct {
		ID string `json:"id"`
	}
	s.Do(t, http.MethodPost, "/rest/v1/integrations", u.AccessToken,
		map[string]any{"account_id": accountID, "name": "gh", "provider": "github", "auth_type": "token"},
		http.StatusCreated, &created, "Prefer", "return=representation")
	integrationID = created[0].ID
	s.Do(t, http.MethodPost, "/rest/v1/rpc/set_integration_credentials", u.AccessToken,
		map[string]any{"integration_id": integrationID, "credentials": map[string]any{"token": "ghp_mfa"}}, http.StatusNoContent, nil)

	env := map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.AnonKey, "SFP_EMAIL": u.Email, "SFP_PASSWORD": u.Password}
	var enrolled struct {
		FactorID, Type, Secret, URI, Access, Refresh string
		QRIsDataURI                                  bool
		AAL                                          struct{ Current, Next string }
	}
	out := jstest.Run(t, mfaJSEnroll, env)
	if err := json.Unmarshal(out, &enrolled); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if enrolled.Type != "totp" || !enrolled.QRIsDataURI || !strings.HasPrefix(enrolled.URI, "otpauth://totp/") ||
		enrolled.AAL.Current != "aal1" || enrolled.AAL.Next != "aal1" {
		t.Fatalf("enroll through supabase-js: %s", out)
	}

	env["SFP_ACCESS"], env["SFP_REFRESH"], env["SFP_FACTOR"] = enrolled.Access, enrolled.Refresh, enrolled.FactorID
	env["SFP_INTEGRATION"], env["SFP_CODES"] = integrationID, totpCodes(t, enrolled.Secret)
	out = jstest.Run(t, mfaJSVerify, env)
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]string{
		// Before verification the factor is not verified: aal1 still reads.
		"readAtAAL1": `"allowed"`,
		"wrongCode":  `"mfa_verification_failed"`,
		"aal":        `{"current":"aal2","methods":["password","totp"],"next":"aal2"}`,
		"factors":    `[{"id":true,"name":"js app","status":"verified"}]`,
		"readAtAAL2": `{"token":"ghp_mfa"}`,
		"reusedCode": `"mfa_verification_failed"`,
	}
	for k, w := range want {
		if g, _ := json.Marshal(got[k]); string(g) != w {
			t.Errorf("%s: got %s, want %s", k, g, w)
		}
	}

	// A new password session is aal1: the schema refuses it the credentials
	// (42501 → 403) until it verifies the factor, here with gotrue-go.
	hc := http.Client{Timeout: 30 * time.Second}
	anon := gotrue.New("unused", s.AnonKey).WithCustomGoTrueURL(s.URL + "/auth/v1").WithClient(hc)
	session, err := anon.SignInWithEmailPassword(u.Email, u.Password)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	s.Do(t, http.MethodPost, "/rest/v1/rpc/get_integration_credentials", session.AccessToken,
		map[string]any{"integration_id": integrationID}, http.StatusForbidden, nil)
	client := anon.WithToken(session.AccessToken)
	factorID := mustUUID(t, enrolled.FactorID)
	ch, err := client.ChallengeFactor(types.ChallengeFactorRequest{FactorID: factorID})
	if err != nil {
		t.Fatalf("gotrue-go challenge: %v", err)
	}
	// The next step's code: the script used the current one, and the server
	// accepts one step of skew.
	code, err := totp.GenerateCode(enrolled.Secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	verified, err := client.VerifyFactor(types.VerifyFactorRequest{FactorID: factorID, ChallengeID: ch.ID, Code: code})
	if err != nil {
		t.Fatalf("gotrue-go verify: %v", err)
	}
	var creds map[string]any
	s.Do(t, http.MethodPost, "/rest/v1/rpc/get_integration_credentials", verified.AccessToken,
		map[string]any{"integration_id": integrationID}, http.StatusOK, &creds)
	if creds["token"] != "ghp_mfa" {
		t.Fatalf("credentials at aal2: %v", creds)
	}

	// The admin API lists the factor; unenrolling at aal2 works.
	admin := anon.WithToken(s.ServiceKey)
	list, err := admin.AdminListUserFactors(types.AdminListUserFactorsRequest{UserID: mustUUID(t, u.ID)})
	if err != nil || len(list.Factors) != 1 || list.Factors[0].Status != "verified" {
		t.Fatalf("admin list factors: %+v %v", list, err)
	}
	if _, err := client.WithToken(verified.AccessToken).UnenrollFactor(types.UnenrollFactorRequest{FactorID: factorID}); err != nil {
		t.Fatalf("gotrue-go unenroll: %v", err)
	}
	// Without a verified factor, aal1 is enough again.
	s.Do(t, http.MethodPost, "/rest/v1/rpc/get_integration_credentials", session.AccessToken,
		map[string]any{"integration_id": integrationID}, http.StatusOK, nil)
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatalf("not a uuid %q: %v", s, err)
	}
	return id
}
