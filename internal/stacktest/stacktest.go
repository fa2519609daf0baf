// Package stacktest runs a whole embedded tenant in the test process — the
// PostgreSQL cluster, auth, REST, realtime and the gateway from kong.yml —
// listening on a real loopback port, for tests that drive the stack the way
// clients do.
//
//	func TestMain(m *testing.M) { stacktest.Main(m) }
//
//	func TestX(t *testing.T) {
//		s := stacktest.Shared()
//		u := s.NewUser(t)            // a confirmed user with an access token
//		… http to s.URL with s.AnonKey and u.AccessToken …
//	}
//
// One stack serves a whole test package; tests isolate themselves by
// creating their own users and accounts.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/runtime/embedded"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Stack is a running tenant.
type Stack struct {
	Tenant *tenant.Tenant
	URL    string
	// The legacy anon and service_role keys (JWTs) and the secret they are
	// signed with.
	AnonKey    string
	ServiceKey string
	JWTSecret  string
	// The publishable and secret keys (sb_…).
	PublishableKey string
	SecretKey      string
	// AdminURL connects to the tenant database as supabase_admin (for
	// fixtures and assertions the API cannot make).
	AdminURL string
	// MonitoringURL is the admin listener (/live, /ready, /metrics).
	MonitoringURL string

	inst *embedded.Instance
	base string
}

var shared *Stack

// Options change the stack.
type Options struct {
	// Configure edits the tenant configuration before the start.
	Configure func(*tenant.Config)
	// Secrets edits the tenant's secrets (.env) before the start.
	Secrets func(*tenant.Secrets)
	// Logger receives the servers' logs; default: discarded unless
	// SFP_TEST_LOG=1.
	Logger *slog.Logger
	// ExpiryInterval is the runtime's lease expiry period (default: the
	// runtime's).
	ExpiryInterval time.Duration
}

// Main starts the package's stack, runs the tests and stops it.
func Main(m *testing.M) { MainWith(m, Options{ExpiryInterval: 200 * time.Millisecond}) }

// MainWith is Main with options.
func MainWith(m *testing.M, opts Options) {
	pgtest.MainShared(m, "stacktest", &shared, func() (*Stack, error) { return Start(context.Background(), opts) })
}

// Shared returns the stack started by Main.
func Shared() *Stack {
	if shared == nil {
		panic("stacktest: no stack; call stacktest.Main(m) from TestMain")
	}
	return shared
}

// Start boots a tenant in a fresh temporary base directory.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if _, err := postgres.FindBinaries(ctx); err != nil {
		return nil, fmt.Errorf("these tests run a whole tenant and need PostgreSQL: %w", err)
	}
	base, err := os.MkdirTemp("", "sfp-stack-")
	if err != nil {
		return nil, err
	}
	os.Chmod(base, 0o755) // the postgres user must traverse it when tests run as root
	ports, err := pgtest.FreePorts(3)
	if err != nil {
		return nil, err
	}
	t, err := tenant.Create(base, tenant.CreateOptions{Name: "test", APIPort: ports[0], PostgresPort: ports[1], MonitoringPort: ports[2]})
	if err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	t.Config.Auth.Autoconfirm = true
	// SAML SSO on, as a tenant with an IdP has it: internal/samltest
	// registers an in-process IdP on the stack (samltest.RegisterOnTenant).
	t.Config.Auth.SAML.Enabled = true
	if opts.Configure != nil {
		opts.Configure(&t.Config)
	}
	if err := t.SaveConfig(); err != nil {
		return nil, err
	}
	if opts.Secrets != nil {
		if err := t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) { opts.Secrets(s); return true, nil }); err != nil {
			return nil, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		if os.Getenv("SFP_TEST_LOG") == "1" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		} else {
			logger = slog.New(slog.DiscardHandler)
		}
	}
	inst, err := embedded.Boot(ctx, t, embedded.BootOptions{Logger: logger, ExpiryInterval: opts.ExpiryInterval,
		// The lowest bcrypt cost: tests create hundreds of users, in
		// parallel, under the race detector, on shared machines.
		PasswordHashCost: bcrypt.MinCost})
	if err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("boot test tenant: %w", err)
	}
	return &Stack{
		Tenant: t, URL: inst.URL, AnonKey: t.Secrets.AnonKey, ServiceKey: t.Secrets.ServiceRoleKey,
		JWTSecret: t.Secrets.JWTSecret, PublishableKey: t.Secrets.PublishableKey, SecretKey: t.Secrets.SecretKey,
		AdminURL:      inst.Cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres"),
		MonitoringURL: t.Config.Monitoring.URL(),
		inst:          inst, base: base,
	}, nil
}

