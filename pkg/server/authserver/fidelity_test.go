package authserver

import "testing"

// TestSessionHeaders checks the sb-auth-* headers GoTrue's IssueRefreshToken
// sets on every answer that creates a session: signup and password sign-in
// as well as refresh.
func TestSessionHeaders(t *testing.T) {
	e := newEnv(t)
	signup := e.req("POST", "/signup", map[string]any{"email": "hdr@example.com", "password": "correct horse"}).mustStatus(t, 200, "signup")
	signin := e.req("POST", "/token?grant_type=password", map[string]any{"email": "hdr@example.com", "password": "correct horse"}).mustStatus(t, 200, "sign in")
	for name, r := range map[string]response{"signup": signup, "password grant": signin} {
		m := r.json(t)
		claims := parseClaims(t, m["access_token"].(string))
		want := map[string]string{
			"sb-auth-user-id":              claims["sub"].(string),
			"sb-auth-session-id":           claims["session_id"].(string),
			"sb-auth-refresh-token-prefix": m["refresh_token"].(string)[:5],
		}
		for h, v := range want {
			if got := r.header.Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", name, h, got, v)
			}
		}
	}
	// A signup that gives no session (unconfirmed user) sets none.
	unconfirmed := newEnv(t, func(c *Config) { c.MailerAutoconfirm = false })
	r := unconfirmed.req("POST", "/signup", map[string]any{"email": "wait@example.com", "password": "correct horse"}).mustStatus(t, 200, "signup")
	if h := r.header.Get("sb-auth-session-id"); h != "" {
		t.Errorf("unconfirmed signup has sb-auth-session-id %q", h)
	}
}

// TestDeleteUserChecksTokenFirst checks that /user authenticates before it
// matches the method, as GoTrue: DELETE with the anon key is 403 bad_jwt.
func TestDeleteUserChecksTokenFirst(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.req("DELETE", "/user", nil, "Authorization", "Bearer "+e.anonKey), 403, CodeBadJWT, "missing sub claim")
	wantError(t, e.req("DELETE", "/user", nil), 401, CodeNoAuthorization, "Bearer token")
	e.signUp("del@example.com", "correct horse")
	s := e.signIn("del@example.com", "correct horse")
	r := e.req("DELETE", "/user", nil, bearer(s)...)
	if r.status != 405 || r.header.Get("Allow") != "GET, PUT" {
		t.Fatalf("DELETE /user with a user token: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}
