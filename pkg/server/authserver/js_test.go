package authserver

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// authJSScript runs the auth-js calls an app makes, through supabase-js, and
// prints what each returned. Errors are reduced to the fields apps branch on.
const authJSScript = `
import { createClient } from '@supabase/supabase-js'

// Node 20 has no WebSocket and this test uses no realtime: a stand-in
// transport keeps supabase-js from refusing to start.
class NoWebSocket { constructor() { throw new Error('realtime is not used by this test') } }
const sb = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: NoWebSocket },
})
const err = (e) => e ? { name: e.name, status: e.status, code: e.code ?? null, message: e.message, reasons: e.reasons ?? null } : null
const out = {}

let r = await sb.auth.signUp({ email: 'js@example.com', password: 'secret123', options: { data: { full_name: 'Jay' } } })
out.signUp = {
  error: err(r.error), email: r.data.user?.email, hasSession: !!r.data.session,
  confirmed: !!r.data.user?.email_confirmed_at, meta: r.data.user?.user_metadata,
  identities: r.data.user?.identities?.map((i) => i.provider), appMeta: r.data.user?.app_metadata,
}
out.weak = err((await sb.auth.signUp({ email: 'weak@example.com', password: 'abc' })).error)
out.duplicate = err((await sb.auth.signUp({ email: 'js@example.com', password: 'secret123' })).error)
out.badEmail = err((await sb.auth.signUp({ email: 'not-an-email', password: 'secret123' })).error)
out.wrongPassword = err((await sb.auth.signInWithPassword({ email: 'js@example.com', password: 'wrong-pass' })).error)

r = await sb.auth.signInWithPassword({ email: 'js@example.com', password: 'secret123' })
const first = r.data.session
out.signIn = {
  error: err(r.error), expiresIn: first?.expires_in, tokenType: first?.token_type,
  refreshTokenLength: first?.refresh_token?.length, weakPassword: r.data.weakPassword ?? null,
  role: r.data.user?.role, aud: r.data.user?.aud,
}

r = await sb.auth.refreshSession()
out.refresh = {
  error: err(r.error), rotated: r.data.session?.refresh_token !== first.refresh_token,
  sameUser: r.data.user?.id === first.user.id, hasAccess: typeof r.data.session?.access_token === 'string',
}

r = await sb.auth.getUser()
out.getUser = { error: err(r.error), sameUser: r.data.user?.id === first.user.id, email: r.data.user?.email, role: r.data.user?.role }

r = await sb.auth.updateUser({ data: { theme: 'dark' } })
out.updateUser = { error: err(r.error), theme: r.data.user?.user_metadata?.theme, name: r.data.user?.user_metadata?.full_name }
out.weakUpdate = err((await sb.auth.updateUser({ password: 'abc' })).error)
out.sessionTheme = (await sb.auth.getSession()).data.session?.user?.user_metadata?.theme

const access = (await sb.auth.getSession()).data.session.access_token
out.signOut = err((await sb.auth.signOut()).error)
out.getUserAfterSignOut = err((await sb.auth.getUser(access)).error)
out.sessionAfterSignOut = (await sb.auth.getSession()).data.session
console.log(JSON.stringify(out))
`

// TestAuthJS checks that auth-js (supabase-js 2.109) gets from the embedded
// server what it gets from GoTrue: sessions, users, and the error classes
// and codes apps branch on.
func TestAuthJS(t *testing.T) {
	e := newEnv(t)
	raw := jstest.Run(t, authJSScript, map[string]string{"SUPABASE_URL": e.http.URL, "SUPABASE_ANON_KEY": e.anonKey})
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("script output is not JSON: %v\n%s", err, raw)
	}
	apiErr := func(name string, status int, code, message string) map[string]any {
		return map[string]any{"name": name, "status": float64(status), "code": code, "message": message, "reasons": nil}
	}
	want := map[string]any{
		"signUp": map[string]any{
			"error": nil, "email": "js@example.com", "hasSession": true, "confirmed": true,
			"identities": []any{"email"},
			"appMeta":    map[string]any{"provider": "email", "providers": []any{"email"}},
		},
		"weak": map[string]any{"name": "AuthWeakPasswordError", "status": float64(422), "code": "weak_password",
			"message": "Password should be at least 6 characters.", "reasons": []any{"length"}},
		"duplicate":     apiErr("AuthApiError", 422, "user_already_exists", "User already registered"),
		"badEmail":      apiErr("AuthApiError", 400, "validation_failed", "Unable to validate email address: invalid format"),
		"wrongPassword": apiErr("AuthApiError", 400, "invalid_credentials", "Invalid login credentials"),
		"signIn": map[string]any{"error": nil, "expiresIn": float64(3600), "tokenType": "bearer", "refreshTokenLength": float64(12),
			"weakPassword": nil, "role": "authenticated", "aud": "authenticated"},
		"refresh":    map[string]any{"error": nil, "rotated": true, "sameUser": true, "hasAccess": true},
		"getUser":    map[string]any{"error": nil, "sameUser": true, "email": "js@example.com", "role": "authenticated"},
		"updateUser": map[string]any{"error": nil, "theme": "dark", "name": "Jay"},
		"weakUpdate": map[string]any{"name": "AuthWeakPasswordError", "status": float64(422), "code": "weak_password",
			"message": "Password should be at least 6 characters.", "reasons": []any{"length"}},
		"sessionTheme": "dark",
		"signOut":      nil,
		// session_not_found becomes AuthSessionMissingError in auth-js.
		"getUserAfterSignOut": map[string]any{"name": "AuthSessionMissingError", "status": float64(400), "code": nil,
			"message": "Auth session missing!", "reasons": nil},
		"sessionAfterSignOut": nil,
	}
	meta, _ := got["signUp"].(map[string]any)["meta"].(map[string]any)
	delete(got["signUp"].(map[string]any), "meta")
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			g, _ := json.Marshal(got[k])
			ww, _ := json.Marshal(w)
			t.Errorf("%s:\n got  %s\n want %s", k, g, ww)
		}
	}
	if meta["full_name"] != "Jay" || meta["email"] != "js@example.com" || meta["email_verified"] != true || meta["phone_verified"] != false || meta["sub"] == nil {
		t.Errorf("signUp user_metadata %v", meta)
	}
}
