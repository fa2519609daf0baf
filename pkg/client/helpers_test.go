package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client of the shared stack with the anon key.
func newClient(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	s := stacktest.Shared()
	c, err := client.New(s.URL, s.AnonKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serviceClient returns a worker client (service_role key).
func serviceClient(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	s := stacktest.Shared()
	c, err := client.New(s.URL, s.ServiceKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// userClient creates a user and returns a client signed in as that user.
func userClient(t *testing.T, opts ...client.Option) (*client.Client, stacktest.User) {
	t.Helper()
	u := stacktest.Shared().NewUser(t)
	c := newClient(t, opts...)
	if _, err := c.Auth.SignInWithPassword(ctxT(t), u.Email, u.Password); err != nil {
		t.Fatalf("sign in %s: %v", u.Email, err)
	}
	return c, u
}

// team is an account with an owner, a member and a viewer, and a project.
type team struct {
	owner, member, viewer, outsider *client.Client
	ownerU, memberU, viewerU        stacktest.User
	account                         *client.Account
	project                         *client.Project
}

func newTeam(t *testing.T) *team {
	t.Helper()
	ctx := ctxT(t)
	tm := &team{}
	tm.owner, tm.ownerU = userClient(t)
	tm.member, tm.memberU = userClient(t)
	tm.viewer, tm.viewerU = userClient(t)
	tm.outsider, _ = userClient(t)
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
