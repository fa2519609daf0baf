package stacktest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	gotrue "github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The key model Supabase recommends, alone: a tenant with legacy keys off,
// used by the official clients with its publishable and secret keys only.
// Its access tokens are ES256 with a kid; the legacy JWT keys are refused.
func TestNewKeyModelOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Configure: func(c *tenant.Config) {
		off := false
		c.Auth.LegacyKeys = &off
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	cur, ok := s.Tenant.Secrets.SigningKeyByStatus(tenant.SigningCurrent)
	if !ok {
		t.Fatal("the tenant has no signing key")
	}

	t.Run("supabase-js", func(t *testing.T) { supabaseJSWithPublishableKey(t, s, cur.ID) })
	t.Run("gotrue-go", func(t *testing.T) { goTrueGoWithPublishableKey(t, s, cur.ID) })
	t.Run("realtime client", func(t *testing.T) { realtimeWithPublishableKey(t, s) })

	t.Run("legacy keys refused", func(t *testing.T) {
		for _, key := range []string{s.AnonKey, s.ServiceKey} {
			resp, body := s.Send(t, http.MethodGet, "/rest/v1/accounts", key, "", nil)
			if resp.StatusCode != 401 || !strings.Contains(string(body), `"message":"Unauthorized"`) || resp.Header.Get("WWW-Authenticate") != "Key" {
				t.Errorf("legacy key as apikey: %d %s", resp.StatusCode, body)
			}
		}
		// A legacy key as the bearer, beside a valid apikey: PostgREST
		// refuses HS256 when legacy tokens are off.
		resp, body := s.Send(t, http.MethodGet, "/rest/v1/accounts", s.PublishableKey, s.ServiceKey, nil)
		if resp.StatusCode != 401 || !strings.Contains(string(body), "PGRST301") {
			t.Errorf("legacy service key as bearer: %d %s", resp.StatusCode, body)
		}
	})
}

func headerKID(t *testing.T, tok string) (alg, kid string) {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	var h struct{ Alg, Kid string }
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("token header %q", seg)
	}
	return h.Alg, h.Kid
}

