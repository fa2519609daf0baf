package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResponseType(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		want   string
	}{
		{nil, mimeJSON},
		{[]string{"*/*"}, mimeJSON},
		{[]string{"application/json"}, mimeJSON},
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, mimeHTML}, // a browser
		{[]string{"application/xml"}, mimeXML},
		{[]string{"text/plain"}, mimePlain},
		{[]string{"text/*"}, mimePlain},
		{[]string{"application/*"}, mimeJSON},
		{[]string{"image/png"}, mimeJSON},
		{[]string{"text/plain;q=0.5, text/html"}, mimeHTML},
		{[]string{"text/plain;q=0.5", "application/xml;q=0.7"}, mimeXML}, // several header lines
		{[]string{"text/html;q=0.9;level=1, application/xml;q=0.9"}, mimeHTML},
		{[]string{"garbage, text/plain"}, mimePlain},
		{[]string{"text/html;q=0"}, mimeJSON}, // q=0: not acceptable, the default stays
	} {
		if got := responseType(tc.accept); got != tc.want {
			t.Errorf("responseType(%q) = %q, want %q", tc.accept, got, tc.want)
		}
	}
}

func TestErrorPage(t *testing.T) {
	ct, body := errorPage(nil, `service "meta" is absent`, "req-1")
	assert.Equal(t, mimeJSON, ct)
	assert.Equal(t, "{\n  \"message\":\"service \\\"meta\\\" is absent\",\n  \"request_id\":\"req-1\"\n}", string(body))
	ct, body = errorPage([]string{"text/plain"}, "No API key found in request", "req-2")
	assert.Equal(t, mimePlain, ct)
	assert.Equal(t, "No API key found in request\nrequest_id: req-2\n", string(body))
	ct, body = errorPage([]string{"text/html"}, "a <b>", "req-3")
	assert.Equal(t, mimeHTML, ct)
	assert.Contains(t, string(body), "<p>a &lt;b&gt;.</p>\n    <p>request_id: req-3</p>")
	ct, body = errorPage([]string{"application/xml"}, "Unauthorized", "req-4")
	assert.Equal(t, mimeXML, ct)
	assert.Contains(t, string(body), "<message>Unauthorized</message>\n  <requestid>req-4</requestid>")
}

// TestErrorFormats: the gateway's own errors follow the Accept header and
// carry the response's request id; request-termination's message stays
// plain JSON, as kong.response.exit writes it.
func TestErrorFormats(t *testing.T) {
	srv := serve(t, `_format_version: "3.0"
consumers:
  - username: anon
    keyauth_credentials: [{key: $ANON}]
services:
  - name: s
    url: http://s:80
    routes:
      - name: keyed
        paths: [/keyed]
        plugins: [{name: key-auth}]
      - name: closed
        paths: [/closed]
        plugins: [{name: request-termination, config: {status_code: 403, message: "Access is forbidden."}}]
`, Options{Upstreams: map[string]http.Handler{"s": echo("s")}})

	r := get(t, srv, "/keyed/x", "Accept", "text/html", "X-Request-Id", "trace-42")
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, mimeHTML, r.header.Get("Content-Type"))
	assert.Contains(t, string(r.body), "<p>No API key found in request.</p>")
	assert.Contains(t, string(r.body), "request_id: trace-42")
	assert.Equal(t, "trace-42", r.header.Get("X-Request-Id"))

	r = get(t, srv, "/keyed/x", "Accept", "text/plain")
	assert.Equal(t, mimePlain, r.header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(string(r.body), "No API key found in request\nrequest_id: "), "%s", r.body)

	r = get(t, srv, "/keyed/x", "apikey", "unknown")
	require.Equal(t, http.StatusUnauthorized, r.status)
	assertKongError(t, r, "Unauthorized")
	assert.Equal(t, "Key", r.header.Get("WWW-Authenticate"))

	r = get(t, srv, "/nowhere", "Accept", "application/json")
	require.Equal(t, http.StatusNotFound, r.status)
	assertKongError(t, r, "no Route matched with those values")

	r = get(t, srv, "/closed/x", "Accept", "text/html")
	require.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, mimeJSON, r.header.Get("Content-Type"))
	assert.JSONEq(t, `{"message":"Access is forbidden."}`, string(r.body))

	r = call(t, srv, http.MethodHead, "/keyed/x", nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Empty(t, r.body)
}
