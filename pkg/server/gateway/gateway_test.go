package gateway

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sfp-dev/sfp/internal/logtest"
)

const routingYML = `_format_version: "2.1"
services:
  - name: root
    url: http://rootsvc/
    routes:
      - name: root
        paths: [/]
  - name: alpha
    url: http://alpha:8000/base
    routes:
      - name: alpha-strip
        paths: [/a]
      - name: alpha-keep
        strip_path: false
        paths: [/keep/]
  - name: alpha-api
    url: http://alpha:8000/api
    routes:
      - name: alpha-api
        paths: [/a/api]
  - name: beta
    url: http://beta/
    routes:
      - name: beta-read
        methods: [GET, POST]
        paths: [/b/]
  - name: beta-write
    url: http://beta/write
    routes:
      - name: beta-delete
        methods: [DELETE]
        paths: [/b/]
  - name: gamma
    url: http://gamma:9000/
    routes:
      - name: gamma-host
        hosts: [api.example.com]
        paths: [/a]
      - name: gamma-preserve
        preserve_host: true
        paths: [/preserve/]
`

func routingUpstreams() map[string]http.Handler {
	return map[string]http.Handler{"rootsvc": echo("rootsvc"), "alpha": echo("alpha"), "beta": echo("beta"), "gamma": echo("gamma")}
}

