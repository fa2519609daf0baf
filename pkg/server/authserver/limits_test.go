package authserver

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// TestRateLimits: per client IP, /token and /signup answer 429
// over_request_rate_limit once the bucket is empty; other clients are not
// affected, and the bucket refills with time.
func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.RateLimitTokenPerIP = RateLimit{Events: 1, Interval: time.Minute, Burst: 2}
		c.RateLimitSignupPerIP = RateLimit{Events: 1, Interval: time.Hour, Burst: 1}
	})
	e.signUp("max@example.com", "secret123") // spends the signup bucket of 127.0.0.1
	wantError(t, e.req("POST", "/signup", map[string]any{"email": "ned@example.com", "password": "secret123"}),
		429, CodeOverRequestRateLimit, "Request rate limit reached")
	// The gateway forwards another client's address.
	e.req("POST", "/signup", map[string]any{"email": "ned@example.com", "password": "secret123"}, "X-Forwarded-For", "203.0.113.7").
		mustStatus(t, 200, "signup from another client")

	creds := map[string]any{"email": "max@example.com", "password": "secret123"}
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	e.req("POST", "/token?grant_type=password", creds, from("198.51.100.1")...).mustStatus(t, 200, "token 1")
	e.req("POST", "/token?grant_type=password", map[string]any{"email": "max@example.com", "password": "wrong"}, from("198.51.100.1")...).
		mustStatus(t, 400, "token 2 (failures count too)")
	wantError(t, e.req("POST", "/token?grant_type=password", creds, from("198.51.100.1")...), 429, CodeOverRequestRateLimit, "Request rate limit reached")
	// Refreshes share the /token bucket, as in GoTrue.
	wantError(t, e.req("POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": "abcdefghijkl"}, from("198.51.100.1")...),
		429, CodeOverRequestRateLimit, "Request rate limit reached")
	wantError20240101(t, e.req("POST", "/token?grant_type=password", creds, apiVersionHeader, "2024-01-01", "X-Forwarded-For", "198.51.100.1"),
		429, CodeOverRequestRateLimit, "Request rate limit reached")
	// A different client is not limited; the first one recovers with time.
	e.req("POST", "/token?grant_type=password", creds, from("198.51.100.2")...).mustStatus(t, 200, "other client")
	e.clock.Advance(time.Minute)
	e.req("POST", "/token?grant_type=password", creds, from("198.51.100.1")...).mustStatus(t, 200, "after refill")
	// The session records the client's address.
	if ip := e.scalar(`select host(ip) from auth.sessions order by created_at desc limit 1`); ip != "198.51.100.1" {
		t.Fatalf("session ip %v", ip)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimitTokenPerIP = RateLimit{Disabled: true} })
	for i := 0; i < 40; i++ { // more than the default burst of 30
		e.req("POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": "abcdefghijkl"}).
			mustStatus(t, 400, "unlimited token endpoint")
	}
}

func TestClientIP(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	withGateway := append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, loopback...)
	cases := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct client", "203.0.113.9:5000", nil, loopback, "203.0.113.9"},
		{"direct client lies", "203.0.113.9:5000", []string{"198.51.100.1"}, loopback, "203.0.113.9"},
		{"via local gateway", "127.0.0.1:5000", []string{"198.51.100.1"}, loopback, "198.51.100.1"},
		{"spoofed left entries ignored", "127.0.0.1:5000", []string{"1.1.1.1, 198.51.100.1"}, loopback, "198.51.100.1"},
		{"two trusted hops", "127.0.0.1:5000", []string{"198.51.100.1, 10.1.2.3"}, withGateway, "198.51.100.1"},
		{"untrusted hop stops the walk", "127.0.0.1:5000", []string{"198.51.100.1, 203.0.113.5"}, withGateway, "203.0.113.5"},
		{"multiple headers", "127.0.0.1:5000", []string{"198.51.100.1", "10.1.2.3"}, withGateway, "198.51.100.1"},
		{"local client through gateway", "127.0.0.1:5000", []string{"127.0.0.1"}, loopback, "127.0.0.1"},
		{"garbage entry", "127.0.0.1:5000", []string{"198.51.100.1, nonsense"}, loopback, "127.0.0.1"},
		{"ipv6 peer", "[::1]:5000", []string{"2001:db8::1"}, loopback, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:127.0.0.1]:5000", []string{"198.51.100.1"}, loopback, "198.51.100.1"},
		{"in-process call", "", []string{"198.51.100.1"}, loopback, "198.51.100.1"},
		{"nothing known", "", nil, loopback, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, c.trusted); got != c.want {
				t.Fatalf("clientIP = %q, want %q", got, c.want)
			}
		})
	}
}

func TestIPLimiterForgetsIdleClients(t *testing.T) {
	l := newIPLimiter(RateLimit{Events: 1, Interval: time.Minute, Burst: 1})
	start := time.Now()
	for _, ip := range []string{"a", "b", "c"} {
		if !l.allow(ip, start) {
			t.Fatalf("first request of %s refused", ip)
		}
	}
	if l.allow("a", start) {
		t.Fatal("second request within the interval allowed")
	}
	l.allow("d", start.Add(2*bucketTTL))
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets kept after the idle ones expired, want 1", n)
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t)
	good := e.srv.cfg
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no pool", func(c *Config) { c.Pool = nil }, "Pool is required"},
		{"short secret", func(c *Config) { c.JWTSecret, c.Keys = []byte("short"), nil }, "JWTSecret must be at least 32 bytes"},
		{"keys that cannot sign", func(c *Config) {
			verifyOnly := jwttest.GenerateKey(t, false)
			c.Keys = jwtkeys.NewRing(jwttest.KeySet(t, nil, verifyOnly))
		}, "neither a signing key nor the legacy secret"},
		{"tiny expiry", func(c *Config) { c.JWTExpiry = time.Millisecond }, "JWTExpiry"},
		{"bad min length", func(c *Config) { c.MinPasswordLength = 100 }, "MinPasswordLength"},
		{"half rate limit", func(c *Config) { c.RateLimitTokenPerIP = RateLimit{Events: 5} }, "RateLimitTokenPerIP"},
		{"bad cost", func(c *Config) { c.PasswordHashCost = 40 }, "PasswordHashCost"},
		{"negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }, "MaxBodyBytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			_, err := New(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error naming %q", err, c.want)
			}
		})
	}
	// A pool that cannot see the auth tables is refused at startup.
	cfg := good
	cfg.Pool = e.db.Pool(t, "authenticator")
	if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "check auth schema") {
		t.Fatalf("New with the authenticator pool: %v", err)
	}
}
