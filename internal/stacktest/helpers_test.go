package stacktest

import (
	"testing"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// jsTaskUpdateEvent is supabase-js code the compatibility scripts share:
// taskUpdateEvent(user, worker, accountId, channel, progress) has the worker
// queue a task on a new resource of the account, subscribes the user to
// that resource's task changes on channel and, once subscribed, has the
// worker set the task running at progress. It resolves with the resource id
// and the realtime payload the user received (or fails after 30 s).
const jsTaskUpdateEvent = `
async function taskUpdateEvent(user, worker, accountId, channel, progress) {
  const resourceId = crypto.randomUUID();
  const { data: task, error: insErr } = await worker.from('task_executions')
    .insert({ account_id: accountId, resource_type: 'build', resource_id: resourceId, kind: 'build' })
    .select('id').single();
  if (insErr) throw insErr;
  const payload = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no realtime event')), 30000);
    user.channel(channel).on('postgres_changes',
      { event: 'UPDATE', schema: 'public', table: 'task_executions', filter: 'resource_id=eq.' + resourceId },
      (payload) => { clearTimeout(timer); resolve(payload); })
    .subscribe(async (status, err) => {
      if (status === 'SUBSCRIBED') {
        const { error } = await worker.from('task_executions').update({ status: 'running', progress }).eq('id', task.id);
        if (error) reject(error);
      } else if (err) reject(err);
    });
  });
  return { resourceId, payload };
}
`

// runUserAndWorker runs a supabase-js script against s with two clients of
// the tenant in scope: user, with userKey (as url and userKey), and worker,
// with workerKey, both with opts; then taskUpdateEvent and
// accountAndEvent(name, channel, progress), which has user create an
// account and read it back with its membership (result.account), has
// taskUpdateEvent deliver a task change on channel (result.event) and has a
// client with the user's key but no session try a task insert
// (result.anonInsert). The script fills result, which is printed as JSON
// (the return value) once it ends.
func runUserAndWorker(t *testing.T, s *Stack, userKey, workerKey, script string) []byte {
	t.Helper()
	return jstest.Run(t, `
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
`+jsTaskUpdateEvent+`
const url = process.env.SFP_URL, userKey = process.env.SFP_USER_KEY;
const opts = { realtime: { transport: WebSocket }, auth: { persistSession: false } };
const user = createClient(url, userKey, opts);
const worker = createClient(url, process.env.SFP_WORKER_KEY, opts);
const result = {};

async function accountAndEvent(name, channel, progress) {
  const { data: accountId, error: rpcErr } = await user.rpc('create_account', { name, slug: channel + '-' + Date.now() });
  if (rpcErr) throw rpcErr;
  const { data: account, error: selErr } = await user.from('accounts')
    .select('name, slug, accounts_memberships(account_role)').eq('id', accountId).single();
  if (selErr) throw selErr;
  result.account = account;
  const { resourceId, payload } = await taskUpdateEvent(user, worker, accountId, channel, progress);
  result.event = { type: payload.eventType, progress: payload.new.progress, status: payload.new.status };
  const { error: denied } = await createClient(url, userKey, opts).from('task_executions')
    .insert({ account_id: accountId, resource_type: 'x', resource_id: resourceId, kind: 'x' });
  result.anonInsert = denied && { code: denied.code };
}
`+script+`
await user.removeAllChannels();
console.log(JSON.stringify(result));
process.exit(0);
`, map[string]string{"SFP_URL": s.URL, "SFP_USER_KEY": userKey, "SFP_WORKER_KEY": workerKey})
}