func TestRouting(t *testing.T) {
	srv := serve(t, routingYML, Options{Upstreams: routingUpstreams()})
	tests := []struct {
		name           string
		method, path   string
		host           string
		upstream, want string // want is the upstream's escaped path
		wantQuery      string
		wantHost       string
	}{
		{name: "strip path", method: "GET", path: "/a/x?q=1&q=2", upstream: "alpha", want: "/base/x", wantQuery: "q=1&q=2", wantHost: "alpha:8000"},
		{name: "exact prefix", method: "GET", path: "/a", upstream: "alpha", want: "/base"},
		{name: "prefix with slash", method: "GET", path: "/a/", upstream: "alpha", want: "/base/"},
		{name: "plain string prefix as Kong", method: "GET", path: "/ab", upstream: "alpha", want: "/base/b"},
		{name: "longest prefix wins", method: "GET", path: "/a/api/items", upstream: "alpha", want: "/api/items"},
		{name: "strip_path false", method: "GET", path: "/keep/x", upstream: "alpha", want: "/base/keep/x"},
		{name: "method route", method: "GET", path: "/b/thing", upstream: "beta", want: "/thing", wantHost: "beta"},
		{name: "other method route", method: "DELETE", path: "/b/thing", upstream: "beta", want: "/write/thing"},
		{name: "no method match falls back", method: "PUT", path: "/b/thing", upstream: "rootsvc", want: "/b/thing"},
		{name: "host route beats path-only route", method: "GET", path: "/a/x", host: "api.example.com", upstream: "gamma", want: "/x", wantHost: "gamma:9000"},
		{name: "dot segments resolved before routing", method: "GET", path: "/a/%2e%2e/secret", upstream: "rootsvc", want: "/secret"},
		{name: "merged slashes", method: "GET", path: "//a//x", upstream: "alpha", want: "/base/x"},
		{name: "escapes kept", method: "GET", path: "/a/some%2Fthing%20x", upstream: "alpha", want: "/base/some%2Fthing%20x"},
		{name: "unreserved escapes decoded", method: "GET", path: "/%61/x", upstream: "alpha", want: "/base/x"},
		{name: "preserve_host", method: "GET", path: "/preserve/x", host: "client.example:8443", upstream: "gamma", want: "/x", wantHost: "client.example:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.host != "" {
				hdr = []string{"Host", tt.host}
			}
			r := call(t, srv, tt.method, tt.path, nil, hdr...)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			s := r.seen(t)
			assert.Equal(t, tt.upstream, s.Upstream)
			assert.Equal(t, tt.want, s.Path)
			assert.Equal(t, tt.method, s.Method)
			if tt.wantQuery != "" {
				assert.Equal(t, tt.wantQuery, s.Query)
			}
			if tt.wantHost != "" {
				assert.Equal(t, tt.wantHost, s.Host)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	srv := serve(t, routingYML, Options{Upstreams: routingUpstreams()})
	u, _ := url.Parse(srv.URL)
	r := get(t, srv, "/a/x", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example")
	require.Equal(t, http.StatusOK, r.status)
	s := r.seen(t)
	assert.Equal(t, "203.0.113.7, 127.0.0.1", s.Header.Get("X-Forwarded-For"), "the client hop is appended")
	assert.Equal(t, "127.0.0.1", s.Header.Get("X-Real-Ip"))
	assert.Equal(t, "http", s.Header.Get("X-Forwarded-Proto"), "untrusted clients cannot set the scheme")
	assert.Equal(t, "127.0.0.1", s.Header.Get("X-Forwarded-Host"))
	assert.Equal(t, u.Port(), s.Header.Get("X-Forwarded-Port"))
	assert.Equal(t, "/a/x", s.Header.Get("X-Forwarded-Path"))
	assert.Equal(t, "/a", s.Header.Get("X-Forwarded-Prefix"))
}

func TestNoRoute(t *testing.T) {
	srv := serve(t, `_format_version: "3.0"
services:
  - name: a
    host: a
    routes: [{name: a, paths: [/only/]}]
`, Options{Upstreams: map[string]http.Handler{"a": echo("a")}})
	r := get(t, srv, "/elsewhere")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "no Route matched with those values", r.json(t)["message"])
	assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	assert.NotEmpty(t, r.header.Get("X-Request-Id"))
}

// Kong's "v0" path joining, case by case from its router.
func TestUpstreamPathV0(t *testing.T) {
	tests := []struct {
		base, req, prefix string
		strip             bool
		want              string
	}{
		{"/s", "/fv0req", "/fv0", false, "/s/fv0req"},
		{"/s", "/fv0req", "/fv0", true, "/s/req"},
		{"/s", "/fv0/req", "/fv0", true, "/s/req"},
		{"/s", "/fv0/", "/fv0/", true, "/s/"},
		{"/s", "/fv0", "/fv0", true, "/s"},
		{"/s/", "/fv0req", "/fv0", true, "/s/req"},
		{"/s/", "/fv0/req", "/fv0", true, "/s/req"},
		{"/s/", "/fv0", "/fv0", true, "/s"},
		{"/s/", "/fv0/", "/fv0/", true, "/s/"},
		{"/s/", "/fv0/req", "/fv0", false, "/s/fv0/req"},
		{"/", "/rest/v1/", "/rest/v1/", true, "/"},
		{"/", "/rest/v1/todos", "/rest/v1/", true, "/todos"},
		{"/socket", "/realtime/v1/websocket", "/realtime/v1/", true, "/socket/websocket"},
		{"/api", "/realtime/v1/api/broadcast", "/realtime/v1/api", true, "/api/broadcast"},
		{"/verify", "/auth/v1/verify", "/auth/v1/verify", true, "/verify"},
		{"/s", "/", "/", false, "/s"},
	}
	for _, tt := range tests {
		got := upstreamPath(tt.base, tt.req, tt.prefix, tt.strip)
		assert.Equal(t, tt.want, got, "base %q request %q prefix %q strip %v", tt.base, tt.req, tt.prefix, tt.strip)
	}
}

const authYML = `_format_version: "2.1"
consumers:
  - username: anon
    keyauth_credentials:
      - key: $ANON
    acls:
      - group: anon
  - username: service_role
    custom_id: svc-1
    keyauth_credentials:
      - key: ${SERVICE}
acls:
  - consumer: service_role
    group: admin
services:
  - name: api
    url: http://api/
    routes: [{name: api, paths: [/api/]}]
    plugins:
      - name: key-auth
      - name: acl
        config: {allow: [anon, admin]}
  - name: hidden
    url: http://api/hidden
    routes: [{name: hidden, paths: [/hidden/]}]
    plugins:
      - name: key-auth
        config: {hide_credentials: true, key_names: [apikey, x-key]}
  - name: admin
    url: http://api/admin
    routes: [{name: admin, paths: [/admin/]}]
    plugins:
      - name: key-auth
      - name: acl
        config: {allow: [admin], hide_groups_header: true}
  - name: denied
    url: http://api/denied
    routes: [{name: denied, paths: [/denied/]}]
    plugins:
      - name: key-auth
      - name: acl
        config: {deny: [anon]}
  - name: acl-only
    url: http://api/acl-only
    routes: [{name: acl-only, paths: [/acl-only/]}]
    plugins:
      - name: acl
        config: {allow: [anon]}
  - name: open
    url: http://api/open
    routes: [{name: open, paths: [/open/]}]
`

func TestKeyAuth(t *testing.T) {
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": echo("api")}})

	t.Run("header key", func(t *testing.T) {
		r := get(t, srv, "/api/x", "apikey", testEnv["ANON"])
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Equal(t, testEnv["ANON"], s.Header.Get("apikey"), "hide_credentials false keeps the key")
		assert.Equal(t, "anon", s.Header.Get("X-Consumer-Username"))
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, s.Header.Get("X-Consumer-Id"))
		assert.NotEmpty(t, s.Header.Get("X-Credential-Identifier"))
		assert.Empty(t, s.Header.Get("X-Anonymous-Consumer"))
		assert.Equal(t, "anon", s.Header.Get("X-Consumer-Groups"), "acl passes the groups on unless hidden")
	})
	t.Run("query key", func(t *testing.T) {
		r := get(t, srv, "/api/x?select=*&apikey="+testEnv["SERVICE"]+"&id=eq.1")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Equal(t, "service_role", s.Header.Get("X-Consumer-Username"))
		assert.Equal(t, "svc-1", s.Header.Get("X-Consumer-Custom-Id"))
		assert.Equal(t, "select=*&apikey="+testEnv["SERVICE"]+"&id=eq.1", s.Query, "the query reaches the upstream byte for byte")
	})
	t.Run("missing key", func(t *testing.T) {
		r := get(t, srv, "/api/x")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "No API key found in request")
		assert.Equal(t, "Key", r.header.Get("WWW-Authenticate"), "Kong 3: no realm unless configured")
	})
	t.Run("invalid key", func(t *testing.T) {
		// Kong 3.x's answer (2.8 said "Invalid authentication credentials").
		r := get(t, srv, "/api/x", "apikey", "nope")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "Unauthorized")
	})
	t.Run("duplicate key", func(t *testing.T) {
		r := get(t, srv, "/api/x", "apikey", testEnv["ANON"], "apikey", testEnv["ANON"])
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "Duplicate API key found")
	})
	t.Run("empty header hides the query key", func(t *testing.T) {
		r := get(t, srv, "/api/x?apikey="+testEnv["ANON"], "apikey", "")
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assertKongError(t, r, "No API key found in request")
	})
	t.Run("hide_credentials strips header", func(t *testing.T) {
		r := get(t, srv, "/hidden/x", "apikey", testEnv["ANON"])
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Empty(t, s.Header.Values("apikey"))
		assert.Equal(t, "anon", s.Header.Get("X-Consumer-Username"))
	})
	t.Run("hide_credentials strips query", func(t *testing.T) {
		r := get(t, srv, "/hidden/x?a=1&apikey="+testEnv["ANON"]+"&b=two%20words")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "a=1&b=two%20words", r.seen(t).Query)
	})
	t.Run("second key name", func(t *testing.T) {
		r := get(t, srv, "/hidden/x", "X-Key", testEnv["SERVICE"])
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		s := r.seen(t)
		assert.Equal(t, "service_role", s.Header.Get("X-Consumer-Username"))
		assert.Empty(t, s.Header.Values("X-Key"))
	})
	t.Run("forged consumer headers are dropped", func(t *testing.T) {
		r := get(t, srv, "/open/x", "X-Consumer-Username", "service_role", "X-Consumer-Groups", "admin")
		require.Equal(t, http.StatusOK, r.status)
		s := r.seen(t)
		assert.Empty(t, s.Header.Values("X-Consumer-Username"))
		assert.Empty(t, s.Header.Values("X-Consumer-Groups"))
	})
}