// supabase-js (test/js) with the publishable key for a user and the secret
// key for a worker: sign up and in, getClaims (verified locally against the
// JWKS), RPC, an embedded read and a write under RLS, a realtime change.
func supabaseJSWithPublishableKey(t *testing.T, s *Stack, kid string) {
	out := runUserAndWorker(t, s, s.PublishableKey, s.SecretKey, `
const header = (tok) => JSON.parse(Buffer.from(tok.split('.')[0], 'base64url').toString());

const email = 'pub-' + Date.now() + '@example.test';
const { data: signed, error: signErr } = await user.auth.signUp({ email, password: 'js-password-1' });
if (signErr) throw signErr;
result.signUpHeader = header(signed.session.access_token);

const { data: signedIn, error: inErr } = await user.auth.signInWithPassword({ email, password: 'js-password-1' });
if (inErr) throw inErr;
result.signInHeader = header(signedIn.session.access_token);

// Verified with WebCrypto against /auth/v1/.well-known/jwks.json (ES256 + kid):
// the client then holds the fetched JWKS (it asks the server otherwise).
const { data: claims, error: claimsErr } = await user.auth.getClaims();
if (claimsErr) throw claimsErr;
result.jwksKids = (user.auth.jwks?.keys ?? []).map((k) => k.kid);
result.claims = { sub: claims.claims.sub, role: claims.claims.role, kid: claims.header.kid, email: claims.claims.email };
result.userId = signedIn.user.id;

await accountAndEvent('Pub Org', 'pub-task', 7);
`)
	var res struct {
		SignUpHeader, SignInHeader struct{ Alg, Kid string }
		Claims                     struct{ Sub, Role, Kid, Email string }
		UserID                     string   `json:"userId"`
		JWKSKids                   []string `json:"jwksKids"`
		Account                    struct {
			Name        string `json:"name"`
			Memberships []struct {
				Role string `json:"account_role"`
			} `json:"accounts_memberships"`
		}
		Event struct {
			Type     string  `json:"type"`
			Progress float64 `json:"progress"`
		}
		AnonInsert *struct{ Code string } `json:"anonInsert"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, h := range map[string]struct{ Alg, Kid string }{"sign-up": res.SignUpHeader, "sign-in": res.SignInHeader} {
		if h.Alg != "ES256" || h.Kid != kid {
			t.Errorf("%s token header %+v, want ES256 with kid %s", name, h, kid)
		}
	}
	if res.Claims.Sub != res.UserID || res.Claims.Role != "authenticated" || res.Claims.Kid != kid {
		t.Errorf("getClaims: %+v (user %s)", res.Claims, res.UserID)
	}
	if len(res.JWKSKids) != 1 || res.JWKSKids[0] != kid {
		t.Errorf("supabase-js did not verify against the JWKS (it holds keys %v)", res.JWKSKids)
	}
	if res.Account.Name != "Pub Org" || len(res.Account.Memberships) != 1 || res.Account.Memberships[0].Role != "owner" {
		t.Errorf("account: %s", out)
	}
	if res.Event.Type != "UPDATE" || res.Event.Progress != 7 {
		t.Errorf("realtime event: %s", out)
	}
	if res.AnonInsert == nil || res.AnonInsert.Code != "42501" {
		t.Errorf("the publishable key alone must not insert: %s", out)
	}
}

// gotrue-go with the publishable key: it sends the key as apikey and as
// its bearer when it has no user token, which the gateway replaces.
func goTrueGoWithPublishableKey(t *testing.T, s *Stack, kid string) {
	hc := http.Client{Timeout: 30 * time.Second}
	c := gotrue.New("unused", s.PublishableKey).WithCustomGoTrueURL(s.URL + "/auth/v1").WithClient(hc)
	email := "gotrue-pub-" + pgtest.RandomHex(4) + "@example.test"
	signup, err := c.Signup(types.SignupRequest{Email: email, Password: "first-password"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	if alg, k := headerKID(t, signup.AccessToken); alg != "ES256" || k != kid {
		t.Errorf("signup token %s %s", alg, k)
	}
	session, err := c.SignInWithEmailPassword(email, "first-password")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if me, err := c.WithToken(session.AccessToken).GetUser(); err != nil || me.Email != email {
		t.Fatalf("get user: %+v %v", me, err)
	}
	refreshed, err := c.RefreshToken(session.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// The admin API with the secret key as apikey: the gateway gives auth
	// the service_role JWT.
	admin := gotrue.New("unused", s.SecretKey).WithCustomGoTrueURL(s.URL + "/auth/v1").WithClient(hc)
	if list, err := admin.AdminListUsers(); err != nil || len(list.Users) == 0 {
		t.Fatalf("admin list with the secret key: %v", err)
	}
	// The user's token works against REST.
	var accountID string
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/rest/v1/rpc/create_account", strings.NewReader(`{"name":"GoTrue Pub","slug":"gotrue-pub-`+pgtest.RandomHex(3)+`"}`))
	req.Header.Set("apikey", s.PublishableKey)
	req.Header.Set("Authorization", "Bearer "+refreshed.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&accountID); resp.StatusCode != 200 || err != nil {
		t.Fatalf("create_account with the refreshed ES256 token: %d %v", resp.StatusCode, err)
	}
}

// Our realtime client with the publishable key: the gateway hands the
// socket the anon role's JWT; a user's ES256 token sees its own change.
func realtimeWithPublishableKey(t *testing.T, s *Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := s.NewUserWith(t, s.SecretKey, s.PublishableKey)
	var account string
	s.DoWith(t, s.PublishableKey, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "RT Pub", "slug": "rt-pub-" + pgtest.RandomHex(3)}, http.StatusOK, &account)
	c, err := realtime.New(s.URL, s.PublishableKey, realtime.WithAccessToken(func(context.Context) (string, error) { return u.AccessToken, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect with the publishable key: %v", err)
	}
	defer c.Close()
	events := make(chan string, 10)
	resourceID := "3f2b6a7e-2222-4222-8333-" + pgtest.RandomHex(6)
	ch := c.Channel("rt-pub").OnPostgresChanges(realtime.PostgresChangesFilter{
		Event: realtime.Insert, Schema: "public", Table: "task_executions", Filter: "resource_id=eq." + resourceID,
	}, func(e *realtime.PostgresChangeEvent) {
		var rec struct {
			ResourceID string `json:"resource_id"`
		}
		json.Unmarshal(e.Record, &rec)
		events <- rec.ResourceID
	})
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	s.DoWith(t, s.PublishableKey, http.MethodPost, "/rest/v1/task_executions", u.AccessToken,
		map[string]any{"account_id": account, "resource_type": "build", "resource_id": resourceID, "kind": "build"}, http.StatusCreated, nil)
	select {
	case id := <-events:
		if id != resourceID {
			t.Errorf("change for %q", id)
		}
	case <-ctx.Done():
		t.Fatal("no realtime change")
	}
}
