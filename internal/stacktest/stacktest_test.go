package stacktest

import (
	"net/http"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// The stack answers through the gateway: a user signs in, creates an account
// and sees it; anon does not.
func TestStackServesTheAPI(t *testing.T) {
	s := Shared()
	u := s.NewUser(t)
	var id string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "Stack Test", "slug": "stack-test-" + randomHex(3)}, http.StatusOK, &id)
	var accounts []struct{ ID, Name string }
	s.Do(t, http.MethodGet, "/rest/v1/accounts?select=id,name", u.AccessToken, nil, http.StatusOK, &accounts)
	if len(accounts) != 1 || accounts[0].ID != id || accounts[0].Name != "Stack Test" {
		t.Fatalf("accounts %+v (id %s)", accounts, id)
	}
	other := s.NewUser(t)
	s.Do(t, http.MethodGet, "/rest/v1/accounts?select=id", other.AccessToken, nil, http.StatusOK, &accounts)
	if len(accounts) != 0 {
		t.Fatalf("another user sees %+v", accounts)
	}
}
