package project

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestProjectFlags(t *testing.T) {
	r := clitest.MustParse(t, NewCmdRegister, "acme/web", "--remote-url", "https://x/y.git", "--settings", `{"a":1}`)
	if r.Identifier != "acme/web" || r.Platform != "github" || r.RemoteURL != "https://x/y.git" || r.Settings != `{"a":1}` {
		t.Fatalf("register %+v", r)
	}
	clitest.Refuses(t, NewCmdRegister, "--platform", "a/b", "--platform", "gitlab")
	clitest.Refuses(t, NewCmdRegister, "--settings is not valid JSON", "a/b", "--settings", "{nope")

	// update sends only what was given, with the version to check.
	u := clitest.MustParse(t, NewCmdUpdate, "acme/web", "--description", "", "--if-version", "3")
	if u.Scope.Project != "acme/web" || u.Changes.Version != 3 || u.Changes.Description == nil || *u.Changes.Description != "" ||
		u.Changes.RemoteURL != nil || u.Changes.Platform != nil || u.Changes.Settings != nil {
		t.Fatalf("update %+v", u.Changes)
	}
	if d := clitest.MustParse(t, NewCmdDelete, "acme/web", "--yes"); !d.Yes || d.Scope.Project != "acme/web" {
		t.Fatalf("delete %+v", d)
	}
	clitest.Refuses(t, NewCmdList, "--limit", "--limit", "0")
}
