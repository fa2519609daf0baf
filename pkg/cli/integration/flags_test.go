package integration

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestIntegrationFlags(t *testing.T) {
	a := clitest.MustParse(t, NewCmdAdd, "gh", "--provider", "github", "--auth-type", "token", "-p", "acme/web", "-p", "acme/api")
	if a.Name != "gh" || a.Provider != "github" || len(a.Projects) != 2 {
		t.Fatalf("add %+v", a)
	}
	clitest.Refuses(t, NewCmdAdd, "--provider", "gh")

	g := clitest.MustParse(t, NewCmdCredentialsGet, "gh", "--field", "token", "-t", "acme", "--account", "acme")
	if g.Field != "token" || g.Service.Tenant != "acme" || g.Scope.Account != "acme" {
		t.Fatalf("credentials get %+v", g)
	}
	clitest.Refuses(t, NewCmdCredentialsGet, "exclude", "gh", "--reveal", "-o", "x")
	// A worker has no account of its own: it names one, or the id.
	clitest.Refuses(t, NewCmdCredentialsGet, "--account", "gh", "--service-key", "k")
	clitest.MustParse(t, NewCmdCredentialsGet, "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b", "--service-key", "k")
	clitest.Refuses(t, NewCmdCredentialsDelete, "--account", "gh", "-t", "acme")
	if s := clitest.MustParse(t, NewCmdCredentialsSet, "gh", "--from-file", "c.json"); s.File != "c.json" {
		t.Fatalf("credentials set %+v", s)
	}
}
