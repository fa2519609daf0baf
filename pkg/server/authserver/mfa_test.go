package authserver

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// bearer is the Authorization header pair for a session's access token.
func bearer(session map[string]any) []string {
	return []string{"Authorization", "Bearer " + session["access_token"].(string)}
}

// totpCode computes the code an authenticator app shows at the server's time.
func (e *env) totpCode(secret string) string {
	e.t.Helper()
	code, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatalf("generate totp code: %v", err)
	}
	return code
}

// enroll enrolls a TOTP factor for the session and returns its id and secret.
func (e *env) enroll(session map[string]any, name string) (id, secret string) {
	e.t.Helper()
	r := e.req("POST", "/factors", map[string]any{"factor_type": "totp", "friendly_name": name}, bearer(session)...).
		mustStatus(e.t, 200, "enroll "+name).json(e.t)
	return r["id"].(string), r["totp"].(map[string]any)["secret"].(string)
}

// challenge creates a challenge for the factor and returns its id.
func (e *env) challenge(session map[string]any, factorID string) string {
	e.t.Helper()
	r := e.req("POST", "/factors/"+factorID+"/challenge", nil, bearer(session)...).
		mustStatus(e.t, 200, "challenge").json(e.t)
	return r["id"].(string)
}

func (e *env) verify(session map[string]any, factorID, challengeID, code string) response {
	e.t.Helper()
	return e.req("POST", "/factors/"+factorID+"/verify", map[string]any{"challenge_id": challengeID, "code": code}, bearer(session)...)
}

func amrMethods(t *testing.T, token string) []string {
	t.Helper()
	var out []string
	for _, e := range parseClaims(t, token)["amr"].([]any) {
		out = append(out, e.(map[string]any)["method"].(string))
	}
	return out
}

