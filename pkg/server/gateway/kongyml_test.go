package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// repoKongYML is the file both runtimes use.
const repoKongYML = "../../../kong.yml"

type tenantKeys struct {
	secret        []byte
	anon, service string
	env           map[string]string
	tenant        jwttest.Tenant
}

// generatedKeys makes keys the way a tenant's are made, and the kong.yml
// variables its gateway gets.
func generatedKeys(t testing.TB) tenantKeys {
	t.Helper()
	tn := jwttest.NewTenant(t)
	return tenantKeys{secret: []byte(tn.Secrets.JWTSecret), anon: tn.Secrets.AnonKey, service: tn.Secrets.ServiceRoleKey,
		env: tn.KongEnv(), tenant: tn}
}

func TestRepositoryKongYML(t *testing.T) {
	k := generatedKeys(t)
	cfg, err := Load(repoKongYML, k.env)
	require.NoError(t, err)
	assert.Equal(t, []string{"auth", "meta", "realtime-dev.supabase-realtime", "rest", "studio"}, cfg.UpstreamHosts())
	srv := kongGateway(t, k.env)

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
		for _, key := range []string{other.anon, other.tenant.Secrets.PublishableKey, other.tenant.Secrets.SecretKey} {
			r = get(t, srv, "/auth/v1/user", "apikey", key)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assertKongError(t, r, "Unauthorized")
		}
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
		c, _, s := dialEcho(ctx, t, srv, "/realtime/v1/websocket?apikey="+url.QueryEscape(k.anon)+"&vsn=1.0.0", nil)
		defer c.CloseNow()
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

		_, resp, err := websocket.Dial(ctx, wsURL(srv, "/realtime/v1/websocket?vsn=1.0.0"), nil)
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
	studio := serveHandler(t, echo("studio"))
	su, _ := url.Parse(studio.URL)
	srv := serveHandler(t, repoGateway(t, k.env, Options{URLs: map[string]*url.URL{"studio": su}}))

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

// kongGateway serves the repository kong.yml with env, echo upstreams for
// auth, rest and realtime.
func kongGateway(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	return serveHandler(t, repoGateway(t, env, Options{Upstreams: map[string]http.Handler{
		"auth": echo("auth"), "rest": echo("rest"), "realtime-dev.supabase-realtime": echo("realtime"),
	}}))
}

// The publishable and secret keys as the official kong.yml maps them: each
// identifies its role's consumer, and the upstream gets the gateway's
// pre-signed JWT of the role in Authorization — unless the caller sent its
// own bearer token that is not an sb_ key (a user's session).
func TestRepositoryKongYMLOpaqueKeys(t *testing.T) {
	k := generatedKeys(t)
	s := k.tenant.Secrets
	srv := kongGateway(t, k.env)
	anonJWT, serviceJWT := "Bearer "+s.AnonKeyAsymmetric, "Bearer "+s.ServiceRoleKeyAsymmetric

	for _, tc := range []struct {
		name, path, consumer, want string
		header                     []string
	}{
		{"publishable key on rest", "/rest/v1/todos", "anon", anonJWT, []string{"apikey", s.PublishableKey}},
		{"secret key on rest", "/rest/v1/todos", "service_role", serviceJWT, []string{"apikey", s.SecretKey}},
		{"secret key on auth", "/auth/v1/admin/users", "service_role", serviceJWT, []string{"apikey", s.SecretKey}},
		{"publishable key in the query", "/rest/v1/todos?apikey=" + s.PublishableKey, "anon", anonJWT, nil},
		{"realtime api", "/realtime/v1/api/broadcast", "service_role", serviceJWT, []string{"apikey", s.SecretKey}},
		// supabase-js signed out sends the key as its bearer token too.
		{"supabase-js signed out", "/rest/v1/todos", "anon", anonJWT,
			[]string{"apikey", s.PublishableKey, "Authorization", "Bearer " + s.PublishableKey}},
		{"secret key as bearer too", "/rest/v1/todos", "service_role", serviceJWT,
			[]string{"apikey", s.SecretKey, "Authorization", "Bearer " + s.SecretKey}},
		{"a user's session passes", "/rest/v1/todos", "anon", "Bearer user.session.jwt",
			[]string{"apikey", s.PublishableKey, "Authorization", "Bearer user.session.jwt"}},
		{"legacy key beside", "/rest/v1/todos", "anon", "Bearer " + k.anon, []string{"apikey", k.anon}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, tc.path, tc.header...)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			seen := r.seen(t)
			assert.Equal(t, []string{tc.want}, seen.Header.Values("Authorization"))
			assert.Equal(t, tc.consumer, seen.Header.Get("X-Consumer-Username"))
		})
	}

	t.Run("realtime websocket", func(t *testing.T) {
		for key, want := range map[string]string{s.PublishableKey: s.AnonKeyAsymmetric, s.SecretKey: s.ServiceRoleKeyAsymmetric} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			c, _, seen := dialEcho(ctx, t, srv, "/realtime/v1/websocket?apikey="+key+"&vsn=1.0.0", nil)
			assert.Equal(t, want, seen.Header.Get("X-Api-Key"))
			assert.Equal(t, "apikey="+want+"&vsn=1.0.0", seen.Query, "the query's key is the role's JWT too")
			c.CloseNow()
			cancel()
		}
		// A client's own x-api-key does not replace the gateway's.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, _, seen := dialEcho(ctx, t, srv, "/realtime/v1/websocket?apikey="+s.PublishableKey+"&vsn=1.0.0",
			&websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {k.service}}})
		defer c.CloseNow()
		assert.Equal(t, []string{s.AnonKeyAsymmetric}, seen.Header.Values("X-Api-Key"))
	})

	t.Run("malformed or unknown sb_ keys", func(t *testing.T) {
		for _, key := range []string{
			"sb_publishable_", "sb_secret_short", s.SecretKey[:len(s.SecretKey)-1], s.PublishableKey + "x",
			tenant.NewOpaqueKey(tenant.SecretKeyPrefix), // well-formed, unknown
		} {
			r := get(t, srv, "/rest/v1/todos", "apikey", key)
			assert.Equal(t, http.StatusUnauthorized, r.status, key)
			assertKongError(t, r, "Unauthorized")
			assert.Equal(t, "Key", r.header.Get("WWW-Authenticate"))
		}
	})
}