// Close stops the tenant and removes its files.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.inst.Shutdown(ctx)
	os.RemoveAll(s.base)
}

// Instance is the running embedded instance (to stop PostgreSQL in fault
// tests, for example).
func (s *Stack) Instance() *embedded.Instance { return s.inst }

// User is a confirmed user of the stack.
type User struct {
	ID           string
	Email        string
	Password     string
	AccessToken  string
	RefreshToken string
}

// NewUser creates a confirmed user through the admin API and signs it in.
func (s *Stack) NewUser(t testing.TB) User {
	t.Helper()
	return s.NewUserWith(t, s.ServiceKey, s.AnonKey)
}

// NewUserWith is NewUser with the given keys: serviceKey (a secret or
// legacy service_role key) as the admin's, apikey for signing in.
func (s *Stack) NewUserWith(t testing.TB, serviceKey, apikey string) User {
	t.Helper()
	email := "user-" + pgtest.RandomHex(6) + "@example.test"
	password := "pw-" + pgtest.RandomHex(8)
	var created struct {
		ID string `json:"id"`
	}
	s.DoWith(t, serviceKey, http.MethodPost, "/auth/v1/admin/users", "",
		map[string]any{"email": email, "password": password, "email_confirm": true}, http.StatusOK, &created)
	var session struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	s.DoWith(t, apikey, http.MethodPost, "/auth/v1/token?grant_type=password", "",
		map[string]any{"email": email, "password": password}, http.StatusOK, &session)
	return User{ID: created.ID, Email: email, Password: password, AccessToken: session.AccessToken, RefreshToken: session.RefreshToken}
}

// Do sends a JSON request through the gateway with the anon key as apikey
// and bearer (a user's access token or the service key; "" = the anon key),
// checks the status and decodes the response into out (if not nil). Extra
// headers come as name, value pairs.
func (s *Stack) Do(t testing.TB, method, path, bearer string, body any, wantStatus int, out any, headers ...string) []byte {
	t.Helper()
	return s.DoWith(t, s.AnonKey, method, path, bearer, body, wantStatus, out, headers...)
}

// DoWith is Do with apikey as the API key ("" bearer = the API key, as
// supabase-js sends it when signed out).
func (s *Stack) DoWith(t testing.TB, apikey, method, path, bearer string, body any, wantStatus int, out any, headers ...string) []byte {
	t.Helper()
	if bearer == "" {
		bearer = apikey
	}
	resp, raw := s.Send(t, method, path, apikey, bearer, body, headers...)
	if wantStatus != 0 && resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, strings.TrimSpace(string(raw)))
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// Send sends a request through the gateway with apikey as the API key and
// bearer, when it is not "", as the bearer token; body, when not nil, goes
// as JSON. It returns the answer, its body read, whatever its status: for
// tests of the refusals themselves.
func (s *Stack) Send(t testing.TB, method, path, apikey, bearer string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return SendTo(t, method, s.URL+path, apikey, bearer, body, headers...)
}

// SendTo is Send to a full URL, for tests that run tenants of their own.
// A request that gets no answer fails the test.
func SendTo(t testing.TB, method, url, apikey, bearer string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := NewRequest(method, url, apikey, bearer, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// NewRequest builds a request to a gateway as clients send it: apikey as
// the API key, bearer, when it is not "", as the bearer token, body, when
// not nil, as JSON, and extra headers as name, value pairs. Tests with a
// client of their own (timeouts, answers recorded rather than fatal) send
// it themselves.
func NewRequest(method, url, apikey, bearer string, body any, headers ...string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the body of %s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("apikey", apikey)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req, nil
}
