package cli

import (
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestProjectCommands(t *testing.T) {
	c := crewTest(t)
	id := c.member.run("", "project", "register", "acme/api", "--platform", "azure_devops",
		"--remote-url", "https://dev.azure.com/acme/api", "--platform-settings", `{"organization_url":"https://dev.azure.com/acme"}`).ok(t).line()
	if !client.IsUUID(id) {
		t.Fatalf("register printed %q", id)
	}
	c.member.run("", "project", "register", "acme/api").fails(t, cmdutil.ExitConflict)
	c.member.run("", "project", "register", "bad").fails(t, cmdutil.ExitFailure, "projects_identifier_format")
	c.member.run("", "project", "register", "a/b", "--settings", "{nope").fails(t, cmdutil.ExitUsage, "--settings is not valid JSON")
	c.member.run("", "project", "register", "a/b", "--platform", "gitlab").fails(t, cmdutil.ExitUsage, "--platform")
	c.viewer.run("", "project", "register", "acme/viewer").
		fails(t, cmdutil.ExitForbidden, "needs the member role in account "+c.slug, "your role is viewer", "Ask an owner")
	c.outsider.run("", "project", "list", "--account", c.slug).fails(t, cmdutil.ExitNotFound, "no account")

	var list []client.Project
	c.viewer.run("", "project", "list", "--json").ok(t).json(t, &list)
	if len(list) != 2 || list[0].Identifier != "acme/api" || list[1].Identifier != c.project {
		t.Fatalf("list %+v", list)
	}
	// Pages: one per project, with the cursor on stderr.
	r := c.viewer.run("", "project", "list", "--limit", "1", "--json").ok(t)
	r.json(t, &list)
	if len(list) != 1 || !strings.Contains(r.errOut, "--cursor ") {
		t.Fatalf("%s", r)
	}
	cursor := strings.Fields(r.errOut[strings.Index(r.errOut, "--cursor ")+len("--cursor "):])[0]
	c.viewer.run("", "project", "list", "--limit", "1", "--cursor", cursor, "--json").ok(t).json(t, &list)
	if len(list) != 1 || list[0].Identifier != c.project {
		t.Fatalf("second page %+v", list)
	}
	c.viewer.run("", "project", "list", "--limit", "1", "--all", "--json").ok(t).json(t, &list)
	if len(list) != 2 {
		t.Fatalf("--all %+v", list)
	}
	c.viewer.run("", "project", "list", "--limit", "0").fails(t, cmdutil.ExitUsage, "--limit")
	r = c.viewer.run("", "project", "list").ok(t)
	if !strings.Contains(r.out, "IDENTIFIER") || !strings.Contains(r.out, "acme/api") {
		t.Fatalf("%s", r)
	}

	var p client.Project
	c.viewer.run("", "project", "show", "acme/api", "--json").ok(t).json(t, &p)
	if p.ID != id || p.Platform != "azure_devops" || p.Version != 1 {
		t.Fatalf("show %+v", p)
	}
	c.viewer.run("", "project", "show", id).ok(t)
	// People read what failed; the HTTP status and protocol code are for
	// programs (--json) and bug reports (SFP_DEBUG=1).
	r = c.viewer.run("", "project", "show", "acme/nope").fails(t, cmdutil.ExitNotFound, "project acme/nope not found")
	if strings.Contains(r.errOut, "[HTTP") || strings.Contains(r.errOut, "PGRST") {
		t.Fatalf("a protocol code in a message for people:\n%s", r)
	}
	c.viewer.run("", "project", "show", "acme/nope", "--json").fails(t, cmdutil.ExitNotFound, "project acme/nope not found", "[HTTP 4")

	// Optimistic update: the right version applies, a stale one says the
	// current version.
	c.member.run("", "project", "update", "acme/api", "--description", "The API", "--if-version", "1", "--json").ok(t).json(t, &p)
	if p.Version != 2 || p.Description != "The API" {
		t.Fatalf("update %+v", p)
	}
	c.owner.run("", "project", "update", "acme/api", "--description", "Stale", "--if-version", "1").
		fails(t, cmdutil.ExitConflict, "current version is 2", "retry with --if-version 2")
	c.owner.run("", "project", "update", "acme/api", "--remote-url", "").ok(t)
	c.viewer.run("", "project", "update", "acme/api", "--description", "x").
		fails(t, cmdutil.ExitForbidden, "needs the member role", "your role is viewer")
	c.member.run("", "project", "update", "acme/api").fails(t, cmdutil.ExitFailure, "nothing to change")

	// Only owners delete; --yes is required without a terminal.
	c.member.run("", "project", "delete", "acme/api", "--yes").fails(t, cmdutil.ExitForbidden, "needs the owner role", "your role is member")
	c.owner.run("", "project", "delete", "acme/api").fails(t, cmdutil.ExitUsage, "pass --yes")
	c.owner.run("", "project", "delete", "acme/api", "--yes").ok(t)
	c.owner.run("", "project", "show", "acme/api").fails(t, cmdutil.ExitNotFound)
}
