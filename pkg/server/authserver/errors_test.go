package authserver

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sfp-dev/sfp/internal/jwttest"
)

// TestErrorCases is the spec of refusals: who sends what, and the status,
// code and message GoTrue answers with.
func TestErrorCases(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4096 })
	s := e.signUp("gus@example.com", "secret123")
	userToken := s["access_token"].(string)
	userID := s["user"].(map[string]any)["id"].(string)
	sessionID := parseClaims(t, userToken)["session_id"]
	now := e.clock.Now()
	expired := jwttest.Sign(testSecret, jwt.MapClaims{"sub": userID, "role": "authenticated", "aud": "authenticated",
		"session_id": sessionID, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	forged := jwttest.Sign([]byte("not-the-tenant-secret-but-32-bytes-long!"), jwt.MapClaims{"sub": userID, "role": "service_role", "aud": "authenticated",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	noneAlg := func() string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"role": "service_role"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	cases := []struct {
		name         string
		method, path string
		body         any
		headers      []string
		status       int
		code, msg    string
	}{
		{"wrong password", "POST", "/token?grant_type=password", map[string]any{"email": "gus@example.com", "password": "wrong-one"}, nil,
			400, CodeInvalidCredentials, "Invalid login credentials"},
		{"unknown user", "POST", "/token?grant_type=password", map[string]any{"email": "nobody@example.com", "password": "whatever"}, nil,
			400, CodeInvalidCredentials, "Invalid login credentials"},
		{"no email or phone", "POST", "/token?grant_type=password", map[string]any{"password": "whatever"}, nil,
			400, CodeValidationFailed, "missing email or phone"},
		{"unsupported grant", "POST", "/token?grant_type=magic", map[string]any{}, nil,
			400, CodeInvalidCredentials, "unsupported_grant_type"},
		{"pkce without flow state", "POST", "/token?grant_type=pkce", map[string]any{"auth_code": "x", "code_verifier": "y"}, nil,
			404, CodeFlowStateNotFound, "invalid flow state"},
		{"web3 grant", "POST", "/token?grant_type=web3", map[string]any{}, nil,
			422, CodeWeb3ProviderDisabled, "Web3 provider is disabled"},
		{"duplicate signup", "POST", "/signup", map[string]any{"email": "GUS@example.com", "password": "another1"}, nil,
			422, CodeUserAlreadyExists, "User already registered"},
		{"weak password", "POST", "/signup", map[string]any{"email": "hal@example.com", "password": "abc"}, nil,
			422, CodeWeakPassword, "Password should be at least 6 characters."},
		{"password too long", "POST", "/signup", map[string]any{"email": "hal@example.com", "password": strings.Repeat("x", 73)}, nil,
			400, CodeValidationFailed, "Password cannot be longer than 72 characters"},
		{"no password", "POST", "/signup", map[string]any{"email": "hal@example.com"}, nil,
			400, CodeValidationFailed, "Signup requires a valid password"},
		{"malformed email", "POST", "/signup", map[string]any{"email": "not an email", "password": "secret123"}, nil,
			400, CodeValidationFailed, "Unable to validate email address: invalid format"},
		{"anonymous signup", "POST", "/signup", map[string]any{"password": "secret123"}, nil,
			422, CodeAnonymousDisabled, "Anonymous sign-ins are disabled"},
		{"phone signup", "POST", "/signup", map[string]any{"phone": "+15555550100", "password": "secret123"}, nil,
			400, CodePhoneProviderDisabled, "Phone signups are disabled"},
		{"bad JSON", "POST", "/signup", `{"email":`, nil,
			400, CodeBadJSON, "Could not parse request body as JSON"},
		{"oversized body", "POST", "/signup", `{"email":"big@example.com","password":"secret123","data":{"x":"` + strings.Repeat("a", 5000) + `"}}`, nil,
			413, CodeRequestEntityTooLarge, "Request body too large (max 4096 bytes)"},
		{"no bearer", "GET", "/user", nil, nil,
			401, CodeNoAuthorization, "This endpoint requires a valid Bearer token"},
		{"expired JWT", "GET", "/user", nil, bearer(expired),
			403, CodeBadJWT, "token is expired"},
		{"forged JWT", "GET", "/user", nil, bearer(forged),
			403, CodeBadJWT, "signature is invalid"},
		{"alg none JWT", "GET", "/admin/users", nil, bearer(noneAlg),
			403, CodeBadJWT, "invalid JWT"},
		{"garbage JWT", "GET", "/user", nil, bearer("abc.def.ghi"),
			403, CodeBadJWT, "invalid JWT: unable to parse or verify signature"},
		{"anon key on /user", "GET", "/user", nil, bearer(e.anonKey),
			403, CodeBadJWT, "invalid claim: missing sub claim"},
		{"user on admin list", "GET", "/admin/users", nil, bearer(userToken),
			403, CodeNotAdmin, "User not allowed"},
		{"anon on admin create", "POST", "/admin/users", map[string]any{"email": "x@example.com"}, bearer(e.anonKey),
			403, CodeNotAdmin, "User not allowed"},
		{"forged service key on admin", "GET", "/admin/users", nil, bearer(forged),
			403, CodeBadJWT, "signature is invalid"},
		{"no bearer on admin", "DELETE", "/admin/users/" + userID, nil, nil,
			401, CodeNoAuthorization, "requires a valid Bearer token"},
		{"admin bad user id", "GET", "/admin/users/not-a-uuid", nil, bearer(e.serviceKey),
			404, CodeValidationFailed, "user_id must be an UUID"},
		{"admin unknown user", "GET", "/admin/users/" + newUUID(), nil, bearer(e.serviceKey),
			404, CodeUserNotFound, "User not found"},
		{"admin duplicate email", "POST", "/admin/users", map[string]any{"email": "gus@example.com"}, bearer(e.serviceKey),
			422, CodeEmailExists, "already been registered"},
		{"admin bad pagination", "GET", "/admin/users?page=x", nil, bearer(e.serviceKey),
			400, CodeValidationFailed, "Bad Pagination Parameters"},
		{"admin bad sort", "GET", "/admin/users?sort=email", nil, bearer(e.serviceKey),
			400, CodeValidationFailed, "Bad Sort Parameters: bad field for sort 'email'"},
		{"app_metadata by a user", "PUT", "/user", map[string]any{"app_metadata": map[string]any{"role": "owner"}}, bearer(userToken),
			403, CodeNotAdmin, "Updating app_metadata requires admin privileges"},
		{"same password", "PUT", "/user", map[string]any{"password": "secret123"}, bearer(userToken),
			422, CodeSamePassword, "New password should be different from the old password."},
		{"authorize github", "GET", "/authorize?provider=github", nil, nil,
			400, CodeValidationFailed, "Unsupported provider: provider is not enabled"},
		{"authorize unknown", "GET", "/authorize?provider=myspace", nil, nil,
			400, CodeValidationFailed, "Unsupported provider: Provider myspace could not be found"},
		{"sso", "POST", "/sso", map[string]any{"domain": "example.com"}, nil,
			404, CodeSAMLProviderDisabled, "SAML 2.0 is disabled"},
		{"saml metadata", "GET", "/sso/saml/metadata", nil, nil,
			404, CodeSAMLProviderDisabled, "SAML 2.0 is disabled"},
		{"verify token hash", "POST", "/verify", map[string]any{"type": "signup", "token_hash": "abc"}, nil,
			403, CodeOTPExpired, "Email link is invalid or has expired"},
		{"verify email otp", "POST", "/verify", map[string]any{"type": "email", "token": "123456", "email": "gus@example.com"}, nil,
			403, CodeOTPExpired, "Token has expired or is invalid"},
		{"recover", "POST", "/recover", map[string]any{"email": "gus@example.com"}, nil,
			404, CodeFeatureDisabled, "sends no mail"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.req(c.method, c.path, c.body, c.headers...), c.status, c.code, c.msg)
			h := append([]string{apiVersionHeader, "2024-01-01"}, c.headers...)
			wantError20240101(t, e.req(c.method, c.path, c.body, h...), c.status, c.code, c.msg)
		})
	}
}

// TestWeakPasswordBodies checks the weak_password payload in both formats,
// which auth-js turns into AuthWeakPasswordError with reasons.
func TestWeakPasswordBodies(t *testing.T) {
	e := newEnv(t)
	old := e.req("POST", "/signup", map[string]any{"email": "ivy@example.com", "password": "abc"}).json(t)
	if w, _ := old["weak_password"].(map[string]any); w == nil || w["reasons"].([]any)[0] != "length" {
		t.Fatalf("original format weak_password: %v", old)
	}
	r := e.req("POST", "/signup", map[string]any{"email": "ivy@example.com", "password": "abc"}, apiVersionHeader, "2024-01-01")
	m := r.json(t)
	if w, _ := m["weak_password"].(map[string]any); w == nil || w["reasons"].([]any)[0] != "length" || m["code"] != CodeWeakPassword {
		t.Fatalf("2024-01-01 weak_password: %v", m)
	}
	// GoTrue leaves x-sb-error-code off this one body.
	if h := r.header.Get("x-sb-error-code"); h != "" {
		t.Fatalf("x-sb-error-code %q on a 2024-01-01 weak password answer", h)
	}
	// A malformed version date means the original format.
	wantError(t, e.req("POST", "/signup", map[string]any{"email": "x"}, apiVersionHeader, "yesterday"), 400, CodeValidationFailed, "Signup requires a valid password")

	// A correct password that became too short under a stricter rule still
	// signs in, and the session says why it is weak; a strong one gives null.
	e.signUp("jon@example.com", "secret")
	strict := newEnvOn(t, e, func(c *Config) { c.MinPasswordLength = 8 })
	sess := strict.signIn("jon@example.com", "secret")
	w, ok := sess["weak_password"].(map[string]any)
	if !ok || w["message"] != "Password should be at least 8 characters." {
		t.Fatalf("weak_password in session: %#v", sess["weak_password"])
	}
	sess = e.signIn("jon@example.com", "secret")
	if v, ok := sess["weak_password"]; !ok || v != nil {
		t.Fatalf("strong password: weak_password %#v (present %v), want null", v, ok)
	}
}

// TestSignupSettings covers disabled signup and signup without autoconfirm.
func TestSignupSettings(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DisableSignup = true })
	wantError(t, e.req("POST", "/signup", map[string]any{"email": "kim@example.com", "password": "secret123"}),
		422, CodeSignupDisabled, "Signups not allowed for this instance")
	settings := e.req("GET", "/settings", nil).mustStatus(t, 200, "settings").json(t)
	if settings["disable_signup"] != true || settings["external"].(map[string]any)["github"] != false {
		t.Fatalf("settings: %v", settings)
	}
	// Admins still create users.
	e.req("POST", "/admin/users", map[string]any{"email": "kim@example.com", "password": "secret123", "email_confirm": true},
		"Authorization", "Bearer "+e.serviceKey).mustStatus(t, 200, "admin create with signups disabled")
	e.signIn("kim@example.com", "secret123")

	m := newEnv(t, func(c *Config) { c.MailerAutoconfirm = false })
	u := m.req("POST", "/signup", map[string]any{"email": "lee@example.com", "password": "secret123"}).mustStatus(t, 200, "signup").json(t)
	if _, ok := u["access_token"]; ok || u["email"] != "lee@example.com" || u["confirmation_sent_at"] == nil || u["email_confirmed_at"] != nil {
		t.Fatalf("signup without autoconfirm should answer the unconfirmed user: %v", u)
	}
	if tok := m.scalar(`select confirmation_token from auth.users where email = 'lee@example.com'`); len(tok.(string)) != 56 {
		t.Fatalf("confirmation token %v is not a SHA-224 hex digest", tok)
	}
	wantError(t, m.req("POST", "/token?grant_type=password", map[string]any{"email": "lee@example.com", "password": "secret123"}),
		400, CodeEmailNotConfirmed, "Email not confirmed")
	// Asking again within a minute is throttled like a mail would be.
	wantError(t, m.req("POST", "/signup", map[string]any{"email": "lee@example.com", "password": "secret123"}),
		429, CodeOverEmailSendRateLimit, "you can only request this after")
	// A repeated signup of a confirmed address does not reveal it.
	m.req("PUT", "/admin/users/"+u["id"].(string), map[string]any{"email_confirm": true}, "Authorization", "Bearer "+m.serviceKey).
		mustStatus(t, 200, "admin confirm")
	fake := m.req("POST", "/signup", map[string]any{"email": "lee@example.com", "password": "other-pass"}).mustStatus(t, 200, "repeated signup").json(t)
	if fake["id"] == u["id"] || fake["email"] != "lee@example.com" {
		t.Fatalf("repeated signup answer reveals the user: %v", fake)
	}
	m.signIn("lee@example.com", "secret123")
}

