package stacktest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

// A member watching a task over Realtime through the gateway sees a worker's
// progress updates; a user of another account, subscribed to the same task,
// sees nothing (row-level security).
func TestWatchTaskThroughGateway(t *testing.T) {
	s := Shared()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner, stranger := s.NewUser(t), s.NewUser(t)
	var account string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", owner.AccessToken, map[string]any{"name": "Watchers", "slug": "watchers-" + pgtest.RandomHex(3)}, http.StatusOK, &account)

	resourceID := "3f2b6a7e-1111-4222-8333-" + pgtest.RandomHex(6)
	var created []struct{ ID string }
	s.Do(t, http.MethodPost, "/rest/v1/task_executions?select=id", s.ServiceKey, map[string]any{
		"account_id": account, "resource_type": "deployment", "resource_id": resourceID, "kind": "deploy",
	}, http.StatusCreated, &created, "Prefer", "return=representation")
	if len(created) != 1 {
		t.Fatalf("created %+v", created)
	}
	taskID := created[0].ID

	subscribe := func(token string) (<-chan map[string]any, *realtime.Client) {
		c, err := realtime.New(s.URL, s.AnonKey, realtime.WithAccessToken(func(context.Context) (string, error) { return token, nil }))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		events := make(chan map[string]any, 100)
		ch := c.Channel("task-"+taskID).OnPostgresChanges(realtime.PostgresChangesFilter{
			Event: realtime.Update, Schema: "public", Table: "task_executions", Filter: "resource_id=eq." + resourceID,
		}, func(e *realtime.PostgresChangeEvent) {
			var rec map[string]any
			json.Unmarshal(e.Record, &rec)
			events <- rec
		})
		if err := ch.Subscribe(ctx); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		return events, c
	}
	mine, c1 := subscribe(owner.AccessToken)
	defer c1.Close()
	theirs, c2 := subscribe(stranger.AccessToken)
	defer c2.Close()

	for _, p := range []int{10, 50, 100} {
		status := "running"
		if p == 100 {
			status = "succeeded"
		}
		s.Do(t, http.MethodPatch, "/rest/v1/task_executions?id=eq."+taskID, s.ServiceKey,
			map[string]any{"progress": p, "status": status, "message": "step"}, http.StatusNoContent, nil)
	}
	for _, want := range []float64{10, 50, 100} {
		select {
		case rec := <-mine:
			if rec["progress"] != want || rec["id"] != taskID {
				t.Fatalf("update %v, want progress %v", rec, want)
			}
		case <-ctx.Done():
			t.Fatalf("no update with progress %v", want)
		}
	}
	select {
	case rec := <-theirs:
		t.Fatalf("a user of another account received %v", rec)
	case <-time.After(time.Second):
	}
}
