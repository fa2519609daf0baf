package stacktest

import (
	"encoding/json"
	"testing"
)

// The official supabase-js client against a whole embedded tenant: sign up,
// call an RPC, read with an embedded relation, and receive a realtime change
// caused by a worker — one client, all four services behind one URL.
func TestSupabaseJSAgainstTenant(t *testing.T) {
	s := Shared()
	out := runUserAndWorker(t, s, s.AnonKey, s.ServiceKey, `
const email = 'js-' + Date.now() + '@example.test';
const { data: signed, error: signErr } = await user.auth.signUp({ email, password: 'js-password-1' });
if (signErr) throw signErr;
result.signedUp = !!signed.session;

await accountAndEvent('JS Org', 'js-task', 42);
`)
	var res struct {
		SignedUp bool `json:"signedUp"`
		Account  struct {
			Name        string `json:"name"`
			Memberships []struct {
				Role string `json:"account_role"`
			} `json:"accounts_memberships"`
		} `json:"account"`
		Event struct {
			Type     string  `json:"type"`
			Progress float64 `json:"progress"`
			Status   string  `json:"status"`
		} `json:"event"`
		AnonInsert *struct {
			Code string `json:"code"`
		} `json:"anonInsert"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !res.SignedUp || res.Account.Name != "JS Org" || len(res.Account.Memberships) != 1 || res.Account.Memberships[0].Role != "owner" {
		t.Errorf("sign-up/account: %s", out)
	}
	if res.Event.Type != "UPDATE" || res.Event.Progress != 42 || res.Event.Status != "running" {
		t.Errorf("realtime event: %s", out)
	}
	if res.AnonInsert == nil || res.AnonInsert.Code != "42501" {
		t.Errorf("anon insert should be refused with 42501: %s", out)
	}
}
