package stacktest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// The runtime ends expired leases by itself: a queued ticket is promoted
// when the holder's lease runs out, without anyone calling a lease RPC.
func TestRuntimeExpiresLeases(t *testing.T) {
	s := Shared()
	u := s.NewUser(t)
	var account string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "Leases", "slug": "leases-" + pgtest.RandomHex(3)}, http.StatusOK, &account)
	var projects []struct{ ID string }
	s.Do(t, http.MethodPost, "/rest/v1/projects?select=id", u.AccessToken, map[string]any{
		"account_id": account, "identifier": "org/leases", "platform": "github", "remote_url": "https://example.test/org/leases.git",
	}, http.StatusCreated, &projects, "Prefer", "return=representation")
	var envs []struct{ ID string }
	s.Do(t, http.MethodPost, "/rest/v1/environments?select=id", u.AccessToken, map[string]any{
		"account_id": account, "project_id": projects[0].ID, "name": "staging",
	}, http.StatusCreated, &envs, "Prefer", "return=representation")
	type lease struct {
		Ticket, Status string
		Position       int `json:"queue_position"`
	}
	var first, second lease
	s.Do(t, http.MethodPost, "/rest/v1/rpc/request_environment", u.AccessToken, map[string]any{"environment_id": envs[0].ID, "lease": "1 second", "reason": "short"}, http.StatusOK, &first)
	s.Do(t, http.MethodPost, "/rest/v1/rpc/request_environment", u.AccessToken, map[string]any{"environment_id": envs[0].ID, "lease": "1 hour", "reason": "next"}, http.StatusOK, &second)
	if first.Status != "active" || second.Status != "queued" || second.Position != 1 {
		t.Fatalf("first %+v second %+v", first, second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		// Read the table, not an RPC: reading does not apply expiry.
		var rows []struct{ Status string }
		s.Do(t, http.MethodGet, "/rest/v1/environment_allocations?select=status&id=eq."+second.Ticket, u.AccessToken, nil, http.StatusOK, &rows)
		if len(rows) == 1 && rows[0].Status == "active" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the queued ticket was not promoted after the lease expired: %+v", rows)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