func TestACL(t *testing.T) {
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": echo("api")}})
	tests := []struct {
		path, key string
		status    int
		message   string
		groups    string // X-Consumer-Groups the upstream sees
	}{
		{"/admin/x", testEnv["ANON"], http.StatusForbidden, "You cannot consume this service", ""},
		{"/admin/x", testEnv["SERVICE"], http.StatusOK, "", ""}, // hide_groups_header
		{"/denied/x", testEnv["ANON"], http.StatusForbidden, "You cannot consume this service", ""},
		{"/denied/x", testEnv["SERVICE"], http.StatusOK, "", "admin"},
		{"/acl-only/x", "", http.StatusUnauthorized, "Unauthorized", ""},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.key != "" {
			hdr = []string{"apikey", tt.key}
		}
		r := get(t, srv, tt.path, hdr...)
		require.Equal(t, tt.status, r.status, "%s with key %q: %s", tt.path, tt.key, r.body)
		if tt.message != "" {
			assert.Equal(t, tt.message, r.json(t)["message"])
		} else {
			assert.Equal(t, tt.groups, r.seen(t).Header.Get("X-Consumer-Groups"), tt.path)
		}
	}
}

const corsYML = `_format_version: "2.1"
consumers:
  - username: anon
    keyauth_credentials: [{key: $ANON}]
plugins:
  - name: cors
    config:
      origins: ['.*']
      exposed_headers: [Content-Range, X-Total-Count]
      max_age: 3600
services:
  - name: api
    url: http://api/
    routes: [{name: api, paths: [/api/]}]
    plugins:
      - name: key-auth
  - name: star
    url: http://api/star
    routes: [{name: star, paths: [/star/]}]
    plugins:
      - name: cors
  - name: listed
    url: http://api/listed
    routes:
      - name: listed
        paths: [/listed/]
        plugins:
          - name: cors
            config:
              origins: [https://a.example.com, "https://b.example.com:8443"]
              methods: [GET, POST]
              headers: [apikey, authorization]
  - name: single
    url: http://api/single
    routes: [{name: single, paths: [/single/]}]
    plugins:
      - name: cors
        config: {origins: [https://only.example.com]}
  - name: creds
    url: http://api/creds
    routes: [{name: creds, paths: [/creds/]}]
    plugins:
      - name: cors
        config: {credentials: true}
`

