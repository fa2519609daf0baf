package stacktest

import (
	"encoding/json"
	"testing"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// The official supabase-js client against a whole embedded tenant: sign up,
// call an RPC, read with an embedded relation, and receive a realtime change
// caused by a worker — one client, all four services behind one URL.
func TestSupabaseJSAgainstTenant(t *testing.T) {
	s := Shared()
	out := jstest.Run(t, `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
`+jsTaskUpdateEvent+`
const url = process.env.SFP_URL, anon = process.env.SFP_ANON, service = process.env.SFP_SERVICE;
const opts = { realtime: { transport: WebSocket }, auth: { persistSession: false } };
const user = createClient(url, anon, opts);
const worker = createClient(url, service, opts);
const result = {};

const email = 'js-' + Date.now() + '@example.test';
const { data: signed, error: signErr } = await user.auth.signUp({ email, password: 'js-password-1' });
if (signErr) throw signErr;
result.signedUp = !!signed.session;

const slug = 'js-' + Date.now();
const { data: accountId, error: rpcErr } = await user.rpc('create_account', { name: 'JS Org', slug });
if (rpcErr) throw rpcErr;

const { data: accounts, error: selErr } = await user.from('accounts')
  .select('name, slug, accounts_memberships(account_role)').eq('id', accountId).single();
if (selErr) throw selErr;
result.account = accounts;

const { resourceId, payload } = await taskUpdateEvent(user, worker, accountId, 'js-task', 42);
result.event = { type: payload.eventType, progress: payload.new.progress, status: payload.new.status };

const { error: denied } = await createClient(url, anon, opts).from('task_executions').insert({ account_id: accountId, resource_type: 'x', resource_id: resourceId, kind: 'x' });
result.anonInsert = denied && { code: denied.code };

await user.removeAllChannels();
console.log(JSON.stringify(result));
process.exit(0);
`, map[string]string{"SFP_URL": s.URL, "SFP_ANON": s.AnonKey, "SFP_SERVICE": s.ServiceKey})
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
