package realtimeserver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// privateJSScript joins a private channel with supabase-js, unchanged, as a
// room member and as an outsider, and prints what each saw.
const privateJSScript = `
import { createClient } from '@supabase/supabase-js'
const { SB_URL, ANON, TOKEN_M, TOKEN_O } = process.env
const client = async (token) => {
  const sb = createClient(SB_URL, ANON, { accessToken: async () => token })
  await sb.realtime.setAuth(token)
  return sb
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const out = { member: null, outsider: null, outsiderError: null, messages: [] }
const m = await client(TOKEN_M), o = await client(TOKEN_O)
await new Promise((resolve, reject) => {
  m.channel('r5', { config: { private: true } })
    .on('broadcast', { event: '*' }, (msg) => out.messages.push(msg))
    .subscribe((status, err) => {
      out.member = status
      if (status === 'SUBSCRIBED') resolve()
      else if (status !== 'CLOSED') reject(new Error('member: ' + status + ' ' + (err && err.message)))
    })
})
await new Promise((resolve) => {
  o.channel('r5', { config: { private: true } }).subscribe((status, err) => {
    if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR') {
      out.outsider = status
      out.outsiderError = err ? err.message : null
      resolve()
    }
  })
})
const end = Date.now() + 45000
while (out.messages.length < 2) {
  if (Date.now() > end) throw new Error('timed out waiting for messages: ' + JSON.stringify(out))
  await sleep(20)
}
console.log(JSON.stringify(out))
process.exit(0)
`

// TestPrivateChannelJS: supabase-js's private channels work unchanged: a
// member of the room joins (with realtime.setAuth) and receives what
// realtime.send and realtime.broadcast_changes broadcast; an outsider's
// join is refused with the official reason.
func TestPrivateChannelJS(t *testing.T) {
	env := newPrivateEnv(t)
	member, outsider := newID(), newID()
	env.exec(`insert into rt_rooms values ('r5', $1)`, member)
	env.exec(`create function public.rt_open_r5() returns trigger language plpgsql as $$
		begin
		  perform realtime.broadcast_changes('r5', tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
		  return null;
		end $$;
		create trigger rt_open_r5 after insert on public.rt_open for each row execute function public.rt_open_r5()`)

	writes := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for env.srv.Stats().Channels < 1 {
			if time.Now().After(deadline) {
				writes <- &testError{"the member never joined"}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := env.admin.Exec(t.Context(), `select realtime.send('{"hello":"world"}', 'greet', 'r5')`); err != nil {
			writes <- err
			return
		}
		_, err := env.admin.Exec(t.Context(), `insert into rt_open values (5, 'five', 5)`)
		writes <- err
	}()
	out := jstest.Run(t, privateJSScript, map[string]string{
		"NODE_OPTIONS": "--experimental-websocket --no-warnings",
		"SB_URL":       env.baseURL(),
		"ANON":         env.anon,
		"TOKEN_M":      userToken(member, time.Hour),
		"TOKEN_O":      userToken(outsider, time.Hour),
	})
	if err := <-writes; err != nil {
		t.Fatal(err)
	}
	var got struct {
		Member, Outsider, OutsiderError string
		Messages                        []struct {
			Type    string         `json:"type"`
			Event   string         `json:"event"`
			Payload map[string]any `json:"payload"`
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("decode script output %q: %v", out, err)
	}
	if got.Member != "SUBSCRIBED" {
		t.Errorf("member status %q", got.Member)
	}
	if got.Outsider != "CHANNEL_ERROR" || !strings.Contains(got.OutsiderError, "You do not have permissions to read from this Channel topic: r5") {
		t.Errorf("outsider status %q, error %q; want the join refused", got.Outsider, got.OutsiderError)
	}
	if len(got.Messages) != 2 {
		t.Fatalf("member received %+v", got.Messages)
	}
	if m := got.Messages[0]; m.Type != "broadcast" || m.Event != "greet" || m.Payload["hello"] != "world" {
		t.Errorf("realtime.send message = %+v", m)
	}
	m := got.Messages[1]
	rec, _ := m.Payload["record"].(map[string]any)
	if m.Event != "INSERT" || m.Payload["operation"] != "INSERT" || m.Payload["table"] != "rt_open" || rec["label"] != "five" {
		t.Errorf("realtime.broadcast_changes message = %+v", m)
	}
}
