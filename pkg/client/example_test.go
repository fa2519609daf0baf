package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/sfp-dev/sfp/pkg/client"
)

// A user's program: sign in, then list the account's projects page by page.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:54321", "ANON_KEY",
		client.WithSessionStore(client.NewFileStore("/tmp/session.json")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Auth.SignInWithPassword(ctx, "ops@acme.test", "password"); err != nil {
		log.Fatal(err)
	}
	acct, err := c.Accounts.Get(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	for p, err := range c.Projects.All(ctx, acct.ID, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Identifier)
	}
}

// An optimistic update that retries once on a version conflict.
func ExampleProjectsService_Update() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:54321", "ANON_KEY")
	defer c.Close()
	p, err := c.Projects.Get(ctx, "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b")
	if err != nil {
		log.Fatal(err)
	}
	desc := "Storefront"
	_, err = c.Projects.Update(ctx, p.ID, client.ProjectUpdate{Version: p.Version, Description: &desc})
	var e *client.Error
	if errors.Is(err, client.ErrVersionConflict) && errors.As(err, &e) {
		_, err = c.Projects.Update(ctx, p.ID, client.ProjectUpdate{Version: e.CurrentVersion, Description: &desc})
	}
	if errors.Is(err, client.ErrForbidden) && errors.As(err, &e) {
		log.Fatalf("ask for the %s role in %s (you are %q)", e.RequiredRole, e.Account, e.CallerRole)
	}
}

// A worker with the service key claims a task, reports progress and
// follows its deployment.
func ExampleTasksService_Start() {
	ctx := context.Background()
	w, _ := client.New("http://127.0.0.1:54321", "SERVICE_ROLE_KEY")
	defer w.Close()
	task, err := w.Tasks.Start(ctx, "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b", "worker-7")
	if errors.Is(err, client.ErrConflict) {
		return // another worker took it
	}
	if err != nil {
		log.Fatal(err)
	}
	creds, err := w.Integrations.Credentials(ctx, "0e6f0a52-7a35-4a8e-9a43-1d2d3e4f5a6b")
	if err != nil {
		log.Fatal(err)
	}
	_ = creds // use them, never log them
	for p := 10; p < 100; p += 30 {
		w.Tasks.Advance(ctx, task.ID, p, fmt.Sprintf("step %d", p))
	}
	w.Tasks.Succeed(ctx, task.ID, json.RawMessage(`{"ok": true}`))
}

// Following a deployment live until it finishes.
func ExampleDeploymentsService_Watch() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:54321", "ANON_KEY", client.WithSessionStore(client.NewFileStore("/tmp/session.json")))
	defer c.Close()
	w, err := c.Deployments.Watch(ctx, "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b")
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for u := range w.Updates() {
		fmt.Printf("%-9s %3d%% %s\n", u.Status, u.Progress, u.Message)
	}
	if err := w.Err(); err != nil {
		log.Fatal(err)
	}
}
