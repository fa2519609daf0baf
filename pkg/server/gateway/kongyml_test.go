package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// repoKongYML is the file both runtimes use.
const repoKongYML = "../../../kong.yml"

type tenantKeys struct {
	secret        []byte
	anon, service string
	env           map[string]string
}

// generatedKeys makes keys the way a tenant's are made.
func generatedKeys(t testing.TB) tenantKeys {
	t.Helper()
	secret := []byte(rand.Text() + rand.Text())
	anon, err := tenant.SignAPIKey(secret, "anon", time.Now(), tenant.KeyLifetime)
	require.NoError(t, err)
	service, err := tenant.SignAPIKey(secret, "service_role", time.Now(), tenant.KeyLifetime)
	require.NoError(t, err)
	return tenantKeys{secret: secret, anon: anon, service: service, env: map[string]string{
		"SUPABASE_ANON_KEY":    anon,
		"SUPABASE_SERVICE_KEY": service,
		"DASHBOARD_USERNAME":   "supabase",
		"DASHBOARD_PASSWORD":   rand.Text(),
	}}
}

func TestRepositoryKongYML(t *testing.T) {
	k := generatedKeys(t)
	cfg, err := Load(repoKongYML, k.env)
	require.NoError(t, err)
	assert.Equal(t, []string{"auth", "meta", "realtime-dev.supabase-realtime", "rest", "studio"}, cfg.UpstreamHosts())
	g, err := New(cfg, Options{Upstreams: map[string]http.Handler{
		"auth": echo("auth"), "rest": echo("rest"), "realtime-dev.supabase-realtime": echo("realtime"),
	}})
	require.NoError(t, err)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	t.Run("open auth routes need no key", func(t *testing.T) {
		for path, want := range map[string]string{
			"/auth/v1/verify?token=abc&type=signup&redirect_to=http://localhost:3000": "/verify",
			"/auth/v1/callback?code=1":           "/callback",
			"/auth/v1/authorize?provider=github": "/authorize",
			"/auth/v1/.well-known/jwks.json":     "/.well-known/jwks.json",
			"/sso/saml/metadata":                 "/sso/saml/metadata",
		} {
			r := get(t, srv, path)
			require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
			s := r.seen(t)
			assert.Equal(t, "auth", s.Upstream, path)
			assert.Equal(t, want, s.Path, path)
			if i := strings.IndexByte(path, '?'); i > 0 {
				assert.Equal(t, path[i+1:], s.Query)
			}
		}
	})

	t.Run("secure auth routes need a key", func(t *testing.T) {
		r := get(t, srv, "/auth/v1/user")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "No API key found in request")
		r = get(t, srv, "/auth/v1/user", "apikey", "not-a-key")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "Unauthorized")
		other := generatedKeys(t) // well-formed, but another tenant's
		r = get(t, srv, "/auth/v1/user", "apikey", other.anon)
		assert.Equal(t, http.StatusUnauthorized, r.status)
	})

	t.Run("apikey becomes the bearer token", func(t *testing.T) {
		r := call(t, srv, http.MethodPost, "/auth/v1/token?grant_type=password", strings.NewReader(`{"email":"a@b.c","password":"x"}`),
			"apikey", k.anon, "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Equal(t, "/token", s.Path)
		assert.Equal(t, "grant_type=password", s.Query)
		assert.Equal(t, "Bearer "+k.anon, s.Header.Get("Authorization"))
		assert.Equal(t, k.anon, s.Header.Get("apikey"), "hide_credentials false, as the official file")
		role, err := tenant.ParseAPIKey(k.secret, strings.TrimPrefix(s.Header.Get("Authorization"), "Bearer "))
		require.NoError(t, err)
		assert.Equal(t, "anon", role)
		assert.Equal(t, "anon", s.Header.Get("X-Consumer-Username"))
		assert.Empty(t, s.Header.Values("X-Consumer-Groups"), "hide_groups_header")
	})

	t.Run("a user's token passes untouched", func(t *testing.T) {
		const userJWT = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.sig"
		r := get(t, srv, "/rest/v1/todos?select=*", "apikey", k.anon, "Authorization", userJWT)
		require.Equal(t, http.StatusOK, r.status)
		s := r.seen(t)
		assert.Equal(t, "rest", s.Upstream)
		assert.Equal(t, "/todos", s.Path)
		assert.Equal(t, []string{userJWT}, s.Header.Values("Authorization"))
	})

	t.Run("service key on rest", func(t *testing.T) {
		r := get(t, srv, "/rest/v1/todos?id=eq.1&select=id,title", "apikey", k.service)
		require.Equal(t, http.StatusOK, r.status)
		s := r.seen(t)
		assert.Equal(t, "Bearer "+k.service, s.Header.Get("Authorization"))
		assert.Equal(t, "service_role", s.Header.Get("X-Consumer-Username"))
		assert.Equal(t, "id=eq.1&select=id,title", s.Query)
		assert.Equal(t, "rest:3000", s.Host)
	})

	t.Run("query apikey", func(t *testing.T) {
		r := get(t, srv, "/rest/v1/todos?apikey="+k.anon)
		require.Equal(t, http.StatusOK, r.status)
		s := r.seen(t)
		assert.Equal(t, "/todos", s.Path)
		assert.Equal(t, "Bearer "+k.anon, s.Header.Get("Authorization"))
	})

	t.Run("the OpenAPI root is for service_role only", func(t *testing.T) {
		for _, path := range []string{"/rest/v1/", "/rest/v1/?apikey=" + k.anon, "/rest/v1//"} {
			r := get(t, srv, path, "apikey", k.anon)
			assert.Equal(t, http.StatusForbidden, r.status, path)
			assertKongError(t, r, "You cannot consume this service")
		}
		r := get(t, srv, "/rest/v1/")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "No API key found in request")
		r = get(t, srv, "/rest/v1/", "apikey", k.service)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Equal(t, "rest", s.Upstream)
		assert.Equal(t, "/", s.Path)
		assert.Equal(t, "Bearer "+k.service, s.Header.Get("Authorization"))
		// Below the root, anon keeps its access.
		r = get(t, srv, "/rest/v1/rpc/f", "apikey", k.anon)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "/rpc/f", r.seen(t).Path)
	})

	t.Run("realtime websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/realtime/v1/websocket?apikey=" + url.QueryEscape(k.anon) + "&vsn=1.0.0"
		c, _, err := websocket.Dial(ctx, u, nil)
		require.NoError(t, err)
		defer c.CloseNow()
		_, first, err := c.Read(ctx)
		require.NoError(t, err)
		var s seen
		require.NoError(t, json.Unmarshal(first, &s))
		assert.Equal(t, "realtime", s.Upstream)
		assert.Equal(t, "/socket/websocket", s.Path)
		assert.Equal(t, "apikey="+k.anon+"&vsn=1.0.0", s.Query)
		assert.Equal(t, k.anon, s.Header.Get("X-Api-Key"))
		assert.Empty(t, s.Header.Values("Authorization"), "the socket route passes the key as x-api-key only")
		assert.Equal(t, "realtime-dev.supabase-realtime:4000", s.Host)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping")))
		_, got, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, "echo:ping", string(got))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/realtime/v1/websocket?vsn=1.0.0", nil)
		require.Error(t, err)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("realtime api", func(t *testing.T) {
		r := call(t, srv, http.MethodPost, "/realtime/v1/api/broadcast", strings.NewReader(`{}`), "apikey", k.service)
		require.Equal(t, http.StatusOK, r.status)
		s := r.seen(t)
		assert.Equal(t, "/api/broadcast", s.Path)
		assert.Equal(t, "Bearer "+k.service, s.Header.Get("Authorization"))
		for _, p := range []string{"/realtime/v1/api/tenants/x", "/realtime/v1/api/openapi"} {
			r = get(t, srv, p, "apikey", k.service)
			assert.Equal(t, http.StatusForbidden, r.status, p)
			assert.JSONEq(t, `{"message":"Access is forbidden."}`, string(r.body))
		}
	})

	t.Run("meta is for service_role only", func(t *testing.T) {
		r := get(t, srv, "/pg/tables", "apikey", k.anon)
		assert.Equal(t, http.StatusForbidden, r.status)
		assertKongError(t, r, "You cannot consume this service")
		r = get(t, srv, "/pg/tables", "apikey", k.service)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "postgres-meta is not part of the embedded runtime")
		assert.Contains(t, r.json(t)["message"], `service "meta"`)
	})

	t.Run("dashboard behind basic-auth", func(t *testing.T) {
		r := get(t, srv, "/project/default")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, `Basic realm="service"`, r.header.Get("WWW-Authenticate"))
		r = get(t, srv, "/project/default", "Authorization", basic(k.env["DASHBOARD_USERNAME"], "wrong"))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		r = get(t, srv, "/project/default", "Authorization", basic(k.env["DASHBOARD_USERNAME"], k.env["DASHBOARD_PASSWORD"]))
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "Studio is not part of the embedded runtime")
		assert.Contains(t, r.json(t)["message"], `service "dashboard"`)
		for _, p := range []string{"/api/mcp", "/mcp"} {
			r = get(t, srv, p)
			assert.Equal(t, http.StatusForbidden, r.status, p)
		}
	})

	t.Run("cors", func(t *testing.T) {
		const origin = "http://localhost:5173"
		r := call(t, srv, http.MethodOptions, "/rest/v1/todos", nil, "Origin", origin,
			"Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", "apikey,authorization,content-type,prefer,x-client-info")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
		assert.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "PATCH")
		assert.Equal(t, "apikey,authorization,content-type,prefer,x-client-info", r.header.Get("Access-Control-Allow-Headers"))
		assert.Equal(t, "3600", r.header.Get("Access-Control-Max-Age"))

		r = get(t, srv, "/rest/v1/todos", "Origin", origin, "apikey", k.anon)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
		exposed := strings.Split(r.header.Get("Access-Control-Expose-Headers"), ",")
		for _, h := range []string{"Content-Range", "Content-Profile", "Preference-Applied", "X-Total-Count", "Link"} {
			assert.Contains(t, exposed, h)
		}
		r = get(t, srv, "/", "Origin", origin)
		assert.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"), "the dashboard keeps Kong's default cors")
	})
}

// Studio proxied to a real server: basic-auth credentials stay at the gateway.
func TestRepositoryKongYMLDashboardProxy(t *testing.T) {
	k := generatedKeys(t)
	studio := httptest.NewServer(echo("studio"))
	t.Cleanup(studio.Close)
	su, _ := url.Parse(studio.URL)
	cfg, err := Load(repoKongYML, k.env)
	require.NoError(t, err)
	g, err := New(cfg, Options{URLs: map[string]*url.URL{"studio": su}})
	require.NoError(t, err)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	r := get(t, srv, "/project/default?x=1", "Authorization", basic(k.env["DASHBOARD_USERNAME"], k.env["DASHBOARD_PASSWORD"]))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s := r.seen(t)
	assert.Equal(t, "/project/default", s.Path)
	assert.Equal(t, "x=1", s.Query)
	assert.Empty(t, s.Header.Values("Authorization"), "hide_credentials")
	assert.Equal(t, "DASHBOARD", s.Header.Get("X-Consumer-Username"))
	// The API routes still answer without Studio; auth is absent here.
	assert.Equal(t, http.StatusServiceUnavailable, get(t, srv, "/auth/v1/settings", "apikey", k.anon).status)
}
