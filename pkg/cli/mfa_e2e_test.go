package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// enrollInteractive runs `sfp mfa enroll` as a person would: it reads the
// otpauth URI the command prints, computes the app's code from it and types
// it in. It returns the result and the factor's secret.
func (u *sfp) enrollInteractive(t *testing.T, args ...string) (result, string) {
	t.Helper()
	f, out, errOut := u.factory("")
	pr, pw := io.Pipe()
	f.IOStreams.In = pr
	done := make(chan result, 1)
	args = append([]string{"mfa", "enroll"}, args...)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		code := Run(ctx, f, args)
		pr.Close()
		done <- result{args: args, out: out.String(), errOut: errOut.String(), code: code}
	}()
	select {
	case <-out.started:
	case r := <-done:
		t.Fatalf("enroll ended before printing the factor\n%s", r)
	}
	first := strings.SplitN(out.String(), "\n", 2)[0]
	uri, err := url.Parse(first)
	if err != nil || uri.Scheme != "otpauth" {
		t.Fatalf("first line %q is not an otpauth URI", first)
	}
	secret := uri.Query().Get("secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(pw, code+"\n"); err != nil {
		t.Fatalf("type the code: %v", err)
	}
	r := <-done
	return r, secret
}

// sessionAAL reads the aal claim of the stored session's access token.
func (u *sfp) sessionAAL(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(u.dir, "session.json"))
	if err != nil {
		t.Fatalf("read session: %v", err)
	}
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &sess); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sess.AccessToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AAL string `json:"aal"`
	}
	_ = json.Unmarshal(payload, &claims)
	return claims.AAL
}

// TestMFAEnrollLoginRemove enrolls an authenticator with `sfp mfa enroll`
// (URI and QR code printed, code typed in), then logs in with the code on
// the line after the password, and removes the factor.
func TestMFAEnrollLoginRemove(t *testing.T) {
	t.Parallel()
	u := signedUp(t)
	var list []map[string]any
	u.run("", "mfa", "list", "--json").ok(t).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("factors of a new user: %v", list)
	}

	r, secret := u.enrollInteractive(t, "--name", "laptop")
	r.ok(t)
	if !strings.Contains(r.out, "█") || !strings.Contains(r.out, "secret "+secret) || !strings.Contains(r.errOut, "aal2") {
		t.Fatalf("enroll output lacks the QR code, the secret or the verification\n%s", r)
	}
	if got := u.sessionAAL(t); got != "aal2" {
		t.Fatalf("session after enrolment at %q", got)
	}
	u.run("", "mfa", "list", "--json").ok(t).json(t, &list)
	if len(list) != 1 || list[0]["status"] != "verified" || list[0]["friendly_name"] != "laptop" {
		t.Fatalf("factors after enrolment: %v", list)
	}
	factorID := list[0]["id"].(string)

	// Login now wants the code: none, a wrong one, then the right one.
	u.run("", "logout").ok(t)
	u.run(u.pw+"\n", "login", "--email", u.email, "--password-stdin").
		fails(t, cmdutil.ExitUsage, "two-factor authentication", "laptop")
	if _, err := os.Stat(filepath.Join(u.dir, "session.json")); !os.IsNotExist(err) {
		t.Fatalf("an aal1 session was kept after a login without the code: %v", err)
	}
	u.run(u.pw+"\n000000\n", "login", "--email", u.email, "--password-stdin").
		fails(t, cmdutil.ExitFailure, "Invalid TOTP code")
	// The enrolment used the current code; the next step's is accepted too.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	u.run(u.pw+"\n"+next+"\n", "login", "--email", u.email, "--password-stdin").ok(t)
	if got := u.sessionAAL(t); got != "aal2" {
		t.Fatalf("session after login with the code at %q", got)
	}

	u.run("", "mfa", "remove", "not-an-id").fails(t, cmdutil.ExitUsage, "factor")
	u.run("", "mfa", "remove", factorID).ok(t)
	u.run("", "mfa", "list", "--json").ok(t).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("factors after remove: %v", list)
	}
	// Without a factor, login asks for nothing more.
	u.run(u.pw+"\n", "login", "--email", u.email, "--password-stdin").ok(t)
	if got := u.sessionAAL(t); got != "aal1" {
		t.Fatalf("session without a factor at %q", got)
	}
}

// TestMFAEnrollJSONNoVerify creates a factor for a script: JSON on stdout,
// verified later with `sfp mfa verify`.
func TestMFAEnrollJSONNoVerify(t *testing.T) {
	t.Parallel()
	u := signedUp(t)
	var e struct {
		ID, URI, Secret, Status string
	}
	r := u.run("", "mfa", "enroll", "--no-verify", "--json").ok(t)
	r.json(t, &e)
	if e.Status != "unverified" || !strings.HasPrefix(e.URI, "otpauth://totp/") || e.Secret == "" || strings.Contains(r.out, "█") {
		t.Fatalf("enroll --json\n%s", r)
	}
	u.run("123\n", "mfa", "verify", e.ID).fails(t, cmdutil.ExitFailure, "Invalid TOTP code")
	code, err := totp.GenerateCode(e.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u.run(code+"\n", "mfa", "verify", e.ID).ok(t)
	var list []map[string]any
	u.run("", "mfa", "list", "--json").ok(t).json(t, &list)
	if len(list) != 1 || list[0]["status"] != "verified" {
		t.Fatalf("factors after verify: %v", list)
	}
}
