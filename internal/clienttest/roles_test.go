package clienttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client"
)

// Who may do what, as the database's row-level security and RPC checks
// decide, seen through the client: each refusal is the sentinel a caller
// branches on, and refusals by role name the role needed and the caller's.
func TestRoleScenarios(t *testing.T) {
	ctx, tm := teamTest(t)
	env := tm.environment(t, client.NewEnvironment{Name: "dev"})
	integ, err := tm.owner.Integrations.Create(ctx, client.NewIntegration{AccountID: tm.account.ID, Name: "gh", Provider: "github", AuthType: "token"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.owner.Integrations.SetCredentials(ctx, integ.ID, json.RawMessage(`{"token":"s3cr3t"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.member.Documents.Put(ctx, tm.account.ID, "notes", "k", json.RawMessage(`1`), nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	freshProject := func(t *testing.T) *client.Project {
		n++
		p, err := tm.owner.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: fmt.Sprintf("acme/tmp-%d", n)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	clients := map[string]*client.Client{"owner": tm.owner, "member": tm.member, "viewer": tm.viewer, "outsider": tm.outsider}

	type op func(t *testing.T, c *client.Client) error
	ops := map[string]op{
		"create project": func(t *testing.T, c *client.Client) error {
			n++
			_, err := c.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: fmt.Sprintf("acme/new-%d", n)})
			return err
		},
		"update project": func(t *testing.T, c *client.Client) error {
			_, err := c.Projects.Update(ctx, tm.project.ID, client.ProjectUpdate{Description: ptr("d")})
			return err
		},
		"delete project": func(t *testing.T, c *client.Client) error {
			return c.Projects.Delete(ctx, freshProject(t).ID)
		},
		"update environment": func(t *testing.T, c *client.Client) error {
			_, err := c.Environments.Update(ctx, env.ID, client.EnvironmentUpdate{Branch: ptr("main")})
			return err
		},
		"lock environment": func(t *testing.T, c *client.Client) error {
			l, err := c.Environments.Lock(ctx, env.ID, time.Minute, "test")
			if err == nil {
				_, err = c.Environments.Unlock(ctx, l.Ticket)
			}
			return err
		},
		"add member": func(t *testing.T, c *client.Client) error {
			_, err := c.Accounts.AddMember(ctx, tm.account.ID, tm.viewerU.Email, client.RoleViewer)
			return err
		},
		"list members": func(t *testing.T, c *client.Client) error {
			_, err := c.Accounts.Members(ctx, tm.account.ID)
			return err
		},
		"create integration": func(t *testing.T, c *client.Client) error {
			n++
			_, err := c.Integrations.Create(ctx, client.NewIntegration{AccountID: tm.account.ID, Name: fmt.Sprintf("i%d", n), Provider: "github", AuthType: "token"})
			return err
		},
		"read credentials": func(t *testing.T, c *client.Client) error {
			raw, err := c.Integrations.Credentials(ctx, integ.ID)
			if err == nil && !strings.Contains(string(raw), "s3cr3t") {
				t.Errorf("credentials %s", raw)
			}
			return err
		},
		"put document": func(t *testing.T, c *client.Client) error {
			_, err := c.Documents.Put(ctx, tm.account.ID, "notes", "k", json.RawMessage(`2`), nil)
			return err
		},
		"get document": func(t *testing.T, c *client.Client) error {
			_, err := c.Documents.Get(ctx, tm.account.ID, "notes", "k")
			return err
		},
		"get project": func(t *testing.T, c *client.Client) error {
			_, err := c.Projects.Get(ctx, tm.project.ID)
			return err
		},
	}
	// want: "" allowed; otherwise the sentinel and, for forbidden, the role
	// needed.
	type want struct {
		err  error
		need string
	}
	allowed := want{}
	forbidden := func(role string) want { return want{client.ErrForbidden, role} }
	notFound := want{err: client.ErrNotFound}
	matrix := []struct {
		op                              string
		owner, member, viewer, outsider want
	}{
		{"create project", allowed, allowed, forbidden("member"), forbidden("member")},
		{"update project", allowed, allowed, forbidden("member"), notFound},
		{"delete project", allowed, forbidden("owner"), forbidden("owner"), notFound},
		{"update environment", allowed, allowed, forbidden("member"), notFound},
		{"lock environment", allowed, allowed, forbidden("member"), notFound},
		{"add member", allowed, forbidden("owner"), forbidden("owner"), forbidden("owner")},
		{"list members", allowed, allowed, allowed, forbidden("viewer")},
		{"create integration", allowed, forbidden("owner"), forbidden("owner"), forbidden("owner")},
		{"read credentials", allowed, forbidden("owner"), forbidden("owner"), forbidden("owner")},
		{"put document", allowed, allowed, forbidden("member"), forbidden("member")},
		{"get document", allowed, allowed, allowed, forbidden("viewer")},
		{"get project", allowed, allowed, allowed, notFound},
	}
	callerRole := map[string]string{"owner": "owner", "member": "member", "viewer": "viewer", "outsider": ""}
	for _, row := range matrix {
		for _, who := range []string{"owner", "member", "viewer", "outsider"} {
			w := map[string]want{"owner": row.owner, "member": row.member, "viewer": row.viewer, "outsider": row.outsider}[who]
			t.Run(row.op+"/"+who, func(t *testing.T) {
				err := ops[row.op](t, clients[who])
				if w.err == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if !errors.Is(err, w.err) {
					t.Fatalf("err %v, want %v", err, w.err)
				}
				var e *client.Error
				if !errors.As(err, &e) {
					t.Fatalf("%T is not *client.Error", err)
				}
				if w.need != "" {
					if e.RequiredRole != w.need || e.CallerRole != callerRole[who] {
						t.Fatalf("needs %q (caller %q), want %q (caller %q): %v", e.RequiredRole, e.CallerRole, w.need, callerRole[who], err)
					}
					if who != "outsider" && e.Account != tm.account.Slug {
						t.Fatalf("account %q, want the slug %q", e.Account, tm.account.Slug)
					}
				}
			})
		}
	}
}

// The last owner can be neither removed nor demoted; members may leave.
func TestMembership(t *testing.T) {
	ctx, tm := teamTest(t)
	ms, err := tm.viewer.Accounts.Members(ctx, tm.account.ID)
	if err != nil || len(ms) != 3 || ms[0].Role != client.RoleOwner {
		t.Fatalf("members %+v %v", ms, err)
	}
	_, err = tm.owner.Accounts.SetMemberRole(ctx, tm.account.ID, tm.ownerU.Email, client.RoleMember)
	if !errors.Is(err, client.ErrValidation) || !strings.Contains(err.Error(), "last owner") {
		t.Fatalf("demote last owner: %v", err)
	}
	if _, err := tm.owner.Accounts.SetMemberRole(ctx, tm.account.ID, tm.viewerU.Email, client.RoleMember); err != nil {
		t.Fatal(err)
	}
	if r, _ := tm.viewer.Accounts.MyRole(ctx, tm.account.ID); r != client.RoleMember {
		t.Fatalf("role after set-role: %q", r)
	}
	// A member leaves by naming their own email.
	if err := tm.member.Accounts.RemoveMember(ctx, tm.account.ID, tm.memberU.Email); err != nil {
		t.Fatalf("leave: %v", err)
	}
	if _, err := tm.member.Accounts.Get(ctx, tm.account.Slug); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("account still visible after leaving: %v", err)
	}
	if err := tm.owner.Accounts.RemoveMember(ctx, tm.account.ID, tm.memberU.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("remove a non-member: %v", err)
	}
	if _, err := tm.owner.Accounts.AddMember(ctx, tm.account.ID, "nobody-"+tm.ownerU.ID+"@example.test", client.RoleMember); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("add unknown email: %v", err)
	}
	if _, err := tm.owner.Accounts.Create(ctx, "Dup", tm.account.Slug); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("duplicate slug: %v", err)
	}
	if _, err := tm.owner.Accounts.Create(ctx, "Bad", "-bad-"); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad slug: %v", err)
	}
	a, err := tm.owner.Accounts.Rename(ctx, tm.account.ID, "Renamed")
	if err != nil || a.Name != "Renamed" || a.Role != client.RoleOwner {
		t.Fatalf("rename %+v %v", a, err)
	}
	if _, err := tm.viewer.Accounts.Rename(ctx, tm.account.ID, "X"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("member rename: %v", err)
	}
}

// A project update with a stale version is a version conflict carrying the
// current version; without a version it applies to whatever is current.
func TestProjectVersions(t *testing.T) {
	ctx, tm := teamTest(t)
	p, err := tm.member.Projects.Update(ctx, tm.project.ID, client.ProjectUpdate{Version: 1, Description: ptr("one"),
		Settings: json.RawMessage(`{"a":1}`)})
	if err != nil || p.Version != 2 || p.Description != "one" || string(p.Settings) != `{"a": 1}` && string(p.Settings) != `{"a":1}` {
		t.Fatalf("update v1: %+v %v", p, err)
	}
	_, err = tm.owner.Projects.Update(ctx, tm.project.ID, client.ProjectUpdate{Version: 1, Description: ptr("stale")})
	var e *client.Error
	if !errors.Is(err, client.ErrVersionConflict) || !errors.Is(err, client.ErrConflict) || !errors.As(err, &e) || e.CurrentVersion != 2 {
		t.Fatalf("stale update: %v (%+v)", err, e)
	}
	p, err = tm.owner.Projects.Update(ctx, tm.project.ID, client.ProjectUpdate{Description: ptr("")})
	if err != nil || p.Version != 3 || p.Description != "" {
		t.Fatalf("unconditional update: %+v %v", p, err)
	}
	if _, err := tm.owner.Projects.Update(ctx, tm.project.ID, client.ProjectUpdate{Settings: json.RawMessage(`[1]`)}); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("settings not an object: %v", err)
	}
	if _, err := tm.owner.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: tm.project.Identifier}); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("duplicate identifier: %v", err)
	}
	if _, err := tm.owner.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: "no-slash"}); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad identifier: %v", err)
	}
	got, err := tm.viewer.Projects.GetByIdentifier(ctx, tm.account.ID, tm.project.Identifier)
	if err != nil || got.ID != tm.project.ID || got.Version != 3 {
		t.Fatalf("get by identifier %+v %v", got, err)
	}
}

// Documents: conditional writes and deletes report the current version.
func TestDocumentVersions(t *testing.T) {
	ctx, tm := teamTest(t)
	docs := tm.member.Documents
	d, err := docs.Put(ctx, tm.account.ID, "notes", "a", json.RawMessage(`{"v":1}`), &client.PutOptions{CreateOnly: true})
	if err != nil || d.Version != 1 {
		t.Fatalf("create: %+v %v", d, err)
	}
	_, err = docs.Put(ctx, tm.account.ID, "notes", "a", json.RawMessage(`{"v":2}`), &client.PutOptions{CreateOnly: true})
	var e *client.Error
	if !errors.Is(err, client.ErrVersionConflict) || !errors.As(err, &e) || e.CurrentVersion != 1 {
		t.Fatalf("create existing: %v", err)
	}
	if d, err = docs.Put(ctx, tm.account.ID, "notes", "a", json.RawMessage(`{"v":2}`), &client.PutOptions{IfVersion: 1}); err != nil || d.Version != 2 {
		t.Fatalf("conditional put: %+v %v", d, err)
	}
	if _, err = docs.Delete(ctx, tm.account.ID, "notes", "a", &client.DeleteOptions{IfVersion: 1}); !errors.As(err, &e) || e.CurrentVersion != 2 {
		t.Fatalf("stale delete: %v", err)
	}
	got, err := tm.viewer.Documents.Get(ctx, tm.account.ID, "notes", "a")
	if err != nil || got.Version != 2 || !strings.Contains(string(got.Data), `"v": 2`) && !strings.Contains(string(got.Data), `"v":2`) {
		t.Fatalf("get %+v %v", got, err)
	}
	if ok, err := docs.Delete(ctx, tm.account.ID, "notes", "a", &client.DeleteOptions{IfVersion: 2}); err != nil || !ok {
		t.Fatalf("delete %v %v", ok, err)
	}
	if _, err := docs.Get(ctx, tm.account.ID, "notes", "a"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := docs.Put(ctx, tm.account.ID, "Bad Name", "a", json.RawMessage(`1`), nil); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad collection: %v", err)
	}
	cs, err := tm.viewer.Documents.Collections(ctx, tm.account.ID)
	if err != nil || len(cs) != 0 {
		t.Fatalf("collections after delete: %+v %v", cs, err)
	}
}
