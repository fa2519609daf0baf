package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// benchUpstream is a tiny REST-like answer, so the figures show the
// gateway's cost rather than the upstream's.
var benchUpstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Range", "0-0/*")
	_, _ = io.WriteString(w, `[{"id":1,"title":"buy milk","done":false}]`)
})

func benchGateway(b *testing.B) (*Gateway, tenantKeys) {
	b.Helper()
	k := generatedKeys(b)
	return repoGateway(b, k.env, Options{Upstreams: map[string]http.Handler{"rest": benchUpstream}}), k
}

// BenchmarkGatewayOverhead compares a GET through the repository's kong.yml
// (cors, key-auth, acl, request-transformer template, in-process upstream)
// with the same request served by the upstream directly, measured side by
// side in one run. overhead-ratio = gateway time / direct time per request.
func BenchmarkGatewayOverhead(b *testing.B) {
	g, k := benchGateway(b)

	// In memory: the gateway's own CPU cost per request, no sockets.
	b.Run("handler", func(b *testing.B) {
		gwReq := httptest.NewRequest(http.MethodGet, "/rest/v1/todos?select=*&id=eq.1", nil)
		gwReq.Header.Set("apikey", k.anon)
		directReq := httptest.NewRequest(http.MethodGet, "/todos?select=*&id=eq.1", nil)
		directReq.Header.Set("Authorization", "Bearer "+k.anon)
		benchHandler(b, g, gwReq, directReq)
	})

	// In memory, as a signed-in user sends it (apikey and the user's own
	// token, so the Authorization template is not rendered), from a
	// client address with a port as on a real connection.
	b.Run("handler-user-token", func(b *testing.B) {
		gwReq := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:54321/rest/v1/todos?select=*&id=eq.1", nil)
		gwReq.Header.Set("apikey", k.anon)
		gwReq.Header.Set("Authorization", "Bearer "+k.anon)
		gwReq.Header.Set("Accept", "application/json")
		gwReq.Header.Set("X-Client-Info", "supabase-js-node/2.109.0")
		directReq := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:54321/todos?select=*&id=eq.1", nil)
		directReq.Header = gwReq.Header.Clone()
		benchHandler(b, g, gwReq, directReq)
	})

	// Over real sockets with keep-alive, one client, requests interleaved so
	// machine noise hits both sides alike.
	b.Run("socket", func(b *testing.B) {
		direct, gw, client := benchServers(b, g)
		var dt, gt time.Duration
		for b.Loop() {
			t0 := time.Now()
			benchGet(b, client, direct.URL+"/todos?select=*&id=eq.1", "Authorization", "Bearer "+k.anon)
			t1 := time.Now()
			benchGet(b, client, gw.URL+"/rest/v1/todos?select=*&id=eq.1", "apikey", k.anon)
			gt += time.Since(t1)
			dt += t1.Sub(t0)
		}
		report(b, dt, gt)
	})

	// Throughput with 16 concurrent clients: direct phase, then gateway phase.
	b.Run("socket-16-clients", func(b *testing.B) {
		direct, gw, client := benchServers(b, g)
		phase := func(n int, url, hk, hv string) time.Duration {
			const clients = 16
			var wg sync.WaitGroup
			start := time.Now()
			for c := range clients {
				count := n / clients
				if c < n%clients {
					count++
				}
				wg.Go(func() {
					for range count {
						benchGet(b, client, url, hk, hv)
					}
				})
			}
			wg.Wait()
			return time.Since(start)
		}
		b.ResetTimer()
		dt := phase(b.N, direct.URL+"/todos?select=*&id=eq.1", "Authorization", "Bearer "+k.anon)
		gt := phase(b.N, gw.URL+"/rest/v1/todos?select=*&id=eq.1", "apikey", k.anon)
		b.ReportMetric(float64(b.N)/dt.Seconds(), "direct-req/s")
		b.ReportMetric(float64(b.N)/gt.Seconds(), "gateway-req/s")
		b.ReportMetric(dt.Seconds()/gt.Seconds(), "throughput-ratio")
	})
}

// benchServers serves the upstream and the gateway on loopback sockets,
// with one keep-alive client for both; all closed when b ends.
func benchServers(b *testing.B, g http.Handler) (direct, gw *httptest.Server, client *http.Client) {
	direct = httptest.NewServer(benchUpstream)
	b.Cleanup(direct.Close)
	gw = httptest.NewServer(g)
	b.Cleanup(gw.Close)
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	return direct, gw, client
}

// benchHandler times gwReq through the gateway's handler against directReq
// straight to the upstream, interleaved in memory (no sockets): the
// gateway's own CPU cost per request.
func benchHandler(b *testing.B, g http.Handler, gwReq, directReq *http.Request) {
	b.ReportAllocs()
	var direct, gateway time.Duration
	for b.Loop() {
		t0 := time.Now()
		rec := httptest.NewRecorder()
		benchUpstream.ServeHTTP(rec, directReq)
		t1 := time.Now()
		rec = httptest.NewRecorder()
		g.ServeHTTP(rec, gwReq)
		gateway += time.Since(t1)
		direct += t1.Sub(t0)
		if rec.Code != http.StatusOK {
			b.Fatalf("gateway answered %d: %s", rec.Code, rec.Body)
		}
	}
	report(b, direct, gateway)
}

func report(b *testing.B, direct, gateway time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(direct.Nanoseconds())/n, "direct-ns/req")
	b.ReportMetric(float64(gateway.Nanoseconds())/n, "gateway-ns/req")
	b.ReportMetric(float64(gateway)/float64(direct), "overhead-ratio")
}

func benchGet(b *testing.B, c *http.Client, url, hk, hv string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Error(err)
		return
	}
	req.Header.Set(hk, hv)
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("GET %s: %d", url, resp.StatusCode)
	}
}
