package clienttest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

// countingTransport counts token refreshes (POST /auth/v1/token with
// grant_type=refresh_token) and refused requests on their way out.
type countingTransport struct {
	refreshes atomic.Int32
	refused   atomic.Int32
	requests  atomic.Int32
	xff       *xffTransport
}

func newCounting() *countingTransport { return &countingTransport{xff: &xffTransport{ip: testIP()}} }

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/auth/v1/token" && r.URL.Query().Get("grant_type") == "refresh_token" {
		ct.refreshes.Add(1)
	}
	ct.requests.Add(1)
	resp, err := ct.xff.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		ct.refused.Add(1)
	}
	return resp, err
}

// clock is a settable clock for the client.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// clockedSignIn signs u in with a client whose clock the test moves and
// whose requests ct counts.
func clockedSignIn(t *testing.T, ctx context.Context, u testUser) (*client.Client, *countingTransport, *clock, *client.Session) {
	t.Helper()
	ct, clk := newCounting(), &clock{}
	c := newClient(t, client.WithHTTPClient(&http.Client{Transport: ct}), client.WithClock(clk.now))
	sess, err := c.Auth.SignInWithPassword(ctx, u.Email, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	return c, ct, clk, sess
}

// Fifty goroutines share one client whose access token is about to expire:
// the first request refreshes the session and the others wait for that
// refresh. Exactly one refresh reaches the server and no request fails.
func TestConcurrentRequestsShareOneProactiveRefresh(t *testing.T) {
	ctx, tm := teamTest(t)
	c, ct, clk, sess := clockedSignIn(t, ctx, tm.memberU)
	// Within the refresh margin of the expiry, still valid on the server.
	clk.advance(time.Until(sess.ExpiresAt) - 30*time.Second)
	run50(t, func() error {
		if _, err := c.Projects.List(ctx, tm.account.ID, nil); err != nil {
			return err
		}
		_, err := c.Accounts.Get(ctx, tm.account.Slug)
		return err
	})
	if got := ct.refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes, want exactly 1", got)
	}
	if got := ct.refused.Load(); got != 0 {
		t.Fatalf("%d refused requests", got)
	}
	now, err := c.Auth.Session(ctx)
	if err != nil || now.RefreshToken == sess.RefreshToken {
		t.Fatalf("session was not replaced: %v", err)
	}
}

// The server refuses the access token as expired (401) while the client
// thought it valid: every goroutine's request is refused once, one refresh
// happens, and each request is sent again with the new token and succeeds.
func TestConcurrentRequestsShareOneRefreshOn401(t *testing.T) {
	ctx, tm := teamTest(t)
	s := stacktest.Shared()
	expired := mintToken(t, s.JWTSecret, tm.memberU.ID, time.Now().Add(-time.Minute))
	ct := newCounting()
	c := newClient(t, client.WithHTTPClient(&http.Client{Transport: ct}), client.WithSession(&client.Session{
		AccessToken: expired, RefreshToken: tm.memberU.RefreshToken, ExpiresIn: 3600,
		ExpiresAt: time.Now().Add(time.Hour), User: client.User{ID: tm.memberU.ID, Email: tm.memberU.Email},
	}))
	run50(t, func() error {
		_, err := c.Projects.Get(ctx, tm.project.ID)
		return err
	})
	if got := ct.refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes, want exactly 1", got)
	}
	if got := ct.refused.Load(); got < 1 || got > 50 {
		t.Fatalf("%d refused requests, want between 1 and 50 (each at most once)", got)
	}
}

func run50(t *testing.T, fn func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := fn(); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed: %v", err)
	}
}

func mintToken(t *testing.T, secret, uid string, exp time.Time) string {
	t.Helper()
	return jwttest.Sign([]byte(secret), map[string]any{
		"sub": uid, "role": "authenticated", "aud": "authenticated", "exp": exp.Unix(), "iat": exp.Add(-time.Hour).Unix(),
	})
}

