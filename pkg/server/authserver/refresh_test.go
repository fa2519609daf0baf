package authserver

import (
	"testing"
	"time"
)

// TestRefreshTokenReuse walks GoTrue's rotation rules with a clock the test
// moves: the parent of the active token returns the active token; any other
// revoked token is accepted within the reuse interval; after it, reuse
// revokes the whole session and every token of it stops working.
func TestRefreshTokenReuse(t *testing.T) {
	e := newEnv(t)
	e.signUp("dan@example.com", "secret123")
	rt0 := e.signIn("dan@example.com", "secret123")["refresh_token"].(string)
	session := e.scalar(`select session_id::text from auth.refresh_tokens where token = $1`, rt0)
	tokens := func() int64 {
		return e.scalar(`select count(*) from auth.refresh_tokens where session_id = $1`, session).(int64)
	}

	// rt0 → rt1.
	e.clock.Advance(time.Minute)
	rt1 := e.refresh(rt0).mustStatus(t, 200, "refresh rt0").json(t)["refresh_token"].(string)
	if rt1 == rt0 || tokens() != 2 {
		t.Fatalf("first refresh: rt1 %s, %d tokens", rt1, tokens())
	}

	// The client lost the answer and presents rt0 again, much later than
	// the reuse interval: rt0 is the parent of the active token, so the
	// active token comes back and nothing new is made.
	e.clock.Advance(time.Hour)
	again := e.refresh(rt0).mustStatus(t, 200, "parent of the active token").json(t)
	if again["refresh_token"] != rt1 || tokens() != 2 {
		t.Fatalf("presenting the parent gave %v (want %s), %d tokens", again["refresh_token"], rt1, tokens())
	}
	if again["access_token"] == "" {
		t.Fatal("no access token for the parent's reuse")
	}

	// rt1 → rt2.
	e.clock.Advance(time.Minute)
	rt2 := e.refresh(rt1).mustStatus(t, 200, "refresh rt1").json(t)["refresh_token"].(string)

	// Concurrent refresh: rt1 presented again 3 s later is the parent of
	// the active rt2 → rt2.
	e.clock.Advance(3 * time.Second)
	if got := e.refresh(rt1).mustStatus(t, 200, "rt1 again").json(t)["refresh_token"]; got != rt2 {
		t.Fatalf("rt1 again gave %v, want %s", got, rt2)
	}
	// rt2 → rt3 → rt4 makes rt2 a grandparent of the active token:
	// presented within the interval of its revocation it yields a new
	// sibling token.
	rt3 := e.refresh(rt2).mustStatus(t, 200, "refresh rt2").json(t)["refresh_token"].(string)
	e.clock.Advance(time.Second)
	rt4 := e.refresh(rt3).mustStatus(t, 200, "refresh rt3").json(t)["refresh_token"].(string)
	e.clock.Advance(5 * time.Second) // rt2 was revoked 6 s ago: inside the 10 s interval
	before := tokens()
	sibling := e.refresh(rt2).mustStatus(t, 200, "rt2 within the reuse interval").json(t)["refresh_token"].(string)
	if sibling == rt4 || sibling == rt3 || tokens() != before+1 {
		t.Fatalf("reuse within the interval: got %s (rt3 %s, rt4 %s), tokens %d → %d", sibling, rt3, rt4, before, tokens())
	}
	if p := e.scalar(`select parent from auth.refresh_tokens where token = $1`, sibling); p != rt2 {
		t.Fatalf("sibling's parent %v, want %s", p, rt2)
	}

	// rt0 was revoked long ago and is nobody's parent now: reuse after the
	// interval revokes the whole family.
	r := e.refresh(rt0)
	wantError(t, r, 400, CodeRefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used")
	if n := e.scalar(`select count(*) from auth.refresh_tokens where session_id = $1 and not revoked`, session); n != int64(0) {
		t.Fatalf("%v tokens of the session still active after reuse", n)
	}

	// The family stays revoked: once the interval has passed, even the
	// newest tokens are refused.
	e.clock.Advance(11 * time.Second)
	wantError(t, e.refresh(sibling), 400, CodeRefreshTokenAlreadyUsed, "Already Used")
	wantError(t, e.refresh(rt4), 400, CodeRefreshTokenAlreadyUsed, "Already Used")

	// Unknown and malformed tokens.
	wantError(t, e.refresh("abcdefghijkl"), 400, CodeRefreshTokenNotFound, "Refresh Token Not Found")
	wantError(t, e.refresh("short"), 400, CodeValidationFailed, "Refresh token is not valid")
	wantError(t, e.refresh("ABCDEFGHIJKL"), 400, CodeValidationFailed, "Refresh token is not valid")
}

// TestRefreshAfterLogout: logout deletes the session with its tokens.
func TestRefreshAfterLogout(t *testing.T) {
	e := newEnv(t)
	s := e.signUp("erin@example.com", "secret123")
	other := e.signIn("erin@example.com", "secret123")
	e.req("POST", "/logout?scope=local", nil, "Authorization", "Bearer "+s["access_token"].(string)).
		mustStatus(t, 204, "logout local")
	wantError(t, e.refresh(s["refresh_token"].(string)), 400, CodeRefreshTokenNotFound, "Not Found")
	// The other session is untouched by a local logout.
	e.refresh(other["refresh_token"].(string)).mustStatus(t, 200, "other session after local logout")
}

// TestLogoutScopes checks local, others and global.
func TestLogoutScopes(t *testing.T) {
	e := newEnv(t)
	e.signUp("fay@example.com", "secret123")
	a := e.signIn("fay@example.com", "secret123")
	b := e.signIn("fay@example.com", "secret123")
	c := e.signIn("fay@example.com", "secret123")
	count := func() int64 {
		return e.scalar(`select count(*) from auth.sessions s join auth.users u on u.id = s.user_id where u.email = 'fay@example.com'`).(int64)
	}
	if n := count(); n != 4 { // signup's session too
		t.Fatalf("%d sessions, want 4", n)
	}
	bearer := func(s map[string]any) string { return "Bearer " + s["access_token"].(string) }

	wantError(t, e.req("POST", "/logout?scope=everywhere", nil, "Authorization", bearer(a)), 400, CodeValidationFailed, `Unsupported logout scope "everywhere"`)
	e.req("POST", "/logout?scope=others", nil, "Authorization", bearer(a)).mustStatus(t, 204, "logout others")
	if n := count(); n != 1 {
		t.Fatalf("after scope=others: %d sessions, want 1", n)
	}
	e.refresh(a["refresh_token"].(string)).mustStatus(t, 200, "own session survives scope=others")
	wantError(t, e.refresh(b["refresh_token"].(string)), 400, CodeRefreshTokenNotFound, "Not Found")
	wantError(t, e.req("GET", "/user", nil, "Authorization", bearer(c)), 403, CodeSessionNotFound, "does not exist")

	d := e.signIn("fay@example.com", "secret123")
	e.req("POST", "/logout", nil, "Authorization", bearer(d)).mustStatus(t, 204, "logout global")
	if n := count(); n != 0 {
		t.Fatalf("after global logout: %d sessions", n)
	}
}

// TestConcurrentRefresh: many tabs refresh the same token at once. Refreshes
// of a session run one at a time; the first rotates, the others present the
// parent of the active token and get that same active token back.
func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t)
	rt := e.signUp("gil@example.com", "secret123")["refresh_token"].(string)
	const n = 8
	results := make(chan response, n)
	for range n {
		go func() { results <- e.refresh(rt) }()
	}
	seen := map[string]int{}
	for range n {
		r := <-results
		if r.status != 200 {
			t.Fatalf("concurrent refresh: %d %s", r.status, r.body)
		}
		seen[r.json(t)["refresh_token"].(string)]++
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent refreshes handed out %d different tokens: %v", len(seen), seen)
	}
	if n := e.scalar(`select count(*) from auth.refresh_tokens where parent = $1`, rt); n != int64(1) {
		t.Fatalf("%v children of the refreshed token, want 1", n)
	}
}