func TestCORS(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://upstream-says.example")
		echo("api").ServeHTTP(w, r)
	})
	srv := serve(t, corsYML, Options{Upstreams: map[string]http.Handler{"api": upstream}})
	const origin = "http://localhost:3000"

	t.Run("preflight answered without a key", func(t *testing.T) {
		r := call(t, srv, http.MethodOptions, "/api/todos", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "apikey,authorization,content-type")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.body, "the upstream was not called")
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "Origin", r.header.Get("Vary"))
		assert.Equal(t, "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT", r.header.Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "apikey,authorization,content-type", r.header.Get("Access-Control-Allow-Headers"))
		assert.Equal(t, "3600", r.header.Get("Access-Control-Max-Age"))
		assert.Empty(t, r.header.Get("Access-Control-Expose-Headers"), "preflights do not expose headers")
	})
	t.Run("OPTIONS without request method is not a preflight", func(t *testing.T) {
		r := call(t, srv, http.MethodOptions, "/api/todos", nil, "Origin", origin)
		assert.Equal(t, http.StatusUnauthorized, r.status)
	})
	t.Run("actual request", func(t *testing.T) {
		r := get(t, srv, "/api/todos", "Origin", origin, "apikey", testEnv["ANON"])
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"), "the plugin overrides the upstream's answer")
		assert.Equal(t, "Content-Range,X-Total-Count", r.header.Get("Access-Control-Expose-Headers"))
		assert.Contains(t, r.header.Values("Vary"), "Origin")
		assert.Empty(t, r.header.Get("Access-Control-Allow-Credentials"))
	})
	t.Run("gateway errors carry CORS headers", func(t *testing.T) {
		r := get(t, srv, "/api/todos", "Origin", origin)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "Content-Range,X-Total-Count", r.header.Get("Access-Control-Expose-Headers"))
	})
	t.Run("no origin, no allow-origin", func(t *testing.T) {
		r := get(t, srv, "/api/todos", "apikey", testEnv["ANON"])
		assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("defaults answer star", func(t *testing.T) {
		r := get(t, srv, "/star/x", "Origin", origin)
		assert.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"))
		r = get(t, srv, "/star/x")
		assert.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"), "allow_origin_absent")
	})
	t.Run("route plugin overrides global", func(t *testing.T) {
		r := call(t, srv, http.MethodOptions, "/listed/x", nil, "Origin", "https://b.example.com:8443", "Access-Control-Request-Method", "GET")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "https://b.example.com:8443", r.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "GET,POST", r.header.Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "apikey,authorization", r.header.Get("Access-Control-Allow-Headers"))
		assert.Empty(t, r.header.Get("Access-Control-Max-Age"))
		r = get(t, srv, "/listed/x", "Origin", "https://a.example.com:443")
		assert.Equal(t, "https://a.example.com", r.header.Get("Access-Control-Allow-Origin"), "origins compare normalised")
		r = get(t, srv, "/listed/x", "Origin", "https://evil.example.com")
		assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"), "an unlisted origin gets none, not the upstream's")
	})
	t.Run("single plain origin is always sent", func(t *testing.T) {
		r := get(t, srv, "/single/x", "Origin", "https://other.example.com")
		assert.Equal(t, "https://only.example.com", r.header.Get("Access-Control-Allow-Origin"))
	})
	t.Run("credentials reflect the origin", func(t *testing.T) {
		r := get(t, srv, "/creds/x", "Origin", origin)
		assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "true", r.header.Get("Access-Control-Allow-Credentials"))
	})
}

