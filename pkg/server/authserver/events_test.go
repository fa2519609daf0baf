package authserver

import (
	"maps"
	"sync"
	"testing"
	"time"
)

// OnEvent is told each sign-in, failure, refresh, revocation, logout and
// rate-limited request, once, for the tenant's metrics.
func TestEvents(t *testing.T) {
	var mu sync.Mutex
	got := map[Event]int{}
	e := newEnv(t, func(c *Config) {
		c.RateLimitTokenPerIP = RateLimit{Events: 1, Interval: 24 * time.Hour, Burst: 6}
		c.OnEvent = func(ev Event) {
			mu.Lock()
			got[ev]++
			mu.Unlock()
		}
	})
	e.signUp("eve@example.com", "secret123")
	rt0 := e.signIn("eve@example.com", "secret123")["refresh_token"].(string) // 1
	e.req("POST", "/token?grant_type=password", map[string]any{"email": "eve@example.com", "password": "wrong"}).
		mustStatus(t, 400, "wrong password") // 2
	e.clock.Advance(time.Minute)
	rt1 := e.refresh(rt0).mustStatus(t, 200, "refresh rt0").json(t)["refresh_token"].(string) // 3
	e.clock.Advance(time.Minute)
	e.refresh(rt1).mustStatus(t, 200, "refresh rt1") // 4
	e.clock.Advance(time.Hour)
	// rt0 is nobody's parent now: its reuse revokes the session.
	wantError(t, e.refresh(rt0), 400, CodeRefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used") // 5
	access := e.signIn("eve@example.com", "secret123")["access_token"].(string)                           // 6
	wantError(t, e.req("POST", "/token?grant_type=password", map[string]any{"email": "eve@example.com", "password": "secret123"}),
		429, CodeOverRequestRateLimit, "Request rate limit reached")
	e.req("POST", "/logout", nil, "Authorization", "Bearer "+access).mustStatus(t, 204, "logout")

	want := map[Event]int{EventSignIn: 2, EventSignInFailed: 1, EventRefresh: 2, EventRefreshFailed: 1,
		EventSessionRevoked: 1, EventRateLimited: 1, EventLogout: 1}
	mu.Lock()
	defer mu.Unlock()
	if !maps.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
