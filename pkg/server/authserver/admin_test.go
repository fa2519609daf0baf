package authserver

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestAdminListPagination(t *testing.T) {
	e := newEnv(t)
	auth := []string{"Authorization", "Bearer " + e.serviceKey}
	var ids []string
	for i := range 3 {
		u := e.req("POST", "/admin/users", map[string]any{"email": fmt.Sprintf("user%d@example.com", i), "password": "secret123",
			"user_metadata": map[string]any{"full_name": fmt.Sprintf("Person %d", i)}}, auth...).
			mustStatus(t, 200, "admin create").json(t)
		ids = append(ids, u["id"].(string))
		e.clock.Advance(time.Second) // distinct created_at for a stable order
	}

	r := e.req("GET", "/admin/users?page=1&per_page=2", nil, auth...).mustStatus(t, 200, "page 1")
	if got := r.header.Get("X-Total-Count"); got != "3" {
		t.Fatalf("X-Total-Count %q", got)
	}
	if got, want := r.header.Get("Link"), `</admin/users?page=2&per_page=2>; rel="next", </admin/users?page=2&per_page=2>; rel="last"`; got != want {
		t.Fatalf("Link %q, want %q", got, want)
	}
	body := r.json(t)
	users := body["users"].([]any)
	if body["aud"] != "authenticated" || len(users) != 2 || users[0].(map[string]any)["id"] != ids[2] {
		t.Fatalf("page 1 (newest first): %v", body)
	}
	if users[0].(map[string]any)["identities"] != nil {
		t.Fatalf("listed users carry identities: %v", users[0])
	}

	r = e.req("GET", "/admin/users?page=2&per_page=2", nil, auth...).mustStatus(t, 200, "page 2")
	if got := r.header.Get("Link"); got != `</admin/users?page=2&per_page=2>; rel="last"` {
		t.Fatalf("last page Link %q", got)
	}
	if users := r.json(t)["users"].([]any); len(users) != 1 || users[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("page 2: %v", users)
	}

	asc := e.req("GET", "/admin/users?sort=created_at%20asc", nil, auth...).mustStatus(t, 200, "ascending").json(t)["users"].([]any)
	if asc[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("ascending order starts with %v", asc[0].(map[string]any)["id"])
	}
	filtered := e.req("GET", "/admin/users?filter=person%201", nil, auth...).mustStatus(t, 200, "filter")
	if f := filtered.json(t)["users"].([]any); len(f) != 1 || f[0].(map[string]any)["id"] != ids[1] || filtered.header.Get("X-Total-Count") != "1" {
		t.Fatalf("filter by full name: %v", f)
	}
	empty := e.req("GET", "/admin/users?filter=nobody", nil, auth...).mustStatus(t, 200, "empty")
	if empty.header.Get("Link") != `</admin/users?filter=nobody&page=0>; rel="last"` || empty.header.Get("X-Total-Count") != "0" {
		t.Fatalf("empty list headers: %v", empty.header)
	}

	// The audit log records the admin's actions.
	audit := e.req("GET", "/admin/audit?query=action:user_signedup", nil, auth...).mustStatus(t, 200, "audit")
	entries := audit.body
	if audit.header.Get("X-Total-Count") != "3" || !strings.Contains(string(entries), `"actor_username":"service_role"`) {
		t.Fatalf("audit: %s %s", audit.header.Get("X-Total-Count"), entries)
	}
}

