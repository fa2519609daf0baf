package clienttest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// A watch of a task or a deployment follows the resource's private topic
// (task:<id>, deployment:<id>), on which the tenant schema broadcasts
// every change of status, progress or message: the updates are pushed
// rows, in order, up to the final one.
func TestWatchOverPrivateTopic(t *testing.T) {
	ctx, tm := teamTest(t)
	worker := serviceClient(t)
	env, err := tm.member.Environments.Create(ctx, client.NewEnvironment{ProjectID: tm.project.ID, Name: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := tm.member.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID})
	if err != nil {
		t.Fatal(err)
	}
	w := inMode(t, "broadcast")(tm.viewer.Deployments.Watch(ctx, d.ID))
	if first := <-w.Updates(); first.Event != "snapshot" || first.Deployment == nil || first.Deployment.ID != d.ID {
		t.Fatalf("first update %+v", first)
	}
	go func() {
		worker.Deployments.Start(ctx, d.ID, "go")
		for p := 20; p <= 80; p += 30 {
			worker.Deployments.Advance(ctx, d.ID, p, fmt.Sprintf("at %d", p))
		}
		worker.Deployments.Succeed(ctx, d.ID, "done")
	}()
	var last client.Update
	pushed := 0
	for u := range w.Updates() {
		if u.Progress < last.Progress {
			t.Fatalf("progress went back: %d after %d", u.Progress, last.Progress)
		}
		if u.Event == "UPDATE" && u.Deployment != nil && u.Deployment.ID == d.ID {
			pushed++
		}
		last = u
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if !last.Final || last.Status != client.StatusSucceeded || last.Progress != 100 || last.Message != "done" {
		t.Fatalf("last update %+v", last)
	}
	if pushed < 2 {
		t.Fatalf("%d pushed updates, want the broadcast rows", pushed)
	}
}

// Only viewers (or more) of the account may join a task's private topic:
// an outsider's join is refused with Realtime's reason, and so is a
// viewer's join of a task of another account.
func TestPrivateTopicMembership(t *testing.T) {
	ctx, tm := teamTest(t)
	other := newTeam(t)
	worker := serviceClient(t)
	task, err := worker.Tasks.Create(ctx, client.NewTask{AccountID: tm.account.ID, ResourceType: "build", ResourceID: tm.project.ID, Kind: "build"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := worker.Tasks.Create(ctx, client.NewTask{AccountID: other.account.ID, ResourceType: "build", ResourceID: other.project.ID, Kind: "build"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := tokenOf(t, tm.viewerU)
	outsider := tokenOf(t, newUser(t))
	cases := []struct {
		name, token, topic string
		ok                 bool
	}{
		{"viewer, own task", viewer, "task:" + task.ID, true},
		{"outsider", outsider, "task:" + task.ID, false},
		{"viewer, other account's task", viewer, "task:" + theirs.ID, false},
		{"viewer, not a resource topic", viewer, "task:not-a-uuid", false},
	}
	for _, tc := range cases {
		err := joinPrivate(ctx, t, tc.token, tc.topic)
		var se *realtime.ServerError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: join %s: %v", tc.name, tc.topic, err)
		case !tc.ok && (!errors.As(err, &se) || se.Reason != "Unauthorized: You do not have permissions to read from this Channel topic: "+tc.topic):
			t.Errorf("%s: join %s = %v, want refused", tc.name, tc.topic, err)
		}
	}
}

// tokenOf signs a user in and returns the access token.
func tokenOf(t *testing.T, u testUser) string {
	t.Helper()
	sess, err := newClient(t).Auth.SignInWithPassword(ctxT(t), u.Email, u.Password)
	if err != nil {
		t.Fatalf("sign in %s: %v", u.Email, err)
	}
	return sess.AccessToken
}

// joinPrivate joins a private topic with the Go realtime client through
// the gateway, as token.
func joinPrivate(ctx context.Context, t *testing.T, token, topic string) error {
	s := stacktest.Shared()
	rc, err := realtime.New(s.URL, s.PublishableKey,
		realtime.WithAccessToken(func(context.Context) (string, error) { return token, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return rc.Channel(topic, realtime.Private()).Subscribe(ctx)
}
