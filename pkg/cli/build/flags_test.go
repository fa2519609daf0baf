package build

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestBuildAndReleaseFlags(t *testing.T) {
	id := "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
	l := clitest.MustParse(t, NewCmdBuildList, "-p", "acme/web", "--status", "failed", "--all")
	if l.Scope.Project != "acme/web" || l.Status != "failed" || !l.List.All {
		t.Fatalf("build list %+v", l)
	}
	clitest.Refuses(t, NewCmdBuildList, "exclude", "--all", "--cursor", "c")
	clitest.Refuses(t, NewCmdBuildShow, "not a build id", "42")

	c := clitest.MustParse(t, NewCmdReleaseCreate, "2026.12", "-p", "acme/web", "--definition", "-")
	if c.Name != "2026.12" || c.Definition != "-" || c.Scope.Project != "acme/web" {
		t.Fatalf("release create %+v", c)
	}
	clitest.Refuses(t, NewCmdReleaseCreate, "which project?", "2026.12")

	// A release by id needs no project; by name it does.
	if s := clitest.MustParse(t, NewCmdReleaseShow, id); s.Release != id {
		t.Fatalf("release show %+v", s)
	}
	clitest.Refuses(t, NewCmdReleaseShow, "--project", "2026.12")
}