const basicYML = `_format_version: "2.1"
_transform: %s
consumers:
  - username: DASHBOARD
basicauth_credentials:
  - consumer: DASHBOARD
    username: $DASH_USER
    password: '%s'
services:
  - name: studio
    url: http://studio:3000/
    routes: [{name: studio, paths: [/]}]
    plugins:
      - name: basic-auth
        config: {hide_credentials: true}
`

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestBasicAuth(t *testing.T) {
	yml := strings.Replace(strings.Replace(basicYML, "%s", "true", 1), "%s", "$DASH_PASS", 1)
	srv := serve(t, yml, Options{Upstreams: map[string]http.Handler{"studio": echo("studio")}})

	r := get(t, srv, "/project/default")
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assertKongError(t, r, "Unauthorized")
	assert.Equal(t, `Basic realm="service"`, r.header.Get("WWW-Authenticate"))

	for _, bad := range []string{basic(testEnv["DASH_USER"], "wrong"), basic("nobody", testEnv["DASH_PASS"]), "Basic !!!", "Bearer x"} {
		r = get(t, srv, "/project/default", "Authorization", bad)
		assert.Equal(t, http.StatusUnauthorized, r.status, bad)
		assertKongError(t, r, "Unauthorized")
		assert.Equal(t, `Basic realm="service"`, r.header.Get("WWW-Authenticate"))
	}

	r = get(t, srv, "/project/default", "Authorization", basic(testEnv["DASH_USER"], testEnv["DASH_PASS"]))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s := r.seen(t)
	assert.Equal(t, "/project/default", s.Path)
	assert.Empty(t, s.Header.Values("Authorization"), "hide_credentials")
	assert.Equal(t, "DASHBOARD", s.Header.Get("X-Consumer-Username"))
	assert.Equal(t, testEnv["DASH_USER"], s.Header.Get("X-Credential-Username"))

	r = get(t, srv, "/", "Proxy-Authorization", basic(testEnv["DASH_USER"], testEnv["DASH_PASS"]))
	assert.Equal(t, http.StatusOK, r.status, "Proxy-Authorization is read first")
}

// With _transform: false Kong stores basic-auth passwords as
// sha1(password .. consumer id); the gateway checks them the same way.
func TestBasicAuthHashedPasswords(t *testing.T) {
	consumerID := stableUUID("consumer", "DASHBOARD")
	digest := sha1Hex(testEnv["DASH_PASS"] + consumerID)
	yml := strings.Replace(strings.Replace(basicYML, "%s", "false", 1), "%s", digest, 1)
	srv := serve(t, yml, Options{Upstreams: map[string]http.Handler{"studio": echo("studio")}})
	assert.Equal(t, http.StatusOK, get(t, srv, "/", "Authorization", basic(testEnv["DASH_USER"], testEnv["DASH_PASS"])).status)
	assert.Equal(t, http.StatusUnauthorized, get(t, srv, "/", "Authorization", basic(testEnv["DASH_USER"], digest)).status)
}

const transformerYML = `_format_version: "3.0"
services:
  - name: t
    url: http://t/
    routes:
      - name: t
        paths: [/t/]
        plugins:
          - name: request-transformer
            config:
              remove:
                headers: [x-remove]
                querystring: [drop]
              rename:
                headers: ["x-old:x-new"]
                querystring: ["old:new"]
              replace:
                headers: ["x-rep: replaced", "x-rep-absent: nope", "host: upstream.example"]
                querystring: ["rq:$(query_params.rq:upper())", "absent:nope"]
              add:
                headers:
                  - "x-add: added"
                  - "x-present: not-used"
                  - "x-tmpl: $(headers.x_src or 'none')/$(#(headers['X-SRC'] or ''))/$(headers.x_src:sub(1, 3))"
                  - "x-seen-old: $(headers.x_old or 'gone')"
                querystring: ["aq:1", "keep:no"]
              append:
                headers: ["x-multi: two"]
                querystring: ["app:v"]
      - name: uri
        paths: [/uri/]
        plugins:
          - name: request-transformer
            config:
              replace:
                uri: "/fixed/$(query_params.id or 'none')"
      - name: broken
        paths: [/broken/]
        plugins:
          - name: request-transformer
            config:
              add:
                headers: ["x-bad: $(headers.missing .. 'x')"]
`

