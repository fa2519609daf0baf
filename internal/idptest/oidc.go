// Package idptest runs real identity providers inside a test process, for
// the OAuth and OIDC flows of the auth server and the CLI: an OpenID
// Provider built with zitadel/oidc's op package (with the in-memory storage
// of its own example server), laid out as Keycloak, Azure or Google lay
// out their endpoints, and GitHub and GitLab stand-ins serving those
// services' documented OAuth and user endpoints. Each signs users in without a login page: the user
// the test chose is signed in as soon as the browser arrives.
package idptest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Layout says where an OpenID Provider's endpoints are, relative to the
// server's root.
type Layout int

const (
	// Keycloak: issuer <root>/realms/test, endpoints under
	// <issuer>/protocol/openid-connect/.
	Keycloak Layout = iota
	// Azure: issuer <root>/<tenant>/v2.0, endpoints under
	// <root>/<tenant>/oauth2/v2.0/.
	Azure
	// Google: issuer <root>, endpoints at its root.
	Google
)

// AzureTenant is the tenant id of the Azure layout.
const AzureTenant = "0c4ab8e1-1d2c-4f5e-9a3b-7d6e5f4a3b2c"

// User is who the provider signs in.
type User struct {
	ID            string
	Username      string
	FirstName     string
	LastName      string
	Email         string
	EmailVerified bool
}

// OIDC is a running OpenID Provider.
type OIDC struct {
	// Issuer is the provider's issuer URL.
	Issuer string
	// URL is what GOTRUE_EXTERNAL_<NAME>_URL is set to for it: the realm
	// URL (Keycloak), the tenant URL (Azure); "" for Google.
	URL string
	// Server is the HTTP server.
	Server *httptest.Server

	store   *users
	storage *storage.Storage
}

type users struct {
	mu     sync.Mutex
	byID   map[string]*storage.User
	active string
}

func (u *users) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byID[id]
}

func (u *users) GetUserByUsername(name string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return "service" }

// signingStorage hands the OP clients whose ID tokens carry the profile
// and email claims (as Google's, Azure's and Keycloak's do) and whose login
// page is the provider's automatic sign-in.
type signingStorage struct {
	*storage.Storage
	loginURL func(string) string
}

type client struct {
	op.Client
	loginURL func(string) string
}

func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) LoginURL(id string) string            { return c.loginURL(id) }

func (s signingStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return client{Client: c, loginURL: s.loginURL}, nil
}

// SetUserinfoFromToken answers userinfo with the subject whatever the
// scopes, as Keycloak's and the other providers' userinfo endpoints do.
func (s signingStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	info.Subject = subject
	return nil
}

// SetUserinfoFromScopes fills the ID token's claims; the subject is always
// there, whatever the scopes (Google's "email profile" has no openid).
func (s signingStorage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, info, userID, clientID, scopes); err != nil {
		return err
	}
	info.Subject = userID
	return nil
}

// Client is an OAuth client registered at a provider.
type Client struct {
	ID, Secret  string
	RedirectURI string
}

