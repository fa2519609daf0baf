package clienttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/client"
)

// Keyset pages: every project exactly once, newest first, and rows added
// between pages neither repeat nor shift the rest.
func TestProjectPagesAreKeyset(t *testing.T) {
	ctx, tm := teamTest(t)
	want := map[string]bool{tm.project.ID: true}
	for i := range 24 {
		p, err := tm.member.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: fmt.Sprintf("acme/p%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		want[p.ID] = true
	}
	var got []client.Project
	opts := &client.ListOptions{Limit: 10}
	pages := 0
	for {
		page, err := tm.viewer.Projects.List(ctx, tm.account.ID, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Items...)
		if pages == 1 {
			// A project registered after the first page is newer than
			// the cursor: it must not appear in later pages.
			if _, err := tm.member.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: "acme/late"}); err != nil {
				t.Fatal(err)
			}
		}
		if page.Next == "" {
			break
		}
		opts.Cursor = page.Next
	}
	if pages != 3 || len(got) != 25 {
		t.Fatalf("%d pages, %d projects; want 3 pages of 25", pages, len(got))
	}
	seen := map[string]bool{}
	for i, p := range got {
		if !want[p.ID] || seen[p.ID] {
			t.Fatalf("project %s unexpected or repeated", p.Identifier)
		}
		seen[p.ID] = true
		if i > 0 {
			prev := got[i-1]
			if p.CreatedAt.After(prev.CreatedAt) || (p.CreatedAt.Equal(prev.CreatedAt) && p.ID > prev.ID) {
				t.Fatalf("not newest first at %d", i)
			}
		}
	}
	n := 0
	for _, err := range tm.viewer.Projects.All(ctx, tm.account.ID, &client.ListOptions{Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 26 {
		t.Fatalf("All yielded %d projects, want 26", n)
	}
	if _, err := tm.viewer.Projects.List(ctx, tm.account.ID, &client.ListOptions{Cursor: "garbage"}); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("bad cursor: %v", err)
	}
	// An outsider's list is empty, not an error.
	page, err := tm.outsider.Projects.List(ctx, tm.account.ID, nil)
	if err != nil || len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("outsider list %+v %v", page, err)
	}
}