func TestRequestTransformer(t *testing.T) {
	srv := serve(t, transformerYML, Options{Upstreams: map[string]http.Handler{"t": echo("t")}})
	r := get(t, srv, "/t/x?drop=1&old=o&rq=abc&keep=yes&z=%20sp",
		"X-Remove", "gone", "X-Old", "moved", "X-Rep", "original", "X-Present", "kept",
		"X-Src", "source-value", "X-Multi", "one")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s := r.seen(t)
	assert.Empty(t, s.Header.Values("X-Remove"))
	assert.Empty(t, s.Header.Values("X-Old"))
	assert.Equal(t, "moved", s.Header.Get("X-New"))
	assert.Equal(t, "replaced", s.Header.Get("X-Rep"))
	assert.Empty(t, s.Header.Values("X-Rep-Absent"), "replace only touches present headers")
	assert.Equal(t, "upstream.example", s.Host)
	assert.Equal(t, "added", s.Header.Get("X-Add"))
	assert.Equal(t, "kept", s.Header.Get("X-Present"), "add never overwrites")
	assert.Equal(t, "source-value/12/sou", s.Header.Get("X-Tmpl"))
	assert.Equal(t, "moved", s.Header.Get("X-Seen-Old"), "templates see the request as it was before the plugin changed it")
	assert.Equal(t, []string{"one", "two"}, s.Header.Values("X-Multi"))
	q, err := url.ParseQuery(s.Query)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"new": {"o"}, "rq": {"ABC"}, "keep": {"yes"}, "z": {" sp"}, "aq": {"1"}, "app": {"v"}}, q)
	assert.True(t, strings.HasPrefix(s.Query, "new=o&rq=ABC&keep=yes&z=%20sp&"), "untouched arguments keep their order and bytes: %s", s.Query)

	r = get(t, srv, "/uri/anything?id=42")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "/fixed/42", r.seen(t).Path)

	r = get(t, srv, "/broken/x")
	assert.Equal(t, http.StatusInternalServerError, r.status)
	assertKongError(t, r, "An unexpected error occurred")
}

func TestRequestTermination(t *testing.T) {
	srv := serve(t, `_format_version: "2.1"
services:
  - name: s
    url: http://s/
    routes:
      - name: forbidden
        paths: [/forbidden]
        plugins: [{name: request-termination, config: {status_code: 403, message: "Access is forbidden."}}]
      - name: default
        paths: [/default]
        plugins: [{name: request-termination}]
      - name: body
        paths: [/body]
        plugins: [{name: request-termination, config: {status_code: 200, body: "<h1>maintenance</h1>", content_type: "text/html"}}]
      - name: bare
        paths: [/bare]
        plugins: [{name: request-termination, config: {status_code: 418}}]
`, Options{Upstreams: map[string]http.Handler{"s": echo("s")}})
	r := get(t, srv, "/forbidden/x")
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.JSONEq(t, `{"message":"Access is forbidden."}`, string(r.body), "kong.response.exit: no request_id")
	r = get(t, srv, "/default")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.JSONEq(t, `{"message":"Service unavailable"}`, string(r.body))
	r = get(t, srv, "/body")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "<h1>maintenance</h1>", string(r.body))
	assert.Equal(t, "text/html", r.header.Get("Content-Type"))
	r = get(t, srv, "/bare")
	assert.Equal(t, http.StatusTeapot, r.status)
	assert.Empty(t, r.body)
}

// Plugins on a route, its service and globally merge as in Kong: per
// plugin name the most specific instance applies; a disabled one is ignored.
func TestPluginPrecedence(t *testing.T) {
	srv := serve(t, `_format_version: "3.0"
plugins:
  - name: request-transformer
    config: {add: {headers: ["x-level: global"]}}
  - name: request-transformer
    route: r4
    service: s1
    config: {add: {headers: ["x-level: route+service"]}}
services:
  - name: s1
    url: http://up/
    plugins:
      - name: request-transformer
        config: {add: {headers: ["x-level: service"]}}
    routes:
      - name: r1
        paths: [/r1]
        plugins:
          - name: request-transformer
            config: {add: {headers: ["x-level: route"]}}
      - name: r2
        paths: [/r2]
        plugins:
          - name: request-transformer
            enabled: false
            config: {add: {headers: ["x-level: disabled"]}}
      - name: r4
        paths: [/r4]
  - name: s2
    url: http://up/
    routes:
      - name: r3
        paths: [/r3]
`, Options{Upstreams: map[string]http.Handler{"up": echo("up")}})
	for path, want := range map[string]string{"/r1": "route", "/r2": "service", "/r3": "global", "/r4": "route+service"} {
		r := get(t, srv, path)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, want, r.seen(t).Header.Get("X-Level"), path)
	}
}

