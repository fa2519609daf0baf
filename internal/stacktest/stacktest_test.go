package stacktest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

func TestMain(m *testing.M) { Main(m) }

// The stack answers through the gateway: a user signs in, creates an account
// and sees it; anon does not.
func TestStackServesTheAPI(t *testing.T) {
	s := Shared()
	u := s.NewUser(t)
	var id string
	s.Do(t, http.MethodPost, "/rest/v1/rpc/create_account", u.AccessToken, map[string]any{"name": "Stack Test", "slug": "stack-test-" + pgtest.RandomHex(3)}, http.StatusOK, &id)
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

// GET /rest/v1/ — PostgREST's OpenAPI description — is for service_role
// only, as in the official kong.yml (an expression route): anon and signed-in
// users are refused by the gateway, the service key gets the document, and
// the tables below the root stay open to the anon key (with a user's token).
func TestOpenAPIRootIsForServiceRole(t *testing.T) {
	s := Shared()
	s.Do(t, http.MethodGet, "/rest/v1/", "", nil, http.StatusForbidden, nil)
	u := s.NewUser(t)
	s.Do(t, http.MethodGet, "/rest/v1/", u.AccessToken, nil, http.StatusForbidden, nil)
	s.Do(t, http.MethodGet, "/rest/v1/accounts?select=id", u.AccessToken, nil, http.StatusOK, nil)

	// The legacy service_role key and the secret key (which the gateway
	// turns into the service_role JWT) both get the document; the
	// publishable key does not.
	for _, key := range []string{s.ServiceKey, s.SecretKey, s.PublishableKey} {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/rest/v1/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("apikey", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Paths map[string]any `json:"paths"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if key == s.PublishableKey {
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET /rest/v1/ with the publishable key: %d, want 403", resp.StatusCode)
			}
			continue
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /rest/v1/ with key %.12s…: %d %v", key, resp.StatusCode, err)
		}
		if _, ok := doc.Paths["/accounts"]; !ok {
			t.Errorf("the OpenAPI document lacks /accounts: %v", doc.Paths)
		}
	}
}
