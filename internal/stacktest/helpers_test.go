package stacktest

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
