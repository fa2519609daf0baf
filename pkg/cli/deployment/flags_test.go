package deployment

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestDeploymentFlags(t *testing.T) {
	id := "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
	c := clitest.MustParse(t, NewCmdCreate, "-p", "acme/web", "-e", "prod", "--release", "1.4", "-w", "--json")
	if c.Scope.Project != "acme/web" || c.Scope.Environment != "prod" || c.Release != "1.4" || !c.Watch || !c.JSON {
		t.Fatalf("create %+v", c)
	}
	clitest.Refuses(t, NewCmdCreate, "--env", "-p", "acme/web")
	clitest.Refuses(t, NewCmdCreate, "--details is not valid JSON", "-p", "a/b", "-e", "x", "--details", "[")

	l := clitest.MustParse(t, NewCmdList, "-p", "acme/web", "-e", "prod", "--status", "queued")
	if l.Scope.Environment != "prod" || l.Status != "queued" {
		t.Fatalf("list %+v", l)
	}
	clitest.Refuses(t, NewCmdList, "--env needs --project", "-e", "prod")

	r := clitest.MustParse(t, NewCmdReport, id, "--progress", "0", "-t", "acme", "--details", `{"a":1}`)
	if r.Report.ID != id || !r.Report.ProgressSet || r.Report.Progress != 0 || r.Report.MessageSet || r.Service.Tenant != "acme" {
		t.Fatalf("report %+v", r)
	}
	clitest.Refuses(t, NewCmdReport, "nothing to report", id)
	clitest.Refuses(t, NewCmdReport, "--progress", id, "--progress", "101")
	clitest.Refuses(t, NewCmdWatch, "not a deployment id", "x")
}
