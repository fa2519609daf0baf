package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

func TestLoginWhoamiLogout(t *testing.T) {
	t.Parallel()
	s := stacktest.Shared()
	u := newSfp(t)
	u.run("", "whoami").fails(t, cmdutil.ExitAuth, "not logged in", "sfp login")

	// Create the user through a logged-in helper, then log in with a wrong
	// and a right password.
	other := signedUp(t)
	u.email, u.pw = other.email, other.pw
	u.run("wrong\n", "login", "--server", s.URL, "--api-key", s.AnonKey, "--email", u.email, "--password-stdin").
		fails(t, cmdutil.ExitAuth, "Invalid login credentials", "Check the email and password")
	u.run("", "login", "--server", s.URL, "--api-key", s.AnonKey, "--email", u.email).
		fails(t, cmdutil.ExitUsage, "--password-stdin")
	u.run(u.pw+"\n", "login", "--server", s.URL, "--api-key", s.AnonKey, "--email", u.email, "--password-stdin").ok(t)
	for _, name := range []string{"config.json", "session.json"} {
		fi, err := os.Stat(filepath.Join(u.dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(u.dir, "session.json"))
	if !strings.Contains(string(raw), "refresh_token") {
		t.Fatal("session file holds no session")
	}

	var who struct {
		Server string `json:"server"`
		User   struct {
			ID, Email string
		} `json:"user"`
		Accounts []json.RawMessage `json:"accounts"`
	}
	u.run("", "whoami", "--json").ok(t).json(t, &who)
	if who.Server != s.URL || who.User.Email != u.email || who.User.ID != other.id || len(who.Accounts) != 0 {
		t.Fatalf("whoami %+v", who)
	}
	r := u.run("", "whoami").ok(t)
	// No account yet: whoami says how to create one (not how to choose one).
	if !strings.Contains(r.out, u.email) || !strings.Contains(r.out, "sfp account create") || strings.Contains(r.out, "account use") {
		t.Fatalf("%s", r)
	}

	// Another server in the environment: the session is not for it.
	u.env["SFP_SERVER_URL"] = "http://127.0.0.1:9"
	u.run("", "whoami").fails(t, cmdutil.ExitAuth, "SFP_SERVER_URL is http://127.0.0.1:9")
	delete(u.env, "SFP_SERVER_URL")

	u.run("", "logout").ok(t)
	if _, err := os.Stat(filepath.Join(u.dir, "session.json")); !os.IsNotExist(err) {
		t.Fatalf("session file after logout: %v", err)
	}
	u.run("", "whoami").fails(t, cmdutil.ExitAuth, "not logged in")
	u.run("", "logout").ok(t) // already logged out is fine
	// The server and key stay configured: --email is enough now.
	u.run(u.pw+"\n", "login", "--email", u.email, "--password-stdin").ok(t)
	u.run("", "whoami").ok(t)
}

// Login with -t reads the URL and anon key of a local tenant.
func TestLoginFromLocalTenant(t *testing.T) {
	t.Parallel()
	other := signedUp(t)
	u := newSfp(t)
	u.env["SFP_BASE_DIR"] = tenantBase()
	u.run(other.pw+"\n", "login", "-t", "test", "--email", other.email, "--password-stdin").ok(t)
	u.run("", "whoami").ok(t)
	u.run("x\n", "login", "-t", "nosuch", "--email", other.email, "--password-stdin").fails(t, cmdutil.ExitNotFound, "tenant \"nosuch\"")
}

// A session whose refresh token no longer works (revoked by logging out
// elsewhere) and whose access token expired: the command says to log in
// again and exits with ExitAuth.
func TestSessionExpiredAndNotRefreshable(t *testing.T) {
	t.Parallel()
	u := signedUp(t)
	path := filepath.Join(u.dir, "session.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sess map[string]any
	json.Unmarshal(raw, &sess)
	sess["expires_at"] = "2020-01-01T00:00:00Z"
	sess["refresh_token"] = "revokedtoken"
	raw, _ = json.Marshal(sess)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	u.run("", "account", "list").fails(t, cmdutil.ExitAuth, "session expired", "run `sfp login` again")
}

// The server is down: the command names the URL it tried and exits with
// ExitUnreachable.
func TestServerUnreachable(t *testing.T) {
	t.Parallel()
	u := signedUp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	cfgPath := filepath.Join(u.dir, "config.json")
	raw, _ := os.ReadFile(cfgPath)
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	cfg["server"] = dead
	raw, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, raw, 0o600)
	u.run("", "project", "list").fails(t, cmdutil.ExitUnreachable, "cannot reach the server at "+dead, "Is the tenant running?")
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	u := newSfp(t)
	for shell, marker := range map[string]string{"bash": "bash completion", "zsh": "#compdef sfp", "fish": "complete -c sfp"} {
		r := u.run("", "completion", shell).ok(t)
		if !strings.Contains(r.out, marker) {
			t.Fatalf("completion %s lacks %q", shell, marker)
		}
	}
	u.run("", "completion", "tcsh").fails(t, cmdutil.ExitUsage)
	r := u.run("", "__complete", "deployment", "")
	for _, sub := range []string{"create", "watch", "report"} {
		if !strings.Contains(r.out, sub) {
			t.Fatalf("completion of deployment lacks %s: %s", sub, r)
		}
	}
}

// `sfp signup` creates the user; on a tenant that confirms sign-ups (the
// test stack does) it is logged in at once and can create an account. A
// second signup with the address is refused; a weak password is refused.
func TestSignup(t *testing.T) {
	s := stacktest.Shared()
	u := newSfp(t)
	email := fmt.Sprintf("signup-%d@example.test", time.Now().UnixNano())
	var who struct{ ID, Email, Server string }
	u.run("pw-signup-1\n", "signup", "--server", s.URL, "--api-key", s.AnonKey, "--email", email, "--password-stdin", "--json").ok(t).json(t, &who)
	if who.Email != email || who.ID == "" || who.Server != s.URL {
		t.Fatalf("signup output %+v", who)
	}
	u.run("", "whoami").ok(t)
	u.run("", "account", "create", "Signed Up Org", "--slug", fmt.Sprintf("signed-up-%d", time.Now().UnixNano())).ok(t)
	other := newSfp(t)
	other.run("another-pw-1\n", "signup", "--server", s.URL, "--api-key", s.AnonKey, "--email", email, "--password-stdin").fails(t, cmdutil.ExitFailure, "already registered")
	other.run("abc\n", "signup", "--server", s.URL, "--api-key", s.AnonKey, "--email", "x"+email, "--password-stdin").fails(t, cmdutil.ExitFailure, "at least 6")
}
