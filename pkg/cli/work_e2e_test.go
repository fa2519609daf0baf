package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestBuildAndReleaseCommands(t *testing.T) {
	c := crewTest(t)
	var p client.Project
	c.viewer.run("", "project", "show", c.project, "--json").ok(t).json(t, &p)
	svc, err := client.New(stacktest.Shared().URL, stacktest.Shared().ServiceKey)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	var ids []string
	for i, status := range []string{"succeeded", "failed", "running"} {
		b, err := svc.Builds.Create(ctx, client.NewBuild{ProjectID: p.ID, BuildNumber: fmt.Sprint(100 + i), Status: status, Branch: "main", CommitSHA: "abcdef1234567890"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	var builds []client.Build
	c.viewer.run("", "build", "list", "--project", c.project, "--json").ok(t).json(t, &builds)
	if len(builds) != 3 || builds[0].BuildNumber != "102" {
		t.Fatalf("builds %+v", builds)
	}
	c.viewer.run("", "build", "list", "--status", "failed", "--json").ok(t).json(t, &builds)
	if len(builds) != 1 || builds[0].ID != ids[1] {
		t.Fatalf("failed builds %+v", builds)
	}
	c.viewer.run("", "build", "list", "--status", "weird").fails(t, cmdutil.ExitFailure, "status")
	var b client.Build
	c.viewer.run("", "build", "show", ids[0], "--json").ok(t).json(t, &b)
	if b.BuildNumber != "100" || b.Status != "succeeded" {
		t.Fatalf("show %+v", b)
	}
	r := c.viewer.run("", "build", "show", ids[0]).ok(t)
	if !strings.Contains(r.out, "abcdef1234567890") {
		t.Fatalf("%s", r)
	}
	c.outsider.run("", "build", "show", ids[0]).fails(t, cmdutil.ExitNotFound)

	// Releases: a definition from stdin.
	relID := c.member.run(`{"packages":["core","ui"]}`, "release", "create", "2026.12", "--project", c.project,
		"--definition", "-", "--description", "December").ok(t).line()
	c.member.run("", "release", "create", "2026.12", "--project", c.project).fails(t, cmdutil.ExitConflict)
	c.member.run("[1]", "release", "create", "bad", "--project", c.project, "--definition", "-").fails(t, cmdutil.ExitFailure, "JSON object")
	c.viewer.run("", "release", "create", "v", "--project", c.project).fails(t, cmdutil.ExitForbidden, "member role")
	var rels []client.Release
	c.viewer.run("", "release", "list", "--json").ok(t).json(t, &rels)
	if len(rels) != 1 || rels[0].ID != relID || rels[0].Description != "December" {
		t.Fatalf("releases %+v", rels)
	}
	var rel client.Release
	c.viewer.run("", "release", "show", "2026.12", "--project", c.project, "--json").ok(t).json(t, &rel)
	if !strings.Contains(string(rel.Definition), "core") {
		t.Fatalf("release %+v", rel)
	}
	r = c.viewer.run("", "release", "show", relID).ok(t)
	if !strings.Contains(r.out, `"ui"`) {
		t.Fatalf("%s", r)
	}
	c.viewer.run("", "release", "show", "2026.12").fails(t, cmdutil.ExitUsage, "--project")
}

// watchEvents parses `--json` watch output.
func watchEvents(t *testing.T, r result) []cmdutil.WatchEvent {
	t.Helper()
	var evs []cmdutil.WatchEvent
	sc := bufio.NewScanner(strings.NewReader(r.out))
	for sc.Scan() {
		var e cmdutil.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v\n%s", sc.Text(), err, r)
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		t.Fatalf("no events\n%s", r)
	}
	return evs
}

func TestDeploymentCommands(t *testing.T) {
	c := crewTest(t)
	c.member.run("", "env", "create", "prod", "--project", c.project, "--category", "production").ok(t)
	relID := c.member.run(`{}`, "release", "create", "r1", "--project", c.project, "--definition", "-").ok(t).line()
	dep := c.member.run("", "deployment", "create", "--project", c.project, "--env", "prod", "--release", "r1", "--message", "queued by test").ok(t).line()
	if !client.IsUUID(dep) {
		t.Fatalf("create printed %q", dep)
	}
	c.viewer.run("", "deployment", "create", "--project", c.project, "--env", "prod").fails(t, cmdutil.ExitForbidden, "member role", "your role is viewer")
	c.member.run("", "deployment", "create", "--project", c.project).fails(t, cmdutil.ExitUsage, "--env")
	c.member.run("", "deployment", "create", "--project", c.project, "--env", "prod", "--release", "nope").fails(t, cmdutil.ExitNotFound, "release nope")

	var d client.Deployment
	c.viewer.run("", "deployment", "show", dep, "--json").ok(t).json(t, &d)
	if d.Status != "queued" || d.ReleaseID != relID || d.Message != "queued by test" {
		t.Fatalf("show %+v", d)
	}
	var list []client.Deployment
	c.viewer.run("", "deployment", "list", "--project", c.project, "--env", "prod", "--json").ok(t).json(t, &list)
	if len(list) != 1 || list[0].ID != dep {
		t.Fatalf("list %+v", list)
	}
	r := c.viewer.run("", "deployment", "list", "--project", c.project).ok(t)
	if !strings.Contains(r.out, "prod") || !strings.Contains(r.out, "queued") {
		t.Fatalf("%s", r)
	}
	// Without --project too, the environment is named.
	if r := c.viewer.run("", "deployment", "list").ok(t); !strings.Contains(r.out, "prod") {
		t.Fatalf("%s", r)
	}
	c.outsider.run("", "deployment", "show", dep).fails(t, cmdutil.ExitNotFound)

	// A worker with the service key reports progress while a viewer
	// watches; the watch exits 0 on success.
	w := worker(t)
	// Two viewers watch: one on a terminal (progress bar), one with --json.
	onTTY := *c.viewer
	onTTY.tty = true
	barWatch, _ := onTTY.start("", "deployment", "watch", dep)
	watch, started := c.viewer.start("", "deployment", "watch", dep, "--json")
	<-started
	for _, step := range [][]string{
		{"--status", "running", "--progress", "10", "--message", "validating"},
		{"--progress", "55", "--message", "deploying"},
		{"--progress", "90"},
		{"--status", "succeeded", "--message", "deployed"},
	} {
		time.Sleep(100 * time.Millisecond)
		w.run("", append([]string{"deployment", "report", dep}, step...)...).ok(t)
	}
	res := <-watch
	res.ok(t)
	evs := watchEvents(t, res)
	last := evs[len(evs)-1]
	if evs[0].Event != "snapshot" || last.Status != "succeeded" || last.Progress != 100 || !last.Final || last.Message != "deployed" {
		t.Fatalf("events %+v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Progress < evs[i-1].Progress {
			t.Fatalf("progress went back: %+v", evs)
		}
	}
	bar := (<-barWatch).ok(t)
	if !strings.Contains(bar.errOut, "succeeded [==============================] 100%") || !strings.Contains(bar.errOut, "✓ deployment") || bar.out != "" {
		t.Fatalf("no progress bar on the terminal:\n%s", bar)
	}
	// Without --json: status lines on stderr, exit 0.
	r = c.viewer.run("", "deployment", "watch", dep).ok(t)
	if !strings.Contains(r.errOut, "succeeded: deployed") || r.out != "" {
		t.Fatalf("%s", r)
	}
	w.run("", "deployment", "report", dep, "--status", "running").fails(t, cmdutil.ExitFailure, "the row is final")
	w.run("", "deployment", "report", dep).fails(t, cmdutil.ExitUsage, "nothing to report")
	w.run("", "deployment", "report", dep, "--progress", "101").fails(t, cmdutil.ExitUsage, "--progress")

	// A failed deployment: watch exits with ExitFailed. This worker uses
	// the local tenant's key with -t.
	dep2 := c.member.run("", "deployment", "create", "--project", c.project, "--env", "prod").ok(t).line()
	tw := newSfp(t)
	tw.env["SFP_BASE_DIR"] = tenantBase()
	tw.run("", "deployment", "report", dep2, "-t", "test", "--status", "running").ok(t)
	tw.run("", "deployment", "report", dep2, "-t", "test", "--status", "failed", "--message", "tests broke", "--json").ok(t).json(t, &d)
	if d.Status != "failed" || d.FinishedAt == nil {
		t.Fatalf("report %+v", d)
	}
	c.viewer.run("", "deployment", "watch", dep2).fails(t, cmdutil.ExitFailed, "failed: tests broke")
	res = c.viewer.run("", "deployment", "watch", dep2, "--json")
	if res.code != cmdutil.ExitFailed || watchEvents(t, res)[0].Status != "failed" {
		t.Fatalf("%s", res)
	}
	// No key and no login: the worker is told how to give one.
	newSfp(t).run("", "deployment", "report", dep2, "--progress", "5").fails(t, cmdutil.ExitAuth, "--service-key")
	// A viewer reporting as a user is refused by role.
	c.viewer.run("", "deployment", "report", dep2, "--progress", "5").fails(t, cmdutil.ExitForbidden, "member role")
	// create --watch follows at once; a member cancels from another shell.
	created, started := c.member.start("", "deployment", "create", "--project", c.project, "--env", "prod", "--watch", "--json")
	<-started
	var first cmdutil.WatchEvent
	deadline := time.Now().Add(time.Minute)
	var dep3 string
	for dep3 == "" && time.Now().Before(deadline) {
		c.viewer.run("", "deployment", "list", "--project", c.project, "--status", "queued", "--json").ok(t).json(t, &list)
		if len(list) == 1 {
			dep3 = list[0].ID
		}
	}
	c.member.run("", "deployment", "report", dep3, "--status", "cancelled", "--message", "not today").ok(t)
	res = <-created
	evs = watchEvents(t, res)
	first = evs[0]
	if res.code != cmdutil.ExitFailed || first.ID != dep3 || evs[len(evs)-1].Status != "cancelled" {
		t.Fatalf("%s", res)
	}
}

// The watch required by issue 6: a test worker advances a task from 0 to
// 100 with `sfp task report` while `sfp task watch` follows it live.
func TestTaskWatchFollowsAWorkerFrom0To100(t *testing.T) {
	c := crewTest(t)
	dep := strings.Repeat("0", 8) + "-0000-4000-8000-" + strings.Repeat("0", 12)
	task := c.member.run("", "task", "create", "--resource-type", "deployment", "--resource-id", dep, "--kind", "deploy",
		"--project", c.project, "--input", `{"dry_run":true}`).ok(t).line()
	if !client.IsUUID(task) {
		t.Fatalf("create printed %q", task)
	}
	w := worker(t)
	watch, started := c.viewer.start("", "task", "watch", task, "--json")
	<-started
	w.run("", "task", "report", task, "--status", "running", "--progress", "0", "--message", "starting", "--worker", "ci-7").ok(t)
	for p := 20; p < 100; p += 20 {
		time.Sleep(100 * time.Millisecond)
		w.run("", "task", "report", task, "--progress", fmt.Sprint(p), "--message", fmt.Sprintf("step %d", p)).ok(t)
	}
	w.run("", "task", "report", task, "--status", "succeeded", "--message", "done", "--output", `{"components":3}`).ok(t)
	res := <-watch
	res.ok(t)
	evs := watchEvents(t, res)
	var progress []int
	for i, e := range evs {
		progress = append(progress, e.Progress)
		if e.ID != task || e.ResourceType != "task" {
			t.Fatalf("event %+v", e)
		}
		if i > 0 && e.Progress < evs[i-1].Progress {
			t.Fatalf("progress went back: %v", progress)
		}
	}
	last := evs[len(evs)-1]
	if progress[0] != 0 || last.Progress != 100 || last.Status != "succeeded" || !last.Final || last.Message != "done" {
		t.Fatalf("events %+v", evs)
	}
	// Live: intermediate steps were seen, not only the end.
	if len(evs) < 4 {
		t.Fatalf("only %d events: %v", len(evs), progress)
	}

	// The event log, appended by the database for every report.
	var shown struct {
		client.Task
		Events []client.TaskEvent `json:"events"`
	}
	c.viewer.run("", "task", "show", task, "--json").ok(t).json(t, &shown)
	if shown.Status != "succeeded" || shown.Worker != "ci-7" || !strings.Contains(string(shown.Output), "components") || len(shown.Events) != 7 {
		t.Fatalf("show %+v (%d events)", shown.Task, len(shown.Events))
	}
	if shown.Events[0].Event != "created" || shown.Events[1].Event != "status" || shown.Events[6].Event != "status" {
		t.Fatalf("events %+v", shown.Events)
	}
	r := c.viewer.run("", "task", "show", task, "--events").ok(t)
	if !strings.Contains(r.out, "step 60") || !strings.Contains(r.out, "progress") {
		t.Fatalf("%s", r)
	}
	var tasks []client.Task
	c.viewer.run("", "task", "list", "--resource-type", "deployment", "--resource-id", dep, "--json").ok(t).json(t, &tasks)
	if len(tasks) != 1 || tasks[0].ID != task {
		t.Fatalf("list %+v", tasks)
	}
	c.viewer.run("", "task", "list", "--status", "succeeded", "--json").ok(t).json(t, &tasks)
	if len(tasks) != 1 {
		t.Fatalf("list by status %+v", tasks)
	}
	c.outsider.run("", "task", "watch", task).fails(t, cmdutil.ExitNotFound)
	c.viewer.run("", "task", "watch", "nope").fails(t, cmdutil.ExitUsage, "not a task id")

	// A task that fails: watch exits 8 with the message.
	t2 := w.run("", "task", "create", "--account", c.slug, "--resource-type", "build", "--resource-id", dep, "--kind", "build").ok(t).line()
	w.run("", "task", "report", t2, "--status", "running").ok(t)
	w.run("", "task", "report", t2, "--status", "failed", "--message", "compile error", "--error", `{"file":"a.go"}`).ok(t)
	c.viewer.run("", "task", "watch", t2).fails(t, cmdutil.ExitFailed, "failed: compile error")
	w.run("", "task", "report", t2, "--output", "{oops").fails(t, cmdutil.ExitUsage, "--output is not valid JSON")
	c.viewer.run("", "task", "report", t2, "--message", "x").fails(t, cmdutil.ExitForbidden, "member role")
}
