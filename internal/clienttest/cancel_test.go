package clienttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

// A call the real server is stuck on (request_environment waits for a row
// lock the test holds) returns context.Canceled as soon as the caller
// cancels, and the client stays usable.
func TestCancelWhileTheServerIsBlocked(t *testing.T) {
	ctx, tm := teamTest(t)
	env := tm.environment(t, client.NewEnvironment{Name: "locked"})
	conn, err := pgx.Connect(ctx, stacktest.Shared().AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "select 1 from public.environments where id = $1 for update", env.ID); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := tm.member.Environments.Lock(cctx, env.ID, time.Hour, "blocked")
		done <- err
	}()
	// Wait until the request is waiting on the lock in the database.
	watcher, err := pgx.Connect(ctx, stacktest.Shared().AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	for {
		var waiting int
		if err := watcher.QueryRow(ctx, `select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%request_environment%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("returned before blocking: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	tx.Rollback(ctx)
	if _, err := tm.member.Environments.Get(ctx, env.ID); err != nil {
		t.Fatalf("client after a cancelled call: %v", err)
	}
}