// NewOIDC starts an OpenID Provider with the layout, the clients and the
// user it signs in.
func NewOIDC(t testing.TB, layout Layout, u User, clients ...Client) *OIDC {
	t.Helper()
	o := &OIDC{store: &users{byID: map[string]*storage.User{}}}
	o.SetUser(u)
	registered := map[string]*storage.Client{}
	for _, c := range clients {
		registered[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURI)
	}
	o.storage = storage.NewStorageWithClients(o.store, registered)
	mux := http.NewServeMux()
	o.Server = httptest.NewServer(mux)
	t.Cleanup(o.Server.Close)
	root := o.Server.URL

	var prefixes []string // where the OP's own routes are mounted
	var opts []op.Option
	switch layout {
	case Keycloak:
		o.Issuer = root + "/realms/test"
		o.URL = o.Issuer
		prefixes = []string{"/realms/test"}
		opts = []op.Option{
			op.WithCustomAuthEndpoint(op.NewEndpoint("protocol/openid-connect/auth")),
			op.WithCustomTokenEndpoint(op.NewEndpoint("protocol/openid-connect/token")),
			op.WithCustomUserinfoEndpoint(op.NewEndpoint("protocol/openid-connect/userinfo")),
			op.WithCustomKeysEndpoint(op.NewEndpoint("protocol/openid-connect/certs")),
		}
	case Azure:
		o.URL = root + "/" + AzureTenant
		o.Issuer = o.URL + "/v2.0"
		// Azure's endpoints are under the tenant, its discovery and keys
		// under the issuer: the OP answers at both.
		prefixes = []string{"/" + AzureTenant + "/v2.0", "/" + AzureTenant}
		opts = []op.Option{
			op.WithCustomAuthEndpoint(op.NewEndpoint("oauth2/v2.0/authorize")),
			op.WithCustomTokenEndpoint(op.NewEndpoint("oauth2/v2.0/token")),
		}
	case Google:
		o.Issuer = root
		prefixes = []string{""}
	}
	loginURL := func(id string) string { return root + "/login?id=" + id }
	st := signingStorage{Storage: o.storage, loginURL: loginURL}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:          sha256.Sum256([]byte(t.Name())),
		CodeMethodS256:     true,
		AuthMethodPost:     true,
		SupportedUILocales: []language.Tag{language.English},
	}, st, op.StaticIssuer(o.Issuer), append([]op.Option{op.WithAllowInsecure()}, opts...)...)
	if err != nil {
		t.Fatalf("start OpenID provider: %v", err)
	}
	callback := op.AuthCallbackURL(provider)
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		o.store.mu.Lock()
		active := o.store.byID[o.store.active]
		o.store.mu.Unlock()
		if err := o.storage.CheckUsernamePassword(active.Username, active.Password, id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, callback(op.ContextWithIssuer(r.Context(), o.Issuer), id), http.StatusFound)
	})
	for _, p := range prefixes {
		if p == "" {
			mux.Handle("/", provider)
			continue
		}
		mux.Handle(p+"/", http.StripPrefix(p, provider))
	}
	return o
}

// SetUser makes u the user the provider signs in from now on.
func (o *OIDC) SetUser(u User) {
	o.store.mu.Lock()
	defer o.store.mu.Unlock()
	o.store.byID[u.ID] = &storage.User{
		ID: u.ID, Username: firstNonEmpty(u.Username, u.ID), Password: "pw-" + u.ID,
		FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, EmailVerified: u.EmailVerified,
		PreferredLanguage: language.English,
	}
	o.store.active = u.ID
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// IDToken signs the active user in at the provider as the client (whose
// registered redirect URI is redirectURI, never served: the code is read
// from the redirect) and returns the ID token it issues. With nonce set,
// the authorization request carries its SHA-256 (hex), as GoTrue's
// id_token grant expects.
func (o *OIDC) IDToken(t testing.TB, clientID, secret, redirectURI, nonce string) string {
	t.Helper()
	ctx := context.Background()
	p, err := gooidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		t.Fatalf("discover %s: %v", o.Issuer, err)
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURI, Scopes: []string{"openid", "email", "profile"}}
	var opts []oauth2.AuthCodeOption
	if nonce != "" {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", fmt.Sprintf("%x", sha256.Sum256([]byte(nonce)))))
	}
	end, err := FollowRedirects(cfg.AuthCodeURL("state", opts...), redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, end.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange at %s: %v", o.Issuer, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token from the provider")
	}
	return raw
}

// FollowRedirects follows redirects from start, as a browser with cookies
// would, and returns the first URL that starts with stop.
func FollowRedirects(start, stop string) (*url.URL, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := start
	for range 20 {
		if strings.HasPrefix(next, stop) {
			return url.Parse(next)
		}
		resp, err := c.Get(next)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", next, err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("GET %s: %d without a redirect", next, resp.StatusCode)
		}
		next = loc.String()
	}
	return nil, fmt.Errorf("too many redirects from %s", start)
}
