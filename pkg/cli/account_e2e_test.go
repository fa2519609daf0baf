package cli

import (
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

type accountOut struct {
	ID, Slug, Name, Role string
	Current              bool
}

type memberOut struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
}

func TestAccountCommands(t *testing.T) {
	c := crewTest(t)

	var created accountOut
	// Named after the crew's slug so that the test can run again (-count)
	// on the same stack.
	c.owner.run("", "account", "create", "Second "+c.slug, "--json").ok(t).json(t, &created)
	if created.Slug != "second-"+c.slug || created.Role != "owner" || created.Current {
		t.Fatalf("created %+v", created)
	}
	c.owner.run("", "account", "create", "Again", "--slug", c.slug).fails(t, cmdutil.ExitConflict, "already taken")
	c.owner.run("", "account", "create", "Bad", "--slug", "-bad").fails(t, cmdutil.ExitFailure, "invalid")
	c.owner.run("", "account", "create").fails(t, cmdutil.ExitUsage, "give the account's name")

	// Two accounts and none chosen: commands list them and exit 2.
	c.owner.run("", "project", "list").fails(t, cmdutil.ExitUsage, "which account?", c.slug, created.Slug)
	var accounts []accountOut
	c.owner.run("", "account", "list", "--json").ok(t).json(t, &accounts)
	if len(accounts) != 2 {
		t.Fatalf("accounts %+v", accounts)
	}
	r := c.owner.run("", "account", "list").ok(t)
	if !strings.HasPrefix(r.out, "CURRENT  SLUG") {
		t.Fatalf("account list header:\n%s", r)
	}
	c.owner.run("", "account", "use", c.slug).ok(t)
	c.owner.run("", "account", "list", "--json").ok(t).json(t, &accounts)
	for _, a := range accounts {
		if a.Current != (a.Slug == c.slug) {
			t.Fatalf("current flag wrong: %+v", accounts)
		}
	}
	c.owner.run("", "project", "list").ok(t)
	c.owner.run("", "project", "list", "--account", created.Slug, "--json").ok(t)
	c.owner.run("", "account", "use", "no-such-account").fails(t, cmdutil.ExitNotFound, "no account")

	// Members: the member sees the list, cannot change it.
	var members []memberOut
	c.member.run("", "account", "member", "list", "--json").ok(t).json(t, &members)
	if len(members) != 3 || members[0].Role != "owner" || members[0].Email != c.owner.email {
		t.Fatalf("members %+v", members)
	}
	c.member.run("", "account", "member", "add", c.outsider.email, "--role", "viewer").
		fails(t, cmdutil.ExitForbidden, "needs the owner role in account "+c.slug, "your role is member")
	c.viewer.run("", "account", "member", "set-role", c.member.email, "owner").
		fails(t, cmdutil.ExitForbidden, "owner role", "your role is viewer")
	c.owner.run("", "account", "member", "add", c.outsider.email, "--role", "superuser").fails(t, cmdutil.ExitUsage, "--role")
	c.owner.run("", "account", "member", "add", "nobody@nowhere.test").fails(t, cmdutil.ExitNotFound, "no user with email")

	c.owner.run("", "account", "member", "set-role", c.viewer.email, "member").ok(t)
	c.owner.run("", "account", "member", "set-role", c.owner.email, "viewer").fails(t, cmdutil.ExitFailure, "last owner")
	var one memberOut
	c.owner.run("", "account", "member", "add", c.outsider.email, "--role", "viewer", "--json").ok(t).json(t, &one)
	if one.UserID != c.outsider.id || one.Role != "viewer" {
		t.Fatalf("added %+v", one)
	}
	// The new viewer leaves on their own; the owner removes the member.
	c.outsider.run("", "account", "member", "remove", c.outsider.email).ok(t)
	c.owner.run("", "account", "member", "remove", c.member.email).ok(t)
	c.owner.run("", "account", "member", "remove", c.member.email).fails(t, cmdutil.ExitNotFound)
	c.member.run("", "project", "list").fails(t, cmdutil.ExitNotFound, "not a member of any account", "sfp account create")

	var shown struct {
		Slug    string
		Role    string
		Members []memberOut
	}
	c.viewer.run("", "account", "show", "--json").ok(t).json(t, &shown)
	if shown.Slug != c.slug || shown.Role != "member" || len(shown.Members) != 2 {
		t.Fatalf("show %+v", shown)
	}
	r = c.viewer.run("", "account", "show").ok(t)
	if !strings.Contains(r.out, c.owner.email) || !strings.Contains(r.out, "Your role:") {
		t.Fatalf("%s", r)
	}
}