// Document pages follow key order, with a prefix, across page boundaries.
func TestDocumentPages(t *testing.T) {
	ctx, tm := teamTest(t)
	var keys []string
	for i := range 12 {
		k := fmt.Sprintf("build/%03d", i)
		keys = append(keys, k)
		if _, err := tm.member.Documents.Put(ctx, tm.account.ID, "build_manifests", k, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tm.member.Documents.Put(ctx, tm.account.ID, "build_manifests", "other", json.RawMessage(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	opts := &client.DocumentListOptions{Prefix: "build/", ListOptions: client.ListOptions{Limit: 5}}
	for {
		p, err := tm.viewer.Documents.List(ctx, tm.account.ID, "build_manifests", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Items {
			got = append(got, d.Key)
		}
		if p.Next == "" {
			break
		}
		opts.Cursor = p.Next
	}
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Fatalf("keys %v\nwant %v", got, keys)
	}
	cs, err := tm.viewer.Documents.Collections(ctx, tm.account.ID)
	if err != nil || len(cs) != 1 || cs[0].Collection != "build_manifests" || cs[0].DocumentCount != 13 {
		t.Fatalf("collections %+v %v", cs, err)
	}
}

// A worker with the service key runs a task through its life and records
// deployment progress; the database appends the task's events.
func TestWorkerMode(t *testing.T) {
	ctx, tm := teamTest(t)
	worker := serviceClient(t)
	env := tm.environment(t, client.NewEnvironment{Name: "prod", Category: "production"})
	d, err := tm.member.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID, Details: json.RawMessage(`{"packages":3}`)})
	if err != nil || d.Status != client.StatusQueued || d.ProjectID != tm.project.ID {
		t.Fatalf("create deployment %+v %v", d, err)
	}
	task, err := worker.Tasks.Create(ctx, client.NewTask{ProjectID: tm.project.ID, ResourceType: "deployment", ResourceID: d.ID,
		Kind: "deploy", Input: json.RawMessage(`{"dry_run":false}`)})
	if err != nil || task.Status != client.StatusQueued || task.AccountID != tm.account.ID {
		t.Fatalf("create task %+v %v", task, err)
	}
	if task, err = worker.Tasks.Start(ctx, task.ID, "worker-1"); err != nil || task.Status != client.StatusRunning || task.Worker != "worker-1" || task.StartedAt == nil {
		t.Fatalf("start %+v %v", task, err)
	}
	if _, err := worker.Tasks.Start(ctx, task.ID, "worker-2"); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("second claim: %v", err)
	}
	if _, err := worker.Deployments.Start(ctx, d.ID, "starting"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{25, 50, 75} {
		if _, err := worker.Tasks.Advance(ctx, task.ID, p, fmt.Sprintf("step %d", p)); err != nil {
			t.Fatal(err)
		}
		if _, err := worker.Deployments.Advance(ctx, d.ID, p, fmt.Sprintf("step %d", p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := worker.Tasks.Advance(ctx, task.ID, 101, ""); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("progress 101: %v", err)
	}
	if task, err = worker.Tasks.Succeed(ctx, task.ID, json.RawMessage(`{"components":12}`)); err != nil || task.Progress != 100 || task.FinishedAt == nil {
		t.Fatalf("succeed %+v %v", task, err)
	}
	if task, err = worker.Tasks.Advance(ctx, task.ID, 10, "again"); err != nil || task.Progress != 100 {
		t.Fatalf("a succeeded task keeps progress 100: %+v %v", task, err)
	}
	_, err = worker.Tasks.Report(ctx, task.ID, client.TaskReport{Status: client.StatusRunning})
	if !errors.Is(err, client.ErrValidation) || !strings.Contains(err.Error(), "final") {
		t.Fatalf("succeeded -> running: %v", err)
	}
	d, err = worker.Deployments.Succeed(ctx, d.ID, "deployed")
	if err != nil || d.Status != client.StatusSucceeded || d.Progress != 100 {
		t.Fatalf("deployment %+v %v", d, err)
	}
	// The log, read by a viewer, in order.
	var events []string
	o := &client.ListOptions{Limit: 2}
	for {
		p, err := tm.viewer.Tasks.Events(ctx, task.ID, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Items {
			pr := -1
			if e.Progress != nil {
				pr = *e.Progress
			}
			events = append(events, fmt.Sprintf("%s:%s:%d", e.Event, e.Status, pr))
		}
		if p.Next == "" {
			break
		}
		o.Cursor = p.Next
	}
	want := "created:queued:0 status:running:0 progress:running:25 progress:running:50 progress:running:75 status:succeeded:100 message:succeeded:100"
	if strings.Join(events, " ") != want {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(events, " "), want)
	}
	if _, err := tm.member.Tasks.AppendEvent(ctx, task.ID, "log", "hello", json.RawMessage(`{"line":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.viewer.Tasks.AppendEvent(ctx, task.ID, "log", "no", nil); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("viewer appends: %v", err)
	}
	list, err := tm.viewer.Tasks.List(ctx, client.TaskListOptions{ResourceType: "deployment", ResourceID: d.ID})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != task.ID {
		t.Fatalf("tasks of the deployment %+v %v", list, err)
	}

	// Credentials for the worker, logged as read by service_role.
	integ, err := tm.owner.Integrations.Create(ctx, client.NewIntegration{AccountID: tm.account.ID, Name: "sf", Provider: "salesforce",
		AuthType: "jwt", ProjectIDs: []string{tm.project.ID}})
	if err != nil || integ.Scope != "projects" {
		t.Fatalf("integration %+v %v", integ, err)
	}
	if raw, err := worker.Integrations.Credentials(ctx, integ.ID); err != nil || raw != nil {
		t.Fatalf("no credentials yet: %s %v", raw, err)
	}
	if err := worker.Integrations.SetCredentials(ctx, integ.ID, json.RawMessage(`{"key":"k1"}`)); err != nil {
		t.Fatal(err)
	}
	raw, err := worker.Integrations.Credentials(ctx, integ.ID)
	if err != nil || !strings.Contains(string(raw), "k1") {
		t.Fatalf("worker reads %s %v", raw, err)
	}
	logPage, err := tm.owner.Integrations.AccessLog(ctx, integ.ID, nil)
	if err != nil || len(logPage.Items) != 3 {
		t.Fatalf("access log %+v %v", logPage, err)
	}
	var actions []string
	for _, e := range logPage.Items {
		actions = append(actions, e.ActorRole+":"+e.Action)
	}
	sort.Strings(actions)
	if strings.Join(actions, ",") != "service_role:read,service_role:read,service_role:write" {
		t.Fatalf("log %v", actions)
	}
	if ok, err := tm.owner.Integrations.DeleteCredentials(ctx, integ.ID); err != nil || !ok {
		t.Fatalf("delete credentials %v %v", ok, err)
	}
}

// Watching a task: a member sees the snapshot, then every step a worker
// reports, pushed over Realtime, and the watch ends at the final state. An
// outsider cannot watch it.
func TestWatchTaskRealtime(t *testing.T) {
	ctx, tm := teamTest(t)
	worker := serviceClient(t)
	task, err := worker.Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "build", ResourceID: tm.project.ID, Kind: "build"})
	if err != nil {
		t.Fatal(err)
	}
	w := inMode(t, "broadcast")(tm.viewer.Tasks.Watch(ctx, task.ID))
	first := <-w.Updates()
	if first.Event != "snapshot" || first.Status != client.StatusQueued || first.Task == nil || first.Task.ID != task.ID {
		t.Fatalf("first update %+v", first)
	}
	go func() {
		worker.Tasks.Start(ctx, task.ID, "w")
		for p := 10; p <= 90; p += 20 {
			worker.Tasks.Advance(ctx, task.ID, p, fmt.Sprintf("at %d", p))
		}
		worker.Tasks.Succeed(ctx, task.ID, nil)
	}()
	var seen []int
	var last client.Update
	for u := range w.Updates() {
		if u.Progress < last.Progress && last.Event != "" {
			t.Fatalf("progress went back: %d after %d", u.Progress, last.Progress)
		}
		seen = append(seen, u.Progress)
		last = u
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if !last.Final || last.Status != client.StatusSucceeded || last.Progress != 100 {
		t.Fatalf("last update %+v (progress seen %v)", last, seen)
	}
	if len(seen) < 3 {
		t.Fatalf("only %v seen", seen)
	}
	if _, err := tm.outsider.Tasks.Watch(ctx, task.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("outsider watch: %v", err)
	}
}

// Without Realtime (forced polling) a watch still sees the end; a deleted
// deployment ends the watch with a final DELETE.
func TestWatchPollingAndDelete(t *testing.T) {
	ctx, tm := teamTest(t)
	env := tm.environment(t, client.NewEnvironment{Name: "qa"})
	d, err := tm.member.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID})
	if err != nil {
		t.Fatal(err)
	}
	w := inMode(t, "poll")(tm.member.Deployments.Watch(ctx, d.ID, client.WatchPoll(20*time.Millisecond)))
	<-w.Updates()
	if _, err := tm.member.Deployments.Start(ctx, d.ID, "go"); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.member.Deployments.Fail(ctx, d.ID, "broke"); err != nil {
		t.Fatal(err)
	}
	var last client.Update
	for u := range w.Updates() {
		last = u
	}
	if !last.Final || last.Status != client.StatusFailed || last.Message != "broke" || last.Deployment == nil {
		t.Fatalf("last %+v", last)
	}

	d2, err := tm.member.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := tm.member.Deployments.Watch(ctx, d2.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-w2.Updates()
	if err := tm.member.Environments.Delete(ctx, env.ID); err != nil { // cascades to the deployment
		t.Fatal(err)
	}
	for u := range w2.Updates() {
		last = u
	}
	if last.Event != "DELETE" || !last.Final {
		t.Fatalf("after delete %+v", last)
	}
	// Cancelling the context ends a watch with the context's error.
	d3, _ := tm.member.Projects.Create(ctx, client.NewProject{AccountID: tm.account.ID, Identifier: "acme/watch-cancel"})
	env3, _ := tm.member.Environments.Create(ctx, client.NewEnvironment{ProjectID: d3.ID, Name: "x"})
	dep3, _ := tm.member.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env3.ID})
	cctx, cancel := context.WithCancel(ctx)
	w3, err := tm.member.Deployments.Watch(cctx, dep3.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-w3.Updates()
	cancel()
	for range w3.Updates() {
	}
	if !errors.Is(w3.Err(), context.Canceled) {
		t.Fatalf("err after cancel: %v", w3.Err())
	}
}

// The lease queue: a second member waits for the environment and gets it
// when the first one unlocks.
func TestLeaseQueueAndWait(t *testing.T) {
	ctx, tm := teamTest(t)
	env := tm.environment(t, client.NewEnvironment{Name: "uat"})
	a, err := tm.owner.Environments.Lock(ctx, env.ID, time.Hour, "first")
	if err != nil || !a.Active() || *a.QueuePosition != 0 {
		t.Fatalf("first lock %+v %v", a, err)
	}
	b, err := tm.member.Environments.Lock(ctx, env.ID, 30*time.Minute, "second")
	if err != nil || b.Status != "queued" || *b.QueuePosition != 1 {
		t.Fatalf("second lock %+v %v", b, err)
	}
	q, err := tm.viewer.Environments.Queue(ctx, env.ID)
	if err != nil || len(q) != 2 || q[0].Ticket != a.Ticket || q[1].Ticket != b.Ticket {
		t.Fatalf("queue %+v %v", q, err)
	}
	granted := make(chan *client.Lease, 1)
	errs := make(chan error, 1)
	positions := make(chan int, 10)
	go func() {
		l, err := tm.member.Environments.WaitForLease(ctx, b.Ticket, func(l client.Lease) { positions <- *l.QueuePosition })
		granted <- l
		errs <- err
	}()
	if p := <-positions; p != 1 {
		t.Fatalf("waiting at position %d", p)
	}
	if _, err := tm.owner.Environments.Unlock(ctx, a.Ticket); err != nil {
		t.Fatal(err)
	}
	l := <-granted
	if err := <-errs; err != nil || !l.Active() || l.Ticket != b.Ticket {
		t.Fatalf("granted %+v %v", l, err)
	}
	ext, err := tm.member.Environments.Extend(ctx, b.Ticket, time.Hour)
	if err != nil || !ext.ExpiresAt.After(*l.ExpiresAt) {
		t.Fatalf("extend %+v %v", ext, err)
	}
	if _, err := tm.member.Environments.Unlock(ctx, b.Ticket); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.member.Environments.Extend(ctx, b.Ticket, time.Hour); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("extend a released ticket: %v", err)
	}
	tk, err := tm.viewer.Environments.Ticket(ctx, b.Ticket)
	if err != nil || tk.Status != "released" || tk.ReleasedAt == nil {
		t.Fatalf("ticket %+v %v", tk, err)
	}
	if _, err := tm.member.Environments.Lock(ctx, env.ID, 31*24*time.Hour, ""); !errors.Is(err, client.ErrValidation) {
		t.Fatalf("31 days: %v", err)
	}
	// Waiting for a ticket released while queued ends with a conflict.
	c1, _ := tm.owner.Environments.Lock(ctx, env.ID, time.Hour, "")
	c2, _ := tm.member.Environments.Lock(ctx, env.ID, time.Hour, "")
	go func() {
		time.Sleep(100 * time.Millisecond)
		tm.member.Environments.Unlock(ctx, c2.Ticket)
	}()
	if _, err := tm.member.Environments.WaitForLease(ctx, c2.Ticket, nil); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("wait for a cancelled ticket: %v", err)
	}
	tm.owner.Environments.Unlock(ctx, c1.Ticket)
}

// Watching a resource's tasks: the existing task's snapshot, then a new
// task on the same resource, and every change of both until they finish;
// a task on another resource never shows up. Both through Realtime and by
// polling.
func TestWatchResourceTasks(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"realtime", "poll"} {
		t.Run(mode, func(t *testing.T) {
			ctx := ctxT(t)
			tm := newTeam(t)
			worker := serviceClient(t)
			resource := tm.project.ID // any uuid names the resource
			first, err := worker.Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "deployment", ResourceID: resource, Kind: "validate"})
			if err != nil {
				t.Fatal(err)
			}
			var opts []client.WatchOption
			if mode == "poll" {
				opts = append(opts, client.WatchPoll(20*time.Millisecond))
			}
			w := inMode(t, mode)(tm.viewer.Tasks.WatchResource(ctx, "deployment", resource, opts...))
			u := <-w.Updates()
			if u.Event != "snapshot" || u.ID != first.ID {
				t.Fatalf("first %+v", u)
			}
			other, _ := worker.Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "build", ResourceID: resource, Kind: "build"})
			second, err := worker.Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "deployment", ResourceID: resource, Kind: "deploy"})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{first.ID, second.ID, other.ID} {
				worker.Tasks.Start(ctx, id, "w")
				worker.Tasks.Succeed(ctx, id, nil)
			}
			done := map[string]bool{}
			for len(done) < 2 {
				u := <-w.Updates()
				if u.Task == nil || u.Task.ResourceType != "deployment" || u.ID == other.ID {
					t.Fatalf("update for another resource: %+v", u)
				}
				if u.Final {
					done[u.ID] = true
				}
			}
			if !done[first.ID] || !done[second.ID] {
				t.Fatalf("finished: %v", done)
			}
			w.Close()
			if err := w.Err(); err != nil {
				t.Fatalf("err after Close: %v", err)
			}
		})
	}
}

// Close ends the client's watches and waits for them: when it returns, the
// watch's channel is closed and a new watch is refused.
func TestCloseEndsWatches(t *testing.T) {
	ctx, tm := teamTest(t)
	task, err := serviceClient(t).Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "build", ResourceID: tm.project.ID, Kind: "k"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := tm.viewer.Tasks.Watch(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := tm.viewer.Tasks.WatchResource(ctx, "build", tm.project.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-w.Updates()
	<-wr.Updates()
	tm.viewer.Close()
	for _, ch := range []<-chan client.Update{w.Updates(), wr.Updates()} {
		select {
		case u, ok := <-ch:
			if ok {
				t.Fatalf("update after Close: %+v", u)
			}
		default:
			t.Fatal("the watch's channel is still open after Close returned")
		}
	}
	if _, err := tm.viewer.Tasks.Watch(ctx, task.ID); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("watch on a closed client: %v", err)
	}
}
