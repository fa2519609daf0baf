package clienttest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

// The helpers' clients use the publishable and secret keys; the legacy
// anon and service_role keys keep working beside them while the tenant
// allows them, and an unknown sb_ key is refused as the gateway refuses
// it (ErrUnauthenticated, Kong's message kept).
func TestLegacyKeys(t *testing.T) {
	ctx, tm := teamTest(t)
	s := stacktest.Shared()

	worker := keyClient(t, s.ServiceKey)
	task, err := worker.Tasks.Create(ctx, client.NewTask{ProjectID: tm.project.ID, ResourceType: "build", ResourceID: tm.project.ID,
		Kind: "build", Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatalf("a worker with the legacy service_role key: %v", err)
	}

	user := keyClient(t, s.AnonKey)
	if _, err := user.Auth.SignInWithPassword(ctx, tm.ownerU.Email, tm.ownerU.Password); err != nil {
		t.Fatalf("sign in with the legacy anon key: %v", err)
	}
	if got, err := user.Tasks.Get(ctx, task.ID); err != nil || got.ID != task.ID {
		t.Fatalf("read with the legacy anon key and a session: %+v %v", got, err)
	}

	stranger := keyClient(t, "sb_secret_not-a-key-of-this-tenant_abcdefgh")
	_, err = stranger.Tasks.Get(ctx, task.ID)
	var ce *client.Error
	if !errors.Is(err, client.ErrUnauthenticated) || !errors.As(err, &ce) || ce.StatusCode != 401 || ce.Message != "Unauthorized" {
		t.Fatalf("an unknown secret key: %v", err)
	}
}