// newEnvOn starts a second server on e's database with changed settings.
func newEnvOn(t *testing.T, e *env, configure func(*Config)) *env {
	t.Helper()
	cfg := e.srv.cfg
	configure(&cfg)
	srv, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/v1/", http.StripPrefix("/auth/v1", srv))
	other := *e
	other.srv = srv
	other.http = newHTTPServer(t, mux)
	other.base = other.http.URL + "/auth/v1"
	return &other
}

// An unconfirmed user (an admin created it without confirming) cannot be
// taken over by signing up with its address under autoconfirm: the signup
// must know the user's password. GoTrue would confirm it and hand out a
// session; docs/auth.md records the deviation.
func TestSignupCannotTakeOverUnconfirmedUser(t *testing.T) {
	e := newEnv(t) // autoconfirm on
	e.req("POST", "/admin/users", map[string]any{"email": "pat@example.com", "password": "real-password"},
		"Authorization", "Bearer "+e.serviceKey).mustStatus(t, 200, "admin create unconfirmed")
	wantError(t, e.req("POST", "/signup", map[string]any{"email": "pat@example.com", "password": "attacker-pw"}),
		422, CodeUserAlreadyExists, "User already registered")
	if confirmed := e.scalar(`select email_confirmed_at is not null from auth.users where email = 'pat@example.com'`); confirmed != false {
		t.Fatal("the failed signup confirmed the user")
	}
	// The owner of the password can complete the signup.
	s := e.req("POST", "/signup", map[string]any{"email": "pat@example.com", "password": "real-password"}).mustStatus(t, 200, "owner signup").json(t)
	if s["access_token"] == nil {
		t.Fatalf("owner's signup: %v", s)
	}
}

