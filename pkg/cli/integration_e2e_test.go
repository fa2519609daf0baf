package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestIntegrationCommands(t *testing.T) {
	c := crewTest(t)
	id := c.owner.run("", "integration", "add", "github-acme", "--provider", "github", "--auth-type", "token",
		"--metadata", `{"org":"acme"}`).ok(t).line()
	c.owner.run("", "integration", "add", "sf", "--provider", "salesforce", "--auth-type", "jwt", "--project", c.project).ok(t)
	c.member.run("", "integration", "add", "x", "--provider", "github", "--auth-type", "token").
		fails(t, cmdutil.ExitForbidden, "needs the owner role", "your role is member")
	c.owner.run("", "integration", "add", "y").fails(t, cmdutil.ExitUsage, "--provider")

	var list []client.Integration
	c.viewer.run("", "integration", "list", "--json").ok(t).json(t, &list)
	if len(list) != 2 || list[0].Name != "sf" || list[0].Scope != "projects" || list[1].ID != id {
		t.Fatalf("list %+v", list)
	}
	c.viewer.run("", "integration", "list", "--provider", "github", "--json").ok(t).json(t, &list)
	if len(list) != 1 {
		t.Fatalf("by provider %+v", list)
	}

	// Set from stdin and from a file; never printed.
	const secret = "ghp_TOPSECRET_123"
	r := c.owner.run(`{"token":"`+secret+`","user":"bot"}`, "integration", "credentials", "set", "github-acme").ok(t)
	if strings.Contains(r.out+r.errOut, secret) {
		t.Fatalf("set echoed the secret: %s", r)
	}
	file := writeTemp(t, "sf.json", `{"private_key":"-----BEGIN-----","client_id":"abc"}`)
	c.owner.run("", "integration", "credentials", "set", "sf", "--from-file", file).ok(t)
	c.owner.run("[1,2]", "integration", "credentials", "set", "sf").fails(t, cmdutil.ExitUsage, "JSON object")
	c.member.run(`{"a":1}`, "integration", "credentials", "set", "sf").fails(t, cmdutil.ExitForbidden, "owner role")

	// Get: key names only by default; values with --reveal or --output.
	r = c.owner.run("", "integration", "credentials", "get", "github-acme").ok(t)
	if strings.Contains(r.out+r.errOut, secret) || !strings.Contains(r.out, "token") || !strings.Contains(r.out, "user") {
		t.Fatalf("default get: %s", r)
	}
	var keys struct {
		Integration string   `json:"integration"`
		Keys        []string `json:"keys"`
	}
	c.owner.run("", "integration", "credentials", "get", "github-acme", "--json").ok(t).json(t, &keys)
	if strings.Join(keys.Keys, ",") != "token,user" {
		t.Fatalf("keys %+v", keys)
	}
	var creds map[string]string
	c.owner.run("", "integration", "credentials", "get", "github-acme", "--reveal").ok(t).json(t, &creds)
	if creds["token"] != secret {
		t.Fatalf("revealed %v", creds)
	}
	out := filepath.Join(t.TempDir(), "creds.json")
	c.owner.run("", "integration", "credentials", "get", "github-acme", "--output", out).ok(t)
	fi, err := os.Stat(out)
	raw, _ := os.ReadFile(out)
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(string(raw), secret) {
		t.Fatalf("output file %v %v %s", fi, err, raw)
	}
	c.owner.run("", "integration", "credentials", "get", "github-acme", "--output", out).fails(t, cmdutil.ExitFailure, "exists")
	c.member.run("", "integration", "credentials", "get", "github-acme", "--reveal").
		fails(t, cmdutil.ExitForbidden, "needs the owner role", "your role is member")
	c.viewer.run("", "integration", "credentials", "get", "github-acme").fails(t, cmdutil.ExitForbidden, "your role is viewer")

	// A worker reads them with the service key, naming the account.
	w := worker(t)
	w.run("", "integration", "credentials", "get", "github-acme", "--account", c.slug, "--reveal").ok(t).json(t, &creds)
	if creds["token"] != secret {
		t.Fatalf("worker read %v", creds)
	}
	w.run("", "integration", "credentials", "get", "github-acme").fails(t, cmdutil.ExitUsage, "--account")
	if tok := w.run("", "integration", "credentials", "get", "github-acme", "--account", c.slug, "--field", "token").ok(t).line(); tok != secret {
		t.Fatalf("--field token printed %q", tok)
	}
	w.run("", "integration", "credentials", "get", "github-acme", "--account", c.slug, "--field", "nope").fails(t, cmdutil.ExitNotFound, "no key \"nope\"")
	w.run("", "integration", "credentials", "get", "github-acme", "--account", c.slug, "--field", "token", "--reveal").fails(t, cmdutil.ExitUsage, "exclude")
	w.run("", "integration", "credentials", "get", id, "--reveal").ok(t)

	var shown client.Integration
	c.viewer.run("", "integration", "show", "github-acme", "--json").ok(t).json(t, &shown)
	if shown.CredentialsUpdatedAt == nil || !strings.Contains(string(shown.Metadata), "acme") {
		t.Fatalf("show %+v", shown)
	}
	c.owner.run("", "integration", "credentials", "delete", "sf").ok(t)
	c.owner.run("", "integration", "credentials", "get", "sf").fails(t, cmdutil.ExitNotFound, "has no credentials")
	c.member.run("", "integration", "remove", "sf", "--yes").fails(t, cmdutil.ExitForbidden, "owner role")
	c.owner.run("", "integration", "remove", "sf", "--yes").ok(t)
	c.owner.run("", "integration", "show", "sf").fails(t, cmdutil.ExitNotFound)
}

