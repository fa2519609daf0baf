package task

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestTaskFlags(t *testing.T) {
	id := "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
	r := clitest.MustParse(t, NewCmdReport, id, "--progress", "0", "--service-key", "k", "--output", `{"a":1}`)
	if r.Report.ID != id || r.Report.Progress != 0 || !r.Report.ProgressSet || r.Service.ServiceKey != "k" || r.Output != `{"a":1}` {
		t.Fatalf("report %+v", r)
	}
	clitest.Refuses(t, NewCmdReport, "nothing to report", id)
	clitest.Refuses(t, NewCmdReport, "--status", id, "--status", "done")
	clitest.Refuses(t, NewCmdReport, "--progress", id, "--progress", "-1")
	clitest.Refuses(t, NewCmdReport, "UUID", "x", "--progress", "1")
	clitest.Refuses(t, NewCmdReport, "--error is not valid JSON", id, "--error", "{")
	if w := clitest.MustParse(t, NewCmdReport, id, "--worker", "ci-7"); w.Worker != "ci-7" {
		t.Fatalf("a worker alone is a report: %+v", w)
	}

	c := clitest.MustParse(t, NewCmdCreate, "--resource-type", "deployment", "--resource-id", id, "--kind", "deploy", "-p", "acme/web")
	if c.ResourceID != id || c.Kind != "deploy" || c.Scope.Project != "acme/web" {
		t.Fatalf("create %+v", c)
	}
	clitest.Refuses(t, NewCmdCreate, "--kind", "--resource-type", "deployment", "--resource-id", id)
	clitest.Refuses(t, NewCmdCreate, "not a UUID", "--resource-type", "d", "--resource-id", "x", "--kind", "k")

	clitest.Refuses(t, NewCmdList, "not a UUID", "--resource-id", "x")
	clitest.Refuses(t, NewCmdShow, "not a task id", "x")
}