// A session whose refresh token was revoked (signed out elsewhere) cannot
// be refreshed: the error is ErrSessionExpired (and ErrUnauthenticated),
// and later calls fail the same way without trying again.
func TestRevokedSessionIsExpired(t *testing.T) {
	ctx, tm := teamTest(t)
	c, ct, clk, sess := clockedSignIn(t, ctx, tm.viewerU)
	other := newClient(t, client.WithSession(sess))
	if err := other.Auth.SignOut(ctx); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	clk.advance(time.Until(sess.ExpiresAt) - time.Second)
	for i := range 2 {
		_, err := c.Projects.Get(ctx, tm.project.ID)
		if !errors.Is(err, client.ErrSessionExpired) || !errors.Is(err, client.ErrUnauthenticated) || errors.Is(err, client.ErrValidation) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := ct.refreshes.Load(); got != 1 {
		t.Fatalf("%d refresh attempts, want 1", got)
	}
	if s, _ := other.Auth.Session(ctx); s != nil {
		t.Fatal("SignOut kept the session")
	}
}

// The file store writes 0600 files atomically; a second client sharing the
// store adopts a session the first one refreshed instead of refreshing
// again (two sfp commands run one after the other).
func TestFileStoreSharedBetweenClients(t *testing.T) {
	ctx, tm := teamTest(t)
	path := filepath.Join(t.TempDir(), "sfp", "session.json")
	store := client.NewFileStore(path)
	ct := newCounting()
	hc := &http.Client{Transport: ct}
	a := newClient(t, client.WithHTTPClient(hc), client.WithSessionStore(store))
	if _, err := a.Auth.SignInWithPassword(ctx, tm.ownerU.Email, tm.ownerU.Password); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("session dir mode %v", di.Mode())
	}
	b := newClient(t, client.WithHTTPClient(hc), client.WithSessionStore(store))
	old, err := b.Auth.Session(ctx) // loaded from the file
	if err != nil || old == nil || old.User.Email != tm.ownerU.Email {
		t.Fatalf("b's session %+v %v", old, err)
	}
	refreshed, err := a.Auth.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// b's copy is spent (a's refresh rotated its refresh token): b's
	// refresh takes a's session from the store instead of presenting it.
	cur, err := b.Auth.Refresh(ctx)
	if err != nil {
		t.Fatalf("b's refresh after a's: %v", err)
	}
	if _, err := b.Projects.Get(ctx, tm.project.ID); err != nil {
		t.Fatalf("b after a's refresh: %v", err)
	}
	if cur.RefreshToken != refreshed.RefreshToken || old.RefreshToken == refreshed.RefreshToken {
		t.Fatal("b did not adopt the refreshed session from the store")
	}
	if got := ct.refreshes.Load(); got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
	if err := b.Auth.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("session file after sign-out: %v", err)
	}
	if s, err := store.Load(context.Background()); s != nil || err != nil {
		t.Fatalf("load after delete: %v %v", s, err)
	}
}

// Signing in: wrong password is ErrUnauthenticated with GoTrue's code;
// User needs a session; sign-up with auto-confirm gives a session.
func TestSignInAndUser(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := newUser(t)
	c := newClient(t)
	_, err := c.Auth.SignInWithPassword(ctx, u.Email, "wrong-password")
	var e *client.Error
	if !errors.Is(err, client.ErrUnauthenticated) || !errors.As(err, &e) || e.Code != "invalid_credentials" || e.StatusCode != 400 {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := c.Auth.User(ctx); !errors.Is(err, client.ErrNoSession) {
		t.Fatalf("user without session: %v", err)
	}
	if _, err := c.Auth.SignInWithPassword(ctx, u.Email, u.Password); err != nil {
		t.Fatal(err)
	}
	me, err := c.Auth.User(ctx)
	if err != nil || me.ID != u.ID || me.Email != u.Email {
		t.Fatalf("user %+v %v", me, err)
	}
	email := "signup-" + u.ID[:8] + "@example.test"
	c2 := newClient(t)
	nu, sess, err := c2.Auth.SignUp(ctx, email, "long-enough-password")
	if err != nil || sess == nil || nu.Email != email {
		t.Fatalf("sign up: %+v %+v %v", nu, sess, err)
	}
	if _, _, err := c2.Auth.SignUp(ctx, email, "long-enough-password"); !errors.Is(err, client.ErrValidation) && !errors.Is(err, client.ErrConflict) {
		t.Fatalf("sign up twice: %v", err)
	}
	svc := serviceClient(t)
	created, err := svc.Auth.AdminCreateUser(ctx, "admin-made-"+u.ID[:8]+"@example.test", "another-password", true)
	if err != nil || created.EmailConfirmedAt == nil {
		t.Fatalf("admin create: %+v %v", created, err)
	}
	if _, err := c.Auth.AdminCreateUser(ctx, "x-"+u.ID[:8]+"@example.test", "another-password", true); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("admin create with a user token: %v", err)
	}
}