func TestAdminUserLifecycle(t *testing.T) {
	e := newEnv(t)
	auth := []string{"Authorization", "Bearer " + e.serviceKey}
	hash, err := bcrypt.GenerateFromPassword([]byte("imported-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	id := newUUID()
	u := e.req("POST", "/admin/users", map[string]any{"id": id, "email": "Olga@Example.com", "password_hash": string(hash), "email_confirm": true,
		"role": "authenticated", "app_metadata": map[string]any{"tier": "gold"}}, auth...).mustStatus(t, 200, "create with hash").json(t)
	if u["id"] != id || u["email"] != "olga@example.com" || u["app_metadata"].(map[string]any)["tier"] != "gold" {
		t.Fatalf("created: %v", u)
	}
	s := e.signIn("olga@example.com", "imported-pass")
	if parseClaims(t, s["access_token"].(string))["app_metadata"].(map[string]any)["tier"] != "gold" {
		t.Fatal("app_metadata not in the access token")
	}
	wantError(t, e.req("POST", "/admin/users", map[string]any{"email": "p@example.com", "password": "a", "password_hash": string(hash)}, auth...),
		400, CodeValidationFailed, "Only a password or a password hash should be provided")
	wantError(t, e.req("POST", "/admin/users", map[string]any{"email": "p@example.com", "password_hash": "plain"}, auth...),
		400, CodeValidationFailed, "Invalid password_hash")
	wantError(t, e.req("POST", "/admin/users", map[string]any{"email": "p@example.com", "id": "123"}, auth...),
		400, CodeValidationFailed, "ID must conform to the uuid v4 format")
	wantError(t, e.req("POST", "/admin/users", map[string]any{}, auth...),
		400, CodeValidationFailed, "Cannot create a user without either an email or phone")

	// Ban: sign-in and refresh are refused; "none" lifts it.
	e.req("PUT", "/admin/users/"+id, map[string]any{"ban_duration": "24h"}, auth...).mustStatus(t, 200, "ban")
	wantError(t, e.req("POST", "/token?grant_type=password", map[string]any{"email": "olga@example.com", "password": "imported-pass"}),
		400, CodeUserBanned, "User is banned")
	wantError(t, e.refresh(s["refresh_token"].(string)), 400, CodeUserBanned, "Invalid Refresh Token: User Banned")
	wantError(t, e.req("GET", "/user", nil, "Authorization", "Bearer "+s["access_token"].(string)), 403, CodeUserBanned, "User is banned")
	wantError(t, e.req("PUT", "/admin/users/"+id, map[string]any{"ban_duration": "forever"}, auth...),
		400, CodeValidationFailed, "invalid format for ban duration")
	e.req("PUT", "/admin/users/"+id, map[string]any{"ban_duration": "none"}, auth...).mustStatus(t, 200, "unban")
	s = e.signIn("olga@example.com", "imported-pass")

	// A new password from the admin signs the user out everywhere.
	wantError(t, e.req("PUT", "/admin/users/"+id, map[string]any{"password": "abc"}, auth...), 422, CodeWeakPassword, "at least 6")
	e.req("PUT", "/admin/users/"+id, map[string]any{"password": "fresh-pass"}, auth...).mustStatus(t, 200, "admin password")
	wantError(t, e.refresh(s["refresh_token"].(string)), 400, CodeRefreshTokenNotFound, "Not Found")
	e.signIn("olga@example.com", "fresh-pass")

	// Soft delete keeps the row, obfuscated, and ends the sessions.
	e.req("DELETE", "/admin/users/"+id, map[string]any{"should_soft_delete": true}, auth...).mustStatus(t, 200, "soft delete")
	if got := e.scalar(`select deleted_at is not null and email <> 'olga@example.com' and encrypted_password is null
		and raw_user_meta_data = '{}' and raw_app_meta_data = '{}' from auth.users where id = $1`, id); got != true {
		t.Fatal("soft-deleted user not obfuscated")
	}
	if n := e.scalar(`select count(*) from auth.sessions where user_id = $1`, id); n != int64(0) {
		t.Fatalf("%v sessions left after soft delete", n)
	}
	wantError(t, e.req("POST", "/token?grant_type=password", map[string]any{"email": "olga@example.com", "password": "fresh-pass"}),
		400, CodeInvalidCredentials, "Invalid login credentials")
	// Hard delete removes it with its identities.
	e.req("DELETE", "/admin/users/"+id, nil, auth...).mustStatus(t, 200, "delete")
	if n := e.scalar(`select count(*) from auth.identities where user_id = $1`, id); n != int64(0) {
		t.Fatalf("%v identities left", n)
	}
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	u, err := e.srv.CreateUser(t.Context(), UserParams{
		Email: "Root@Example.com", Password: "bootstrap-pass", EmailConfirm: true,
		UserMetadata: map[string]any{"full_name": "Root"}, AppMetadata: map[string]any{"sfp_role": "admin"},
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.Email != "root@example.com" || u.EmailConfirmedAt == nil || u.AppMetadata["sfp_role"] != "admin" || len(u.Identities) != 1 {
		t.Fatalf("created user: %+v", u)
	}
	s := e.signIn("root@example.com", "bootstrap-pass")
	if s["user"].(map[string]any)["user_metadata"].(map[string]any)["full_name"] != "Root" {
		t.Fatalf("signed-in user metadata: %v", s["user"])
	}
	_, err = e.srv.CreateUser(t.Context(), UserParams{Email: "root@example.com", Password: "x"})
	if !errors.Is(err, &Error{Code: CodeEmailExists}) {
		t.Fatalf("duplicate CreateUser: %v, want %s", err, CodeEmailExists)
	}
	_, err = e.srv.CreateUser(t.Context(), UserParams{Email: "bad address"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeValidationFailed {
		t.Fatalf("bad address: %v", err)
	}
	// Without EmailConfirm the user exists but cannot sign in yet.
	if _, err := e.srv.CreateUser(t.Context(), UserParams{Email: "pending@example.com", Password: "secret123"}); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.req("POST", "/token?grant_type=password", map[string]any{"email": "pending@example.com", "password": "secret123"}),
		400, CodeEmailNotConfirmed, "Email not confirmed")
}

// TestUserEmailChangeIsPending: GoTrue mails both addresses before an email
// change takes effect; the embedded runtime records the pending change.
func TestUserEmailChangeIsPending(t *testing.T) {
	e := newEnv(t)
	s := e.signUp("quinn@example.com", "secret123")
	e.signUp("taken@example.com", "secret123")
	auth := []string{"Authorization", "Bearer " + s["access_token"].(string)}
	wantError(t, e.req("PUT", "/user", map[string]any{"email": "TAKEN@example.com"}, auth...), 422, CodeEmailExists, "already been registered")
	wantError(t, e.req("PUT", "/user", map[string]any{"email": "nope"}, auth...), 400, CodeValidationFailed, "invalid format")
	u := e.req("PUT", "/user", map[string]any{"email": "Quinn.New@example.com"}, auth...).mustStatus(t, 200, "email change").json(t)
	if u["email"] != "quinn@example.com" || u["new_email"] != "quinn.new@example.com" || u["email_change_sent_at"] == nil {
		t.Fatalf("email change answer: %v", u)
	}
	if got := e.scalar(`select email_change from auth.users where email = 'quinn@example.com'`); got != "quinn.new@example.com" {
		t.Fatalf("stored email_change %v", got)
	}
	wantError(t, e.req("PUT", "/user", map[string]any{"email": "quinn.other@example.com"}, auth...), 429, CodeOverEmailSendRateLimit, "after")
	// GET /user shows the same.
	me := e.req("GET", "/user", nil, auth...).mustStatus(t, 200, "get user").json(t)
	if me["new_email"] != "quinn.new@example.com" || me["identities"].([]any)[0].(map[string]any)["provider"] != "email" {
		t.Fatalf("get user: %v", me)
	}
}

func TestMiscEndpoints(t *testing.T) {
	e := newEnv(t)
	h := e.req("GET", "/health", nil).mustStatus(t, 200, "health").json(t)
	if h["name"] != "GoTrue" || h["version"] != Version {
		t.Fatalf("health %v", h)
	}
	if k := e.req("GET", "/.well-known/jwks.json", nil).mustStatus(t, 200, "jwks").json(t); len(k["keys"].([]any)) != 0 {
		t.Fatalf("jwks publishes keys: %v", k)
	}
	r := e.req("GET", "/verify?type=signup&token=abc&redirect_to=http://localhost:3000/welcome", nil).mustStatus(t, 303, "verify")
	if got, want := r.header.Get("Location"), "http://localhost:3000/welcome#error=access_denied&error_code=otp_expired&error_description=Email+link+is+invalid+or+has+expired&sb="; got != want {
		t.Fatalf("verify redirect %q, want %q", got, want)
	}
	r = e.req("GET", "/verify?type=signup&token=abc&redirect_to=https://evil.example/", nil).mustStatus(t, 303, "verify elsewhere")
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "http://localhost:3000#") {
		t.Fatalf("verify redirected off-site: %q", loc)
	}
	r = e.req("GET", "/callback", nil).mustStatus(t, 303, "callback")
	if got, want := r.header.Get("Location"), "http://localhost:3000?error=invalid_request&error_code=bad_oauth_callback&error_description=OAuth+state+parameter+missing"; got != want {
		t.Fatalf("callback redirect %q, want %q", got, want)
	}
	e.req("GET", "/nowhere", nil).mustStatus(t, 404, "unknown path")
	if r := e.req("GET", "/token", nil); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET /token: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}
