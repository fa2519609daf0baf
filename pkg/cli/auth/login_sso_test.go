package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestLoginSSORequest checks what `sfp login --sso` sends and does until
// the SAML side exists on the embedded auth: POST /sso with the domain, the
// loopback redirect_to, an S256 challenge and skip_http_redirect, then the
// PKCE exchange of the code the browser brings back. The server here plays
// GoTrue's documented answers for those requests only (and GET /user, for
// the factors every sign-in checks); the end-to-end tests run against the
// real SAML server.
func TestLoginSSORequest(t *testing.T) {
	var mu sync.Mutex
	var ssoBody map[string]any
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("POST /auth/v1/sso", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewDecoder(r.Body).Decode(&ssoBody)
		idp := srv.URL + "/idp?" + url.Values{"back": {ssoBody["redirect_to"].(string)}}.Encode()
		_ = json.NewEncoder(w).Encode(map[string]string{"url": idp})
	})
	mux.HandleFunc("GET /idp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("back")+"?code=sso-code", http.StatusFound)
	})
	mux.HandleFunc("POST /auth/v1/token", func(w http.ResponseWriter, r *http.Request) {
		var p map[string]string
		_ = json.NewDecoder(r.Body).Decode(&p)
		sum := sha256.Sum256([]byte(p["code_verifier"]))
		mu.Lock()
		challenge := ssoBody["code_challenge"]
		mu.Unlock()
		if r.URL.Query().Get("grant_type") != "pkce" || p["auth_code"] != "sso-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":400,"error_code":"bad_code_verifier","msg":"code challenge does not match previously saved code verifier"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"at","token_type":"bearer","expires_in":3600,"refresh_token":"abcdefghijkl",` +
			`"user":{"id":"7f0c0e5e-2b1a-4c1e-9d2f-0a1b2c3d4e5f","email":"sam@acme.com"}}`))
	})

	// After any sign-in the CLI lists the user's factors (GET /user).
	mux.HandleFunc("GET /auth/v1/user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"id":"7f0c0e5e-2b1a-4c1e-9d2f-0a1b2c3d4e5f","email":"sam@acme.com","factors":[]}`))
	})
	opts, _, out, errOut := browserLogin(t, srv.URL, "sb_publishable_test")
	opts.SSO = "acme.com"
	if err := browserLoginRun(context.Background(), opts); err != nil {
		t.Fatalf("login --sso: %v\n%s", err, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	redirect, _ := ssoBody["redirect_to"].(string)
	if ssoBody["domain"] != "acme.com" || ssoBody["code_challenge_method"] != "s256" || ssoBody["skip_http_redirect"] != true ||
		!strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") {
		t.Fatalf("POST /sso body: %v", ssoBody)
	}
	if !strings.Contains(errOut.String(), "Logged in to "+srv.URL+" as sam@acme.com") || out.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
}