func TestAbsentService(t *testing.T) {
	srv := serve(t, `_format_version: "2.1"
services:
  - name: dashboard
    url: http://studio:3000/
    routes: [{name: dashboard, paths: [/]}]
`, Options{})
	r := get(t, srv, "/project")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	msg, _ := r.json(t)["message"].(string)
	assert.Contains(t, msg, `service "dashboard"`)
	assert.Contains(t, msg, "studio:3000")
	assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	r = call(t, srv, http.MethodHead, "/project", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.body)

	// A service known only by id is named by it.
	srv = serve(t, `_format_version: "3.0"
services:
  - id: 5f1c8a52-0c4e-4d8b-9a57-3c1f0b2a7e11
    host: meta
    port: 8080
    routes: [{paths: [/pg/]}]
`, Options{})
	r = get(t, srv, "/pg/tables")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Contains(t, r.json(t)["message"], `service "5f1c8a52-0c4e-4d8b-9a57-3c1f0b2a7e11" (meta:8080)`)
}

func TestURLUpstream(t *testing.T) {
	backend := serveHandler(t, echo("backend"))
	bu, _ := url.Parse(backend.URL + "/prefix")
	dead := httptest.NewServer(http.NotFoundHandler())
	du, _ := url.Parse(dead.URL)
	dead.Close()
	srv := serve(t, routingYML, Options{
		Upstreams: map[string]http.Handler{"rootsvc": echo("rootsvc")},
		URLs:      map[string]*url.URL{"alpha": bu, "beta": du, "rootsvc": du},
	})

	r := call(t, srv, http.MethodPost, "/a/x%2Fy?q=1", strings.NewReader(`{"a":1}`), "Content-Type", "application/json", "X-Forwarded-For", "198.51.100.1")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s := r.seen(t)
	assert.Equal(t, "backend", s.Upstream)
	assert.Equal(t, "/prefix/base/x%2Fy", s.Path)
	assert.Equal(t, "q=1", s.Query)
	assert.Equal(t, `{"a":1}`, s.Body)
	assert.Equal(t, "alpha:8000", s.Host, "Kong sends the service host")
	assert.Equal(t, "198.51.100.1, 127.0.0.1", s.Header.Get("X-Forwarded-For"))
	assert.Equal(t, "http", s.Header.Get("X-Forwarded-Proto"))
	assert.Equal(t, "0-0/1", r.header.Get("Content-Range"), "upstream headers come back")

	r = get(t, srv, "/b/x")
	assert.Equal(t, http.StatusBadGateway, r.status)
	assertKongError(t, r, "An invalid response was received from the upstream server")

	r = get(t, srv, "/elsewhere")
	assert.Equal(t, "rootsvc", r.seen(t).Upstream, "an in-process upstream wins over a URL")
}

