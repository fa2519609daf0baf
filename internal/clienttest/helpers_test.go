package clienttest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The auth server rate-limits /token per client IP, as GoTrue does. Tests
// act as many clients at once, so each test client presents its own
// address in X-Forwarded-For, which the auth server believes because the
// gateway and the loopback hop are trusted proxies.
var nextIP atomic.Int32

func testIP() string {
	n := nextIP.Add(1)
	return fmt.Sprintf("198.18.%d.%d", n/250, n%250+1)
}

type xffTransport struct {
	ip   string
	base http.RoundTripper
}

func (x *xffTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", x.ip)
	base := x.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

func ownIP() client.Option {
	return client.WithHTTPClient(&http.Client{Transport: &xffTransport{ip: testIP()}})
}

// newClient returns a client of the shared stack with the publishable key
// (TestLegacyKeys: the legacy ones).
func newClient(t testing.TB, opts ...client.Option) *client.Client {
	t.Helper()
	return keyClient(t, stacktest.Shared().PublishableKey, opts...)
}

// serviceClient returns a worker client (the secret key).
func serviceClient(t testing.TB, opts ...client.Option) *client.Client {
	t.Helper()
	return keyClient(t, stacktest.Shared().SecretKey, opts...)
}

// keyClient returns a client of the shared stack with the API key key,
// closed when the test ends.
func keyClient(t testing.TB, key string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(stacktest.Shared().URL, key, append([]client.Option{ownIP()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testUser is a confirmed user; RefreshToken is from its first sign-in.
type testUser struct {
	ID, Email, Password, RefreshToken string
}

// newUser creates a confirmed user with the admin API.
func newUser(t testing.TB) testUser {
	t.Helper()
	n := nextIP.Add(1)
	u := testUser{Email: fmt.Sprintf("u%d-%d@example.test", time.Now().UnixNano(), n), Password: "pw-" + fmt.Sprint(n) + "-long-enough"}
	created, err := adminClient(t).Auth.AdminCreateUser(ctxT(t), u.Email, u.Password, true)
	if err != nil {
		t.Errorf("create user: %v", err)
		return u
	}
	u.ID = created.ID
	return u
}

var (
	adminOnce sync.Once
	admin     *client.Client
)

// adminClient is one service_role client shared by the helpers.
func adminClient(t testing.TB) *client.Client {
	adminOnce.Do(func() {
		s := stacktest.Shared()
		admin, _ = client.New(s.URL, s.ServiceKey, ownIP())
	})
	return admin
}

// userClient creates a user and returns a client signed in as that user.
func userClient(t testing.TB, opts ...client.Option) (*client.Client, testUser) {
	t.Helper()
	u := newUser(t)
	c := newClient(t, opts...)
	sess, err := c.Auth.SignInWithPassword(ctxT(t), u.Email, u.Password)
	if err != nil {
		t.Errorf("sign in %s: %v", u.Email, err)
		return nil, u
	}
	u.RefreshToken = sess.RefreshToken
	return c, u
}

// team is an account with an owner, a member and a viewer, and a project.
type team struct {
	owner, member, viewer, outsider *client.Client
	ownerU, memberU, viewerU        testUser
	account                         *client.Account
	project                         *client.Project
}

// environment creates an environment in the team's project as the member.
func (tm *team) environment(t testing.TB, in client.NewEnvironment) *client.Environment {
	t.Helper()
	in.ProjectID = tm.project.ID
	env, err := tm.member.Environments.Create(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// teamTest is how most tests here begin: it runs t in parallel with the
// others (each works in its own team, so they cannot meet) and returns a
// context bounded like every call of the test (ctxT) and a new team.
func teamTest(t *testing.T) (context.Context, *team) {
	t.Helper()
	t.Parallel()
	return ctxT(t), newTeam(t)
}

func newTeam(t testing.TB) *team {
	t.Helper()
	ctx := ctxT(t)
	tm := &team{}
	// Four users at once: creating and signing in a user hashes a password
	// twice (bcrypt), the slow part of every test's setup.
	var wg sync.WaitGroup
	for _, dst := range []struct {
		c **client.Client
		u *testUser
	}{{&tm.owner, &tm.ownerU}, {&tm.member, &tm.memberU}, {&tm.viewer, &tm.viewerU}, {&tm.outsider, new(testUser)}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*dst.c, *dst.u = userClient(t)
		}()
	}
	wg.Wait()
	if tm.owner == nil || tm.member == nil || tm.viewer == nil || tm.outsider == nil {
		t.FailNow()
	}
	var err error
	tm.account, err = tm.owner.Accounts.Create(ctx, "Team "+tm.ownerU.ID[:8], "")
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	if _, err := tm.owner.Accounts.AddMember(ctx, tm.account.ID, tm.memberU.Email, client.RoleMember); err != nil {
		t.Fatalf("add member: %v", err)
	}
	if _, err := tm.owner.Accounts.AddMember(ctx, tm.account.ID, tm.viewerU.ID, client.RoleViewer); err != nil {
		t.Fatalf("add viewer: %v", err)
	}
	tm.project, err = tm.member.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: "acme/app-" + tm.ownerU.ID[:8]})
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	return tm
}

// inMode checks the results of a call that starts a watch: the watch
// started, in mode ("broadcast": pushed on the resource's private topic;
// "realtime" for a resource's tasks; "poll"), and it is closed when the
// test ends.
//
//	w := inMode(t, "broadcast")(tm.viewer.Tasks.Watch(ctx, task.ID))
func inMode(t testing.TB, mode string) func(*client.Watch, error) *client.Watch {
	return func(w *client.Watch, err error) *client.Watch {
		t.Helper()
		if err != nil {
			t.Fatalf("watch in %s mode: %v", mode, err)
		}
		t.Cleanup(func() { w.Close() })
		if w.Mode() != mode {
			t.Fatalf("watch mode %q, want %q", w.Mode(), mode)
		}
		return w
	}
}

func ptr[T any](v T) *T { return &v }
