package authserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	gotrue "github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// gotrueClient is the official Go client pointed at the test server.
func (e *env) gotrueClient() gotrue.Client {
	return gotrue.New("unused", e.anonKey).
		WithCustomGoTrueURL(e.base).
		WithClient(http.Client{Timeout: 30 * time.Second})
}

// TestGoTrueGoClient drives the whole user journey with gotrue-go v1.2.0:
// signup, sign-in, refresh, get and update user, logout, and the admin API.
func TestGoTrueGoClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.gotrueClient()

	health, err := c.HealthCheck()
	if err != nil || health.Name != "GoTrue" {
		t.Fatalf("health: %+v, %v", health, err)
	}
	settings, err := c.GetSettings()
	if err != nil || !settings.External.Email || settings.DisableSignup || !settings.MailerAutoconfirm {
		t.Fatalf("settings: %+v, %v", settings, err)
	}

	// Signup with autoconfirm answers a session.
	signup, err := c.Signup(types.SignupRequest{Email: "Ada@Example.com", Password: "correct horse", Data: map[string]any{"full_name": "Ada"}})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	if signup.AccessToken == "" || signup.RefreshToken == "" || signup.User.Email != "ada@example.com" {
		t.Fatalf("signup session: %+v", signup.Session)
	}
	userID := signup.User.ID.String()
	if signup.User.EmailConfirmedAt == nil || signup.User.Role != "authenticated" || signup.User.Aud != "authenticated" {
		t.Fatalf("signup user not confirmed or wrong role: %+v", signup.User)
	}
	if len(signup.User.Identities) != 1 || signup.User.Identities[0].Provider != "email" || signup.User.Identities[0].ID != userID {
		t.Fatalf("signup identities: %+v", signup.User.Identities)
	}

	// Sign in.
	session, err := c.SignInWithEmailPassword("ada@example.com", "correct horse")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if session.TokenType != "bearer" || session.ExpiresIn != 3600 || session.ExpiresAt != e.clock.Now().Unix()+3600 {
		t.Fatalf("session timing: %+v", session.Session)
	}
	if len(session.RefreshToken) != 12 || strings.ToLower(session.RefreshToken) != session.RefreshToken {
		t.Fatalf("refresh token %q is not 12 lowercase characters", session.RefreshToken)
	}

	// The access token verifies with the secret and carries GoTrue's claims.
	claims := parseClaims(t, session.AccessToken)
	for k, want := range map[string]any{
		"sub": userID, "aud": "authenticated", "role": "authenticated", "email": "ada@example.com",
		"phone": "", "aal": "aal1", "is_anonymous": false,
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %#v, want %#v", k, claims[k], want)
		}
	}
	if _, ok := claims["iss"]; ok {
		t.Errorf("iss claim present without a configured issuer: %v", claims["iss"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
		t.Errorf("exp - iat = %v, want 3600", exp-iat)
	}
	app := claims["app_metadata"].(map[string]any)
	if app["provider"] != "email" || len(app["providers"].([]any)) != 1 {
		t.Errorf("app_metadata claim %v", app)
	}
	um := claims["user_metadata"].(map[string]any)
	for k, want := range map[string]any{"sub": userID, "email": "ada@example.com", "email_verified": true, "phone_verified": false, "full_name": "Ada"} {
		if um[k] != want {
			t.Errorf("user_metadata.%s = %#v, want %#v", k, um[k], want)
		}
	}
	amr := claims["amr"].([]any)
	if len(amr) != 1 || amr[0].(map[string]any)["method"] != "password" {
		t.Errorf("amr claim %v", amr)
	}
	sessionID, _ := claims["session_id"].(string)
	if !isUUID(sessionID) {
		t.Fatalf("session_id claim %q", sessionID)
	}

	// RLS sees the user: auth.uid() under the token's claims.
	var uid string
	err = e.db.AsRole(ctx, pgtest.Claims(claims), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select auth.uid()::text").Scan(&uid)
	})
	if err != nil || uid != userID {
		t.Fatalf("auth.uid() = %q, %v; want %s", uid, err, userID)
	}

	// Refresh rotates the refresh token.
	refreshed, err := c.RefreshToken(session.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == session.RefreshToken || refreshed.AccessToken == "" {
		t.Fatalf("refresh did not rotate: %+v", refreshed.Session)
	}
	if parseClaims(t, refreshed.AccessToken)["session_id"] != sessionID {
		t.Fatalf("refreshed token left the session")
	}

	// Get and update the user with the refreshed token.
	uc := c.WithToken(refreshed.AccessToken)
	me, err := uc.GetUser()
	if err != nil || me.ID.String() != userID || me.LastSignInAt == nil {
		t.Fatalf("get user: %+v, %v", me, err)
	}
	updated, err := uc.UpdateUser(types.UpdateUserRequest{Data: map[string]any{"theme": "dark", "full_name": nil}})
	if err != nil {
		t.Fatalf("update user: %v", err)
	}
	if updated.UserMetadata["theme"] != "dark" {
		t.Fatalf("update did not set theme: %v", updated.UserMetadata)
	}
	if _, ok := updated.UserMetadata["full_name"]; ok {
		t.Fatalf("null did not remove full_name: %v", updated.UserMetadata)
	}
	if got := e.scalar(`select raw_user_meta_data->>'theme' from auth.users where id = $1`, userID); got != "dark" {
		t.Fatalf("stored theme %v", got)
	}
	newPassword := "battery staple"
	if _, err := uc.UpdateUser(types.UpdateUserRequest{Password: &newPassword}); err != nil {
		t.Fatalf("change password: %v", err)
	}
	if _, err := c.SignInWithEmailPassword("ada@example.com", "correct horse"); err == nil || !strings.Contains(err.Error(), "invalid_credentials") {
		t.Fatalf("old password still works: %v", err)
	}
	second, err := c.SignInWithEmailPassword("ada@example.com", newPassword)
	if err != nil {
		t.Fatalf("sign in with new password: %v", err)
	}

	// Logout (global) ends every session: refresh tokens are gone and the
	// access token's session no longer exists.
	if err := c.WithToken(second.AccessToken).Logout(); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := c.RefreshToken(second.RefreshToken); err == nil || !strings.Contains(err.Error(), "refresh_token_not_found") {
		t.Fatalf("refresh after logout: %v", err)
	}
	if _, err := c.WithToken(second.AccessToken).GetUser(); err == nil || !strings.Contains(err.Error(), "session_not_found") {
		t.Fatalf("get user after logout: %v", err)
	}

	// Admin API with the service key.
	admin := c.WithToken(e.serviceKey)
	pw := "admin-chosen"
	created, err := admin.AdminCreateUser(types.AdminCreateUserRequest{
		Email: "bob@example.com", Password: &pw, EmailConfirm: true,
		UserMetadata: map[string]any{"full_name": "Bob"}, AppMetadata: map[string]any{"plan": "pro"},
	})
	if err != nil {
		t.Fatalf("admin create: %v", err)
	}
	bobID := created.ID
	if created.EmailConfirmedAt == nil || created.AppMetadata["plan"] != "pro" || created.AppMetadata["provider"] != "email" {
		t.Fatalf("admin created user: %+v", created.User)
	}
	if _, err := c.SignInWithEmailPassword("bob@example.com", pw); err != nil {
		t.Fatalf("admin-created user cannot sign in: %v", err)
	}
	list, err := admin.AdminListUsers()
	if err != nil || len(list.Users) != 2 {
		t.Fatalf("admin list: %+v, %v", list, err)
	}
	got, err := admin.AdminGetUser(types.AdminGetUserRequest{UserID: bobID})
	if err != nil || got.Email != "bob@example.com" || len(got.Identities) != 1 {
		t.Fatalf("admin get: %+v, %v", got, err)
	}
	upd, err := admin.AdminUpdateUser(types.AdminUpdateUserRequest{UserID: bobID, Email: "robert@example.com", UserMetadata: map[string]any{"nick": "bob"}})
	if err != nil || upd.Email != "robert@example.com" || upd.UserMetadata["nick"] != "bob" || upd.UserMetadata["full_name"] != "Bob" {
		t.Fatalf("admin update: %+v, %v", upd, err)
	}
	if got := e.scalar(`select identity_data->>'email' from auth.identities where user_id = $1`, bobID.String()); got != "robert@example.com" {
		t.Fatalf("identity email after admin update: %v", got)
	}
	if err := admin.AdminDeleteUser(types.AdminDeleteUserRequest{UserID: bobID}); err != nil {
		t.Fatalf("admin delete: %v", err)
	}
	if _, err := admin.AdminGetUser(types.AdminGetUserRequest{UserID: bobID}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleted user still found: %v", err)
	}
	// A signed-in user's token is refused on admin routes.
	third, err := c.SignInWithEmailPassword("ada@example.com", newPassword)
	if err != nil {
		t.Fatalf("sign in again: %v", err)
	}
	if _, err := c.WithToken(third.AccessToken).AdminListUsers(); err == nil || !strings.Contains(err.Error(), "not_admin") {
		t.Fatalf("user token on admin route: %v", err)
	}
}

// TestStorageMatchesGoTrue checks the rows a signup and a sign-in leave, the
// way GoTrue writes them, so the real GoTrue can take over the tables.
func TestStorageMatchesGoTrue(t *testing.T) {
	e := newEnv(t)
	s := e.signUp("carol@example.com", "secret123")
	user := s["user"].(map[string]any)
	id := user["id"].(string)
	rt := s["refresh_token"].(string)

	row := e.db.Admin(t).QueryRow(context.Background(), `select instance_id::text, aud, role, email,
		encrypted_password, email_confirmed_at is not null, confirmation_token, recovery_token,
		email_change_token_new, email_change, phone is null, phone_change, phone_change_token,
		email_change_token_current, email_change_confirm_status, reauthentication_token,
		raw_app_meta_data::text, raw_user_meta_data->>'email_verified', raw_user_meta_data->>'sub',
		last_sign_in_at is not null, is_sso_user, is_anonymous, confirmed_at is not null
		from auth.users where id = $1`, id)
	var (
		instance, aud, role, email, hash, confTok, recTok, ecNew, ec, phoneCh, phoneChTok, ecCur, reauth, appMeta, verified, sub string
		confirmed, phoneNull, signedIn, sso, anon, confirmedAt                                                                   bool
		ecStatus                                                                                                                 int
	)
	if err := row.Scan(&instance, &aud, &role, &email, &hash, &confirmed, &confTok, &recTok, &ecNew, &ec, &phoneNull,
		&phoneCh, &phoneChTok, &ecCur, &ecStatus, &reauth, &appMeta, &verified, &sub, &signedIn, &sso, &anon, &confirmedAt); err != nil {
		t.Fatalf("read user row: %v", err)
	}
	if instance != nilInstance || aud != "authenticated" || role != "authenticated" || email != "carol@example.com" {
		t.Errorf("user identity columns: %s %s %s %s", instance, aud, role, email)
	}
	if !strings.HasPrefix(hash, "$2a$") || !passwordMatches(hash, "secret123") {
		t.Errorf("encrypted_password %q is not the bcrypt of the password", hash)
	}
	if confTok+recTok+ecNew+ec+phoneCh+phoneChTok+ecCur+reauth != "" || ecStatus != 0 {
		t.Errorf("token columns must be empty strings (GoTrue scans them into strings)")
	}
	if !confirmed || !confirmedAt || !phoneNull || !signedIn || sso || anon {
		t.Errorf("flags: confirmed %v confirmed_at %v phone null %v signed in %v sso %v anon %v", confirmed, confirmedAt, phoneNull, signedIn, sso, anon)
	}
	if appMeta != `{"provider": "email", "providers": ["email"]}` {
		t.Errorf("raw_app_meta_data %s", appMeta)
	}
	if verified != "true" || sub != id {
		t.Errorf("raw_user_meta_data email_verified %s sub %s", verified, sub)
	}

	var provider, providerID, idEmail, idVerified string
	if err := e.db.Admin(t).QueryRow(context.Background(), `select provider, provider_id, email,
		identity_data->>'email_verified' from auth.identities where user_id = $1`, id).
		Scan(&provider, &providerID, &idEmail, &idVerified); err != nil {
		t.Fatalf("read identity: %v", err)
	}
	if provider != "email" || providerID != id || idEmail != "carol@example.com" || idVerified != "false" {
		t.Errorf("identity: %s %s %s verified=%s", provider, providerID, idEmail, idVerified)
	}

	// Refresh once: the child names its parent and shares the session.
	r := e.refresh(rt).mustStatus(t, 200, "refresh").json(t)
	child := r["refresh_token"].(string)
	var parent, childSession, parentSession string
	var parentRevoked bool
	if err := e.db.Admin(t).QueryRow(context.Background(), `select c.parent, c.session_id::text, p.session_id::text, p.revoked
		from auth.refresh_tokens c join auth.refresh_tokens p on p.token = c.parent where c.token = $1`, child).
		Scan(&parent, &childSession, &parentSession, &parentRevoked); err != nil {
		t.Fatalf("read token chain: %v", err)
	}
	if parent != rt || childSession != parentSession || !parentRevoked {
		t.Errorf("token chain: parent %s (want %s), sessions %s/%s, parent revoked %v", parent, rt, childSession, parentSession, parentRevoked)
	}
	if n := e.scalar(`select count(*) from auth.refresh_tokens where parent is null and token = $1 and user_id = $2 and instance_id = $3`, rt, id, nilInstance); n != int64(1) {
		t.Errorf("first token row: %v", n)
	}
	if m := e.scalar(`select authentication_method from auth.mfa_amr_claims where session_id = $1`, childSession); m != "password" {
		t.Errorf("amr claim %v", m)
	}
	if aal := e.scalar(`select aal::text from auth.sessions where id = $1 and refreshed_at is not null`, childSession); aal != "aal1" {
		t.Errorf("session aal %v", aal)
	}
	actions := e.scalar(`select string_agg(payload->>'action', ',' order by created_at, payload->>'action') from auth.audit_log_entries`)
	for _, a := range []string{"user_signedup", "login", "token_refreshed", "token_revoked"} {
		if !strings.Contains(actions.(string), a) {
			t.Errorf("audit log lacks %s: %v", a, actions)
		}
	}
}