func TestDocCommands(t *testing.T) {
	c := crewTest(t)
	c.member.run("", "doc", "put", "notes", "release-1.4", "--data", `{"owner":"ops"}`).ok(t)
	v := c.member.run(`{"owner":"dev"}`, "doc", "put", "notes", "release-1.4", "--if-version", "1").ok(t).line()
	if v != "2" {
		t.Fatalf("version %q", v)
	}
	c.owner.run("", "doc", "put", "notes", "release-1.4", "--data", `{"owner":"x"}`, "--if-version", "1").
		fails(t, cmdutil.ExitConflict, "current version is 2", "--if-version 2")
	c.owner.run("", "doc", "put", "notes", "release-1.4", "--data", `{}`, "--create-only").fails(t, cmdutil.ExitConflict, "current version is 2")
	c.viewer.run("", "doc", "put", "notes", "v", "--data", `1`).fails(t, cmdutil.ExitForbidden, "member role", "your role is viewer")
	c.member.run("", "doc", "put", "notes", "bad", "--data", `{oops`).fails(t, cmdutil.ExitUsage, "--data is not valid JSON")
	c.member.run("", "doc", "put", "Bad Collection", "k", "--data", `1`).fails(t, cmdutil.ExitFailure, "invalid collection name")
	for i := range 5 {
		c.member.run("", "doc", "put", "manifests", "build-"+string(rune('a'+i)), "--data", `{"n":1}`).ok(t)
	}

	r := c.viewer.run("", "doc", "get", "notes", "release-1.4").ok(t)
	var data map[string]string
	r.json(t, &data)
	if data["owner"] != "dev" || !strings.Contains(r.errOut, "version 2") {
		t.Fatalf("%s", r)
	}
	var d client.Document
	c.viewer.run("", "doc", "get", "notes", "release-1.4", "--json").ok(t).json(t, &d)
	if d.Version != 2 || d.Key != "release-1.4" {
		t.Fatalf("get --json %+v", d)
	}
	c.viewer.run("", "doc", "get", "notes", "missing").fails(t, cmdutil.ExitNotFound, "not found")
	c.outsider.run("", "doc", "get", "notes", "release-1.4", "--account", c.slug).fails(t, cmdutil.ExitNotFound)

	var docs []client.Document
	c.viewer.run("", "doc", "list", "manifests", "--prefix", "build-", "--limit", "2", "--all", "--json").ok(t).json(t, &docs)
	if len(docs) != 5 || docs[0].Key != "build-a" || docs[4].Key != "build-e" {
		t.Fatalf("list %+v", docs)
	}
	var cols []client.Collection
	c.viewer.run("", "doc", "collections", "--json").ok(t).json(t, &cols)
	if len(cols) != 2 || cols[0].Collection != "manifests" || cols[0].DocumentCount != 5 || cols[1].DocumentCount != 1 {
		t.Fatalf("collections %+v", cols)
	}
	c.member.run("", "doc", "delete", "notes", "release-1.4", "--if-version", "1").fails(t, cmdutil.ExitConflict, "current version is 2")
	c.viewer.run("", "doc", "delete", "notes", "release-1.4").fails(t, cmdutil.ExitForbidden, "member role")
	c.member.run("", "doc", "delete", "notes", "release-1.4", "--if-version", "2").ok(t)
	c.member.run("", "doc", "delete", "notes", "release-1.4").fails(t, cmdutil.ExitNotFound)
}
