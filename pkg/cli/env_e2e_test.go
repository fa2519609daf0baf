package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestEnvCommands(t *testing.T) {
	c := crewTest(t)
	p := c.project
	id := c.member.run("", "env", "create", "staging", "--project", p, "--category", "staging", "--branch", "main",
		"--tag", "eu", "--tag", "blue", "--metadata", `{"org":"acme-stg"}`).ok(t).line()
	if !client.IsUUID(id) {
		t.Fatalf("create printed %q", id)
	}
	c.member.run("", "env", "create", "staging", "--project", p).fails(t, cmdutil.ExitConflict)
	c.member.run("", "env", "create", "x").fails(t, cmdutil.ExitUsage, "which project?")
	c.viewer.run("", "env", "create", "qa", "--project", p).fails(t, cmdutil.ExitForbidden, "needs the member role", "your role is viewer")
	c.member.run("", "env", "create", "old", "--project", p, "--inactive").ok(t)

	var envs []client.Environment
	c.viewer.run("", "env", "list", "--project", p, "--json").ok(t).json(t, &envs)
	if len(envs) != 2 || envs[1].Name != "staging" || strings.Join(envs[1].Tags, ",") != "eu,blue" || envs[0].Active {
		t.Fatalf("list %+v", envs)
	}
	var shown struct {
		client.Environment
		Queue []client.Lease `json:"queue"`
	}
	c.viewer.run("", "env", "show", "staging", "--project", p, "--json").ok(t).json(t, &shown)
	if shown.ID != id || shown.Category != "staging" || len(shown.Queue) != 0 {
		t.Fatalf("show %+v", shown)
	}
	c.viewer.run("", "env", "show", "nope", "--project", p).fails(t, cmdutil.ExitNotFound, "environment nope not found")

	var upd client.Environment
	c.member.run("", "env", "update", "staging", "--project", p, "--branch", "release", "--tag", "us", "--json").ok(t).json(t, &upd)
	if upd.Branch != "release" || strings.Join(upd.Tags, ",") != "us" || upd.Category != "staging" {
		t.Fatalf("update %+v", upd)
	}
	c.viewer.run("", "env", "update", "staging", "--project", p, "--branch", "x").fails(t, cmdutil.ExitForbidden, "needs the member role")

	// Locking: the owner holds it, the member queues behind and waits.
	ticket := c.owner.run("", "env", "lock", "staging", "--project", p, "--lease", "2h", "--reason", "release 1.4").ok(t).line()
	if !client.IsUUID(ticket) {
		t.Fatalf("lock printed %q", ticket)
	}
	var queued client.Lease
	c.member.run("", "env", "lock", "staging", "--project", p, "--lease", "30m", "--reason", "hotfix", "--json").ok(t).json(t, &queued)
	if queued.Status != "queued" || *queued.QueuePosition != 1 {
		t.Fatalf("second lock %+v", queued)
	}
	var q []client.Lease
	c.viewer.run("", "env", "queue", "staging", "--project", p, "--json").ok(t).json(t, &q)
	if len(q) != 2 || q[0].Ticket != ticket || q[0].Reason != "release 1.4" || q[1].Ticket != queued.Ticket {
		t.Fatalf("queue %+v", q)
	}
	r := c.viewer.run("", "env", "queue", "staging", "--project", p).ok(t)
	if !strings.Contains(r.out, "release 1.4") || !strings.Contains(r.out, "hotfix") {
		t.Fatalf("%s", r)
	}
	c.viewer.run("", "env", "lock", "staging", "--project", p).fails(t, cmdutil.ExitForbidden, "needs the member role")
	c.member.run("", "env", "lock", "old", "--project", p).fails(t, cmdutil.ExitConflict, "inactive")
	c.member.run("", "env", "lock", "staging", "--project", p, "--lease", "800h").fails(t, cmdutil.ExitUsage, "--lease")

	// A third ticket waits with --wait until the two before it are gone.
	waited := make(chan result, 1)
	go func() {
		waited <- c.member.run("", "env", "lock", "staging", "--project", p, "--lease", "10m", "--wait", "--json")
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		c.viewer.run("", "env", "queue", "staging", "--project", p, "--json").ok(t).json(t, &q)
		if len(q) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(q) != 3 {
		t.Fatalf("the waiting ticket never queued: %+v", q)
	}
	c.member.run("", "env", "unlock", "--ticket", queued.Ticket).ok(t) // cancel the second while queued
	c.owner.run("", "env", "unlock", "--ticket", ticket).ok(t)         // release the first
	got := <-waited
	got.ok(t)
	var granted client.Lease
	got.json(t, &granted)
	if !granted.Active() || granted.Ticket != q[2].Ticket || !strings.Contains(got.errOut, "waiting") {
		t.Fatalf("waited %+v\n%s", granted, got)
	}
	var ext client.Lease
	c.member.run("", "env", "extend", "--ticket", granted.Ticket, "--lease", "1h", "--json").ok(t).json(t, &ext)
	if !ext.ExpiresAt.After(*granted.ExpiresAt) {
		t.Fatalf("extend %+v", ext)
	}
	c.member.run("", "env", "unlock", "--ticket", granted.Ticket).ok(t)
	c.member.run("", "env", "extend", "--ticket", granted.Ticket, "--lease", "1h").fails(t, cmdutil.ExitConflict, "released")
	c.member.run("", "env", "unlock").fails(t, cmdutil.ExitUsage, "--ticket")
	c.member.run("", "env", "unlock", "--ticket", "abc").fails(t, cmdutil.ExitUsage, "not a ticket id")
	c.outsider.run("", "env", "unlock", "--ticket", ticket).fails(t, cmdutil.ExitNotFound, "not found")

	c.viewer.run("", "env", "delete", "staging", "--project", p, "--yes").fails(t, cmdutil.ExitForbidden, "needs the member role")
	c.member.run("", "env", "delete", "staging", "--project", p, "--yes").ok(t)
	c.member.run("", "env", "show", "staging", "--project", p).fails(t, cmdutil.ExitNotFound)
}

// Ctrl-C while waiting for an environment gives the ticket back and exits
// 130.
func TestEnvLockWaitInterrupted(t *testing.T) {
	c := crewTest(t)
	c.member.run("", "env", "create", "uat", "--project", c.project).ok(t)
	held := c.owner.run("", "env", "lock", "uat", "--project", c.project).ok(t).line()
	ctx, interrupt := context.WithCancel(context.Background())
	done, _ := c.member.startCtx(ctx, "", "env", "lock", "uat", "--project", c.project, "--wait")
	var q []client.Lease
	deadline := time.Now().Add(time.Minute)
	for len(q) < 2 && time.Now().Before(deadline) {
		c.viewer.run("", "env", "queue", "uat", "--project", c.project, "--json").ok(t).json(t, &q)
	}
	if len(q) != 2 {
		t.Fatalf("queue %+v", q)
	}
	interrupt()
	r := <-done
	r.fails(t, cmdutil.ExitInterrupted, "Gave ticket "+q[1].Ticket+" back", "interrupted")
	c.viewer.run("", "env", "queue", "uat", "--project", c.project, "--json").ok(t).json(t, &q)
	if len(q) != 1 || q[0].Ticket != held {
		t.Fatalf("queue after the interrupt %+v", q)
	}
}