// A database that cannot serve (restarting, recovering, no connection)
// answers 503 with Retry-After in both error formats, with the code in
// x-sb-error-code, instead of GoTrue's 500; other database errors stay
// 500, and refusals keep their status.
func TestDatabaseUnavailableIs503(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	recovering := &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is in recovery mode"}
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"wrapped by a handler", internalError(fmt.Errorf("find user: %w", recovering), "Database error finding user"), 503},
		{"returned as is", fmt.Errorf("begin: %w", io.ErrUnexpectedEOF), 503},
		{"connection closed", internalError(pgconn.ErrConnClosed, "Database error granting user"), 503},
		{"another database error", internalError(&pgconn.PgError{Code: "23505"}, "Database error saving new user"), 500},
		{"a refusal", badRequest(CodeInvalidCredentials, "Invalid login credentials").withCause(io.ErrUnexpectedEOF), 400},
	}
	for _, c := range cases {
		for _, version := range []string{"", "2024-01-01"} {
			r := httptest.NewRequest(http.MethodGet, "/user", nil)
			if version != "" {
				r.Header.Set(apiVersionHeader, version)
			}
			w := httptest.NewRecorder()
			s.writeError(w, r, c.err)
			if w.Code != c.status {
				t.Errorf("%s (version %q): status %d, want %d: %s", c.name, version, w.Code, c.status, w.Body)
				continue
			}
			if c.status != 503 {
				continue
			}
			var body map[string]any
			json.Unmarshal(w.Body.Bytes(), &body)
			if w.Header().Get("Retry-After") == "" || w.Header().Get("x-sb-error-code") != CodeUnexpectedFailure {
				t.Errorf("%s (version %q): headers %v", c.name, version, w.Header())
			}
			if version == "" && (body["code"] != float64(503) || body["error_code"] != CodeUnexpectedFailure || body["msg"] == nil) {
				t.Errorf("%s: body %v", c.name, body)
			}
			if version != "" && (body["code"] != CodeUnexpectedFailure || body["message"] == nil) {
				t.Errorf("%s (2024-01-01): body %v", c.name, body)
			}
		}
	}
}