func TestNewRejectsUnknownUpstream(t *testing.T) {
	cfg, err := Parse([]byte(routingYML), "test.yml", nil)
	require.NoError(t, err)
	_, err = New(cfg, Options{Upstreams: map[string]http.Handler{"realtime": echo("x")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `upstream host "realtime" is not used by any service in test.yml`)
	_, err = New(cfg, Options{URLs: map[string]*url.URL{"alpha": {Path: "/relative"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "absolute http(s) URL")
}

func TestWebSocket(t *testing.T) {
	const yml = `_format_version: "2.1"
consumers:
  - username: anon
    keyauth_credentials: [{key: $ANON}]
    acls: [{group: anon}]
services:
  - name: realtime-v1-ws
    url: http://realtime-dev.supabase-realtime:4000/socket
    protocol: ws
    routes: [{name: realtime-v1-ws, paths: [/realtime/v1/]}]
    plugins:
      - name: key-auth
      - name: request-transformer
        config: {add: {headers: ['x-api-key: $(query_params.apikey or headers.apikey)']}}
      - name: acl
        config: {allow: [anon]}
`
	backend := serveHandler(t, echo("backend"))
	bu, _ := url.Parse(backend.URL)
	for name, opts := range map[string]Options{
		"in-process": {Upstreams: map[string]http.Handler{"realtime-dev.supabase-realtime": echo("in-process")}},
		"url":        {URLs: map[string]*url.URL{"realtime-dev.supabase-realtime": bu}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, yml, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			path := "/realtime/v1/websocket?apikey=" + testEnv["ANON"] + "&vsn=1.0.0"
			c, resp, s := dialEcho(ctx, t, srv, path, nil)
			defer c.CloseNow()
			assert.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			assert.Equal(t, "/socket/websocket", s.Path)
			assert.Equal(t, "apikey="+testEnv["ANON"]+"&vsn=1.0.0", s.Query)
			assert.Equal(t, testEnv["ANON"], s.Header.Get("X-Api-Key"))
			assert.Equal(t, "anon", s.Header.Get("X-Consumer-Username"))

			for _, msg := range []string{`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}`, "second"} {
				require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
				_, got, err := c.Read(ctx)
				require.NoError(t, err)
				assert.Equal(t, "echo:"+msg, string(got))
			}
			require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))

			_, resp, err := websocket.Dial(ctx, wsURL(srv, strings.Replace(path, "apikey=", "nokey=", 1)), nil)
			require.Error(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}

func TestBodyLimit(t *testing.T) {
	backend := serveHandler(t, echo("backend"))
	bu, _ := url.Parse(backend.URL)
	srv := serve(t, routingYML, Options{
		Upstreams:    map[string]http.Handler{"alpha": echo("alpha")},
		URLs:         map[string]*url.URL{"beta": bu},
		MaxBodyBytes: 1024,
	})
	big := bytes.Repeat([]byte("x"), 4096)
	for _, path := range []string{"/a/x", "/b/x"} {
		// Known length: refused before the upstream is involved.
		r := call(t, srv, http.MethodPost, path, bytes.NewReader(big))
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, path)
		assertKongError(t, r, "Payload too large")
		// Unknown length (chunked): cut off while streaming.
		r = call(t, srv, http.MethodPost, path, io.MultiReader(bytes.NewReader(big)))
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, "chunked %s: %s", path, r.body)
		assertKongError(t, r, "Payload too large")
		// Within the limit, chunked or not.
		r = call(t, srv, http.MethodPost, path, io.MultiReader(bytes.NewReader(big[:1024])))
		require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
		assert.Len(t, r.seen(t).Body, 1024)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": echo("api")}})

	r := get(t, srv, "/open/x")
	id := r.header.Get("X-Request-Id")
	assert.Regexp(t, uuidRE, id)
	assert.Equal(t, id, r.seen(t).Header.Get("X-Request-Id"), "the upstream sees the same id")

	r = get(t, srv, "/open/x", "X-Request-Id", "client-trace-42")
	assert.Equal(t, "client-trace-42", r.header.Get("X-Request-Id"))
	assert.Equal(t, "client-trace-42", r.seen(t).Header.Get("X-Request-Id"))

	for _, insane := range []string{"has spaces", strings.Repeat("a", 200), "quote\"d", "<script>"} {
		r = get(t, srv, "/open/x", "X-Request-Id", insane)
		assert.Regexp(t, uuidRE, r.header.Get("X-Request-Id"), insane)
	}
	// On every response the gateway produces itself, too.
	for _, path := range []string{"/api/x", "/admin/x", "/nowhere"} {
		r = get(t, srv, path)
		assert.Regexp(t, uuidRE, r.header.Get("X-Request-Id"), path)
	}
}

func TestAccessLog(t *testing.T) {
	var logs logtest.Buffer
	srv := serve(t, authYML, Options{Upstreams: map[string]http.Handler{"api": echo("api")}, Logger: newLogger(&logs)})
	get(t, srv, "/api/x?apikey="+testEnv["ANON"]+"&select=*", "X-Request-Id", "log-test-1")
	get(t, srv, "/admin/y", "apikey", testEnv["SERVICE"])
	get(t, srv, "/api/z", "apikey", "wrong-key")

	out := logs.String()
	for _, secret := range []string{testEnv["ANON"], testEnv["SERVICE"], "wrong-key", "select="} {
		assert.NotContains(t, out, secret, "the access log never holds keys or query strings")
	}
	recs := logs.Records()
	require.Len(t, recs, 3)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 3, "every line is a JSON record: %s", out)
	assert.Equal(t, "request", recs[0]["msg"])
	assert.Equal(t, "GET", recs[0]["method"])
	assert.Equal(t, "/api/x", recs[0]["path"])
	assert.Equal(t, float64(200), recs[0]["status"])
	assert.Equal(t, "log-test-1", recs[0]["request_id"])
	assert.Equal(t, "anon", recs[0]["consumer"])
	assert.Equal(t, "api", recs[0]["route"])
	assert.Contains(t, recs[0], "duration")
	assert.Equal(t, "service_role", recs[1]["consumer"])
	assert.Equal(t, float64(401), recs[2]["status"])
	assert.NotContains(t, recs[2], "consumer")
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
