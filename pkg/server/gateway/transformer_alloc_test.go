package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// keepAuthYML has kong.yml's REST shape: replace Authorization with a
// template whose value, when the client sends its own bearer token, is
// that same header.
const keepAuthYML = `_format_version: "3.0"
services:
  - name: t
    url: http://t/
    routes:
      - name: t
        paths: [/t/]
        plugins:
          - name: request-transformer
            config:
              replace:
                headers: ["Authorization: $((headers.authorization ~= nil and headers.authorization) or 'Bearer ' .. headers.apikey)"]
              add:
                headers: ["X-Seen: $(headers.authorization)"]
`

// TestReplaceKeepingValue: a replace that renders the value the header
// already holds leaves the request as it was and costs no copy of the
// request's headers and query: it allocates less than the same expression
// rendering another value.
func TestReplaceKeepingValue(t *testing.T) {
	var got http.Header
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header })
	build := func(yml string) *Gateway {
		return newGateway(t, yml, Options{Upstreams: map[string]http.Handler{"t": up}})
	}
	req := httptest.NewRequest(http.MethodGet, "/t/x?a=1", nil)
	req.Header.Set("Authorization", "Bearer user-token")
	req.Header.Set("Apikey", "anon")
	w := httptest.NewRecorder()
	keep := build(keepAuthYML)
	keep.ServeHTTP(w, req)
	require.Equal(t, []string{"Bearer user-token"}, got["Authorization"])
	require.Equal(t, []string{"Bearer user-token"}, got["X-Seen"])
	require.Equal(t, []string{"Bearer user-token"}, req.Header["Authorization"], "the client's request is untouched")

	// The same expression picking the apikey instead: a real change.
	change := build(strings.Replace(keepAuthYML, "nil and headers.authorization)", "nil and headers.apikey)", 1))
	change.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, []string{"anon"}, got["Authorization"])
	require.Equal(t, []string{"Bearer user-token"}, got["X-Seen"], "templates see the request as it came")
	allocs := func(g *Gateway) float64 {
		return testing.AllocsPerRun(200, func() { g.ServeHTTP(httptest.NewRecorder(), req) })
	}
	a, c := allocs(keep), allocs(change)
	t.Logf("allocations per request: replace keeping the value %.0f, replace changing it %.0f", a, c)
	require.Less(t, a, c, "a replace that changes nothing copies nothing")
}