// TestMFAEnrollChallengeVerify walks a TOTP factor from enrolment to an
// aal2 session, as GoTrue answers each step.
func TestMFAEnrollChallengeVerify(t *testing.T) {
	e := newEnv(t)
	e.signUp("ada@example.com", "correct horse")
	s1 := e.signIn("ada@example.com", "correct horse")
	other := e.signIn("ada@example.com", "correct horse")
	if c := parseClaims(t, s1["access_token"].(string)); c["aal"] != "aal1" {
		t.Fatalf("password session aal %v, want aal1", c["aal"])
	}

	enrolled := e.req("POST", "/factors", map[string]any{"factor_type": "totp", "friendly_name": "phone app"}, bearer(s1)...).
		mustStatus(t, 200, "enroll").json(t)
	factorID := enrolled["id"].(string)
	tp := enrolled["totp"].(map[string]any)
	secret := tp["secret"].(string)
	if enrolled["type"] != "totp" || enrolled["friendly_name"] != "phone app" || !isUUID(factorID) {
		t.Fatalf("enroll answer %v", enrolled)
	}
	if uri := tp["uri"].(string); !strings.HasPrefix(uri, "otpauth://totp/localhost:3000:ada@example.com?") ||
		!strings.Contains(uri, "secret="+secret) || !strings.Contains(uri, "issuer=localhost:3000") {
		t.Fatalf("otpauth uri %q", uri)
	}
	if qr := tp["qr_code"].(string); !strings.HasPrefix(qr, "<?xml") || !strings.Contains(qr, "<svg") {
		t.Fatalf("qr_code is not an SVG document: %.80q", qr)
	}
	user := e.req("GET", "/user", nil, bearer(s1)...).mustStatus(t, 200, "get user").json(t)
	factors := user["factors"].([]any)
	if len(factors) != 1 || factors[0].(map[string]any)["status"] != "unverified" || factors[0].(map[string]any)["factor_type"] != "totp" {
		t.Fatalf("user factors after enrol: %v", factors)
	}

	ch := e.req("POST", "/factors/"+factorID+"/challenge", nil, bearer(s1)...).mustStatus(t, 200, "challenge").json(t)
	if ch["type"] != "totp" || int64(ch["expires_at"].(float64)) != e.clock.Now().Add(300*time.Second).Unix() {
		t.Fatalf("challenge answer %v", ch)
	}
	challengeID := ch["id"].(string)

	wantError(t, e.verify(s1, factorID, challengeID, "000000"), 422, CodeMFAVerificationFailed, "Invalid TOTP code entered")
	wantError(t, e.verify(s1, factorID, challengeID, ""), 400, CodeValidationFailed, "Code needs to be non-empty")

	code := e.totpCode(secret)
	s2 := e.verify(s1, factorID, challengeID, code).mustStatus(t, 200, "verify").json(t)
	claims := parseClaims(t, s2["access_token"].(string))
	if claims["aal"] != "aal2" || claims["session_id"] != parseClaims(t, s1["access_token"].(string))["session_id"] {
		t.Fatalf("verified session claims aal=%v session=%v", claims["aal"], claims["session_id"])
	}
	if m := amrMethods(t, s2["access_token"].(string)); len(m) != 2 || m[0] != "totp" && m[1] != "totp" {
		t.Fatalf("amr after verify %v, want password and totp", m)
	}
	if s2["refresh_token"] == s1["refresh_token"] {
		t.Fatal("verify kept the aal1 refresh token")
	}
	if got := e.scalar(`select status::text from auth.mfa_factors where id = $1`, factorID); got != "verified" {
		t.Fatalf("factor status %v", got)
	}
	if got := e.scalar(`select aal::text || ' ' || factor_id::text from auth.sessions where id = $1`, claims["session_id"]); got != "aal2 "+factorID {
		t.Fatalf("session aal and factor: %v", got)
	}
	// GoTrue signs out the user's other aal1 sessions.
	wantError(t, e.refresh(other["refresh_token"].(string)), 400, CodeRefreshTokenNotFound, "Refresh Token Not Found")

	// The challenge is used up, and the code cannot verify a new one.
	wantError(t, e.verify(s2, factorID, challengeID, code), 422, CodeMFAIPAddressMismatch, "mismatch")
	again := e.challenge(s2, factorID)
	wantError(t, e.verify(s2, factorID, again, code), 422, CodeMFAVerificationFailed, "Invalid TOTP code entered")
	e.clock.Advance(30 * time.Second)
	e.verify(s2, factorID, again, e.totpCode(secret)).mustStatus(t, 200, "verify with the next code")

	// A refresh keeps the session's aal2.
	refreshed := e.refresh(s2["refresh_token"].(string)).mustStatus(t, 200, "refresh").json(t)
	if c := parseClaims(t, refreshed["access_token"].(string)); c["aal"] != "aal2" {
		t.Fatalf("refreshed aal %v", c["aal"])
	}
	// An expired challenge is refused and removed.
	old := e.challenge(s2, factorID)
	e.clock.Advance(301 * time.Second)
	wantError(t, e.verify(s2, factorID, old, e.totpCode(secret)), 422, CodeMFAChallengeExpired, "has expired")
	if got := e.scalar(`select count(*) from auth.mfa_challenges where id = $1`, old); got != int64(0) {
		t.Fatalf("expired challenge kept: %v", got)
	}
	counts := map[string]int64{}
	rows, err := e.db.Admin(t).Query(t.Context(), `select payload->>'action', count(*) from auth.audit_log_entries
		where payload->>'log_type' = 'factor' group by 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			t.Fatal(err)
		}
		counts[a] = n
	}
	rows.Close()
	if counts["factor_in_progress"] != 1 || counts["challenge_created"] != 3 || counts["verification_attempted"] != 2 || len(counts) != 3 {
		t.Fatalf("factor audit entries %v", counts)
	}
}

// TestMFAAssuranceRules checks what needs aal2 once a factor is verified,
// and that unenrolling brings the sessions back to aal1.
func TestMFAAssuranceRules(t *testing.T) {
	e := newEnv(t)
	e.signUp("bob@example.com", "correct horse")
	s1 := e.signIn("bob@example.com", "correct horse")
	factorID, secret := e.enroll(s1, "first")
	wantError(t, e.req("POST", "/factors", map[string]any{"factor_type": "totp", "friendly_name": "first"}, bearer(s1)...),
		422, CodeMFAFactorNameConflict, "already exists")
	aal2 := e.verify(s1, factorID, e.challenge(s1, factorID), e.totpCode(secret)).mustStatus(t, 200, "verify").json(t)

	aal1 := e.signIn("bob@example.com", "correct horse")
	if c := parseClaims(t, aal1["access_token"].(string)); c["aal"] != "aal1" {
		t.Fatalf("new password session at %v", c["aal"])
	}
	wantError(t, e.req("POST", "/factors", map[string]any{"factor_type": "totp", "friendly_name": "second"}, bearer(aal1)...),
		403, CodeInsufficientAAL, "AAL2 required to enroll")
	wantError(t, e.req("DELETE", "/factors/"+factorID, nil, bearer(aal1)...), 422, CodeInsufficientAAL, "AAL2 required to unenroll")
	// Changing the password needs aal2 too; metadata does not.
	wantError(t, e.req("PUT", "/user", map[string]any{"password": "new horse battery"}, bearer(aal1)...),
		401, CodeInsufficientAAL, "AAL2 session is required")
	e.req("PUT", "/user", map[string]any{"data": map[string]any{"k": "v"}}, bearer(aal1)...).mustStatus(t, 200, "metadata at aal1")
	e.req("PUT", "/user", map[string]any{"email": "bob2@example.com"}, bearer(aal2)...).mustStatus(t, 200, "email change at aal2")

	// Someone else's factor, and ids that are not UUIDs.
	e.signUp("eve@example.com", "correct horse")
	eve := e.signIn("eve@example.com", "correct horse")
	wantError(t, e.req("POST", "/factors/"+factorID+"/challenge", nil, bearer(eve)...), 404, CodeMFAFactorNotFound, "Factor not found")
	wantError(t, e.req("DELETE", "/factors/not-a-uuid", nil, bearer(eve)...), 404, CodeValidationFailed, "factor_id must be an UUID")
	wantError(t, e.req("POST", "/factors", map[string]any{"factor_type": "sms"}, bearer(eve)...), 400, CodeValidationFailed, "factor_type")
	wantError(t, e.req("POST", "/factors", map[string]any{"factor_type": "totp"}), 401, CodeNoAuthorization, "Bearer token")

	e.req("DELETE", "/factors/"+factorID, nil, bearer(aal2)...).mustStatus(t, 200, "unenroll at aal2")
	refreshed := e.refresh(aal2["refresh_token"].(string)).mustStatus(t, 200, "refresh after unenroll").json(t)
	if c := parseClaims(t, refreshed["access_token"].(string)); c["aal"] != "aal1" {
		t.Fatalf("session after unenroll at %v, want aal1", c["aal"])
	}
	if m := amrMethods(t, refreshed["access_token"].(string)); len(m) != 1 || m[0] != "password" {
		t.Fatalf("amr after unenroll %v", m)
	}
}

// TestMFARateLimit checks that guessing codes is limited per client IP.
func TestMFARateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MFA.RateLimitPerIP = RateLimit{Events: 1, Interval: time.Hour, Burst: 3}
	})
	e.signUp("carl@example.com", "correct horse")
	s := e.signIn("carl@example.com", "correct horse")
	factorID, _ := e.enroll(s, "")
	ch := e.challenge(s, factorID)
	for i := 0; i < 3; i++ {
		wantError(t, e.verify(s, factorID, ch, "123456"), 422, CodeMFAVerificationFailed, "Invalid TOTP code")
	}
	wantError(t, e.verify(s, factorID, ch, "123456"), 429, CodeOverRequestRateLimit, "rate limit")
	if got := e.scalar(`select verified_at is null from auth.mfa_challenges where id = $1`, ch); got != true {
		t.Fatal("a refused guess verified the challenge")
	}
}

// TestMFADisabledAndAdmin checks GOTRUE_MFA_TOTP_ENROLL_ENABLED=false and
// the admin factor API.
func TestMFADisabledAndAdmin(t *testing.T) {
	off := newEnv(t, func(c *Config) { c.MFA.TOTPEnrollDisabled = true })
	off.signUp("dan@example.com", "correct horse")
	s := off.signIn("dan@example.com", "correct horse")
	wantError(t, off.req("POST", "/factors", map[string]any{"factor_type": "totp"}, bearer(s)...), 422, CodeMFATOTPEnrollDisabled, "disabled for TOTP")

	e := newEnv(t)
	userID := e.signUp("fay@example.com", "correct horse")["user"].(map[string]any)["id"].(string)
	s = e.signIn("fay@example.com", "correct horse")
	// A phone factor GoTrue enrolled cannot be challenged here.
	phoneFactor := newUUID()
	if _, err := e.db.Admin(t).Exec(t.Context(), `insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at, phone)
		values ($1, $2, 'phone', 'verified', now(), now(), '+15550100')`, phoneFactor, userID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.req("POST", "/factors/"+phoneFactor+"/challenge", nil, bearer(s)...), 422, CodeMFAPhoneVerifyDisabled, "disabled for Phone")
	if _, err := e.db.Admin(t).Exec(t.Context(), `delete from auth.mfa_factors where id = $1`, phoneFactor); err != nil {
		t.Fatal(err)
	}
	factorID, _ := e.enroll(s, "laptop")
	admin := []string{"Authorization", "Bearer " + e.serviceKey}
	list := e.req("GET", "/admin/users/"+userID+"/factors", nil, admin...).mustStatus(t, 200, "admin list")
	if !strings.Contains(string(list.body), factorID) || strings.Contains(string(list.body), "secret") {
		t.Fatalf("admin factor list %s", list.body)
	}
	renamed := e.req("PUT", "/admin/users/"+userID+"/factors/"+factorID, map[string]any{"friendly_name": "desk"}, admin...).
		mustStatus(t, 200, "admin rename").json(t)
	if renamed["friendly_name"] != "desk" || renamed["id"] != factorID {
		t.Fatalf("renamed factor %v", renamed)
	}
	e.req("DELETE", "/admin/users/"+userID+"/factors/"+factorID, nil, admin...).mustStatus(t, 200, "admin delete")
	wantError(t, e.req("DELETE", "/admin/users/"+userID+"/factors/"+factorID, nil, admin...), 404, CodeMFAFactorNotFound, "Factor not found")
	if got := e.scalar(`select count(*) from auth.audit_log_entries where payload->>'action' in ('factor_updated', 'factor_deleted')`); got != int64(2) {
		t.Fatalf("admin factor audit entries: %v", got)
	}
}