// A revoked secret key and, with auth.legacy_keys off, the legacy keys are
// no credentials at all: the gateway answers Kong 3.9's 401 for them, and
// the remaining keys keep working.
func TestRepositoryKongYMLRefusedKeys(t *testing.T) {
	k := generatedKeys(t)
	s := k.tenant.Secrets
	revoked := s.SecretKey
	require.NoError(t, s.RevokeSecretKey(time.Now()))
	k.tenant.SetLegacy(false)
	env := k.tenant.KongEnv()
	assert.Empty(t, env["SUPABASE_SECRET_KEY"])
	assert.Empty(t, env["SUPABASE_ANON_KEY"])
	srv := kongGateway(t, env)

	for name, key := range map[string]string{"revoked secret key": revoked, "legacy anon key": k.anon, "legacy service key": k.service} {
		for _, path := range []string{"/rest/v1/todos", "/auth/v1/user", "/realtime/v1/api/broadcast"} {
			r := get(t, srv, path, "apikey", key)
			assert.Equal(t, http.StatusUnauthorized, r.status, "%s on %s", name, path)
			assertKongError(t, r, "Unauthorized")
			assert.Equal(t, "Key", r.header.Get("WWW-Authenticate"))
		}
	}
	r := get(t, srv, "/rest/v1/todos", "apikey", s.PublishableKey)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "Bearer "+s.AnonKeyAsymmetric, r.seen(t).Header.Get("Authorization"))

	// A new secret key works at once in a gateway built from the new .env.
	newKey := s.RotateSecretKey()
	srv = kongGateway(t, k.tenant.KongEnv())
	r = get(t, srv, "/rest/v1/todos", "apikey", newKey)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "service_role", r.seen(t).Header.Get("X-Consumer-Username"))
	assert.Equal(t, http.StatusUnauthorized, get(t, srv, "/rest/v1/todos", "apikey", revoked).status)
}

// The OpenAPI root's route and the REST route must turn API keys into the
// same Authorization: kong.yml keeps a copy of one request-transformer in
// the other, and a copy that falls behind sends the secret key itself to
// PostgREST (401).
func TestRepositoryKongYMLRESTTransformersAgree(t *testing.T) {
	raw, err := os.ReadFile(repoKongYML)
	require.NoError(t, err)
	var doc struct {
		Services []struct {
			Name    string `yaml:"name"`
			Plugins []struct {
				Name   string         `yaml:"name"`
				Config map[string]any `yaml:"config"`
			} `yaml:"plugins"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	transformer := func(service string) map[string]any {
		for _, s := range doc.Services {
			if s.Name != service {
				continue
			}
			for _, p := range s.Plugins {
				if p.Name == "request-transformer" {
					return p.Config
				}
			}
		}
		t.Fatalf("kong.yml: service %s has no request-transformer", service)
		return nil
	}
	assert.Equal(t, transformer("rest-v1"), transformer("rest-v1-openapi"))
}
