package embedded_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
)

// waitHealthy polls the auth health endpoint through the gateway.
func waitHealthy(b *testing.B, url, anon string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url+"/auth/v1/health", nil)
		req.Header.Set("apikey", anon)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("gateway did not answer health within a minute")
}

// bareColdStart is the irreducible part of a cold start: initdb and a
// PostgreSQL start, then a stop — the baseline sfp's cold start is compared to.
func bareColdStart(b *testing.B, dir string) time.Duration {
	b.Helper()
	port := mustFreePort(b)
	c, err := postgres.New(context.Background(), postgres.Config{DataDir: filepath.Join(dir, "data"), Port: port, SuperPassword: "x"})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := c.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	c.Stop(context.Background())
	return d
}

func mustFreePort(b *testing.B) int {
	b.Helper()
	port, err := pgtest.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	return port
}

// BenchmarkColdStart: `sfp server init` + `sfp server start --detach` on a
// new tenant until the gateway answers health, against the bare PostgreSQL
// initdb + start measured in the same run.
func BenchmarkColdStart(b *testing.B) {
	sfptest.Binary(b) // build outside the timed part
	var sfpTotal, bareTotal time.Duration
	for i := 0; i < b.N; i++ {
		base := sfptest.BaseDir(b)
		name := "cold" + strconv.Itoa(i)
		start := time.Now()
		sfptest.MustRun(b, base, nil, "server", "init", "-t", name)
		r := sfptest.MustRun(b, base, nil, "server", "start", "-t", name, "-d", "--json")
		sfpTotal += time.Since(start)
		var info runtime.Info
		json.Unmarshal([]byte(r.Stdout), &info)
		// Reading the key runs sfp once more: the benchmark's own work,
		// not the start's, so it is left out of the time.
		anon := anonKeyB(b, base, name)
		start = time.Now()
		waitHealthy(b, info.URL, anon)
		sfpTotal += time.Since(start)
		sfptest.MustRun(b, base, nil, "server", "stop", "-t", name)
		bareTotal += bareColdStart(b, sfptest.BaseDir(b))
	}
	b.ReportMetric(float64(sfpTotal.Milliseconds())/float64(b.N), "sfp-ms/start")
	b.ReportMetric(float64(bareTotal.Milliseconds())/float64(b.N), "bare-pg-ms/start")
	b.ReportMetric(float64(sfpTotal)/float64(bareTotal), "sfp/bare")
}

// BenchmarkWarmStart: `sfp server start --detach` of an existing tenant
// until the gateway answers health, against a bare PostgreSQL start of an
// existing cluster in the same run.
func BenchmarkWarmStart(b *testing.B) {
	base := sfptest.BaseDir(b)
	sfptest.MustRun(b, base, nil, "server", "init", "-t", "warm")
	sfptest.MustRun(b, base, nil, "server", "start", "-t", "warm", "-d")
	sfptest.MustRun(b, base, nil, "server", "stop", "-t", "warm")
	anon := anonKeyB(b, base, "warm")

	dir := sfptest.BaseDir(b)
	c, err := postgres.New(context.Background(), postgres.Config{DataDir: filepath.Join(dir, "data"), Port: mustFreePort(b), SuperPassword: "x"})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	var sfpTotal, bareTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := sfptest.MustRun(b, base, nil, "server", "start", "-t", "warm", "-d", "--json")
		var info runtime.Info
		json.Unmarshal([]byte(r.Stdout), &info)
		waitHealthy(b, info.URL, anon)
		sfpTotal += time.Since(start)
		sfptest.MustRun(b, base, nil, "server", "stop", "-t", "warm")

		start = time.Now()
		if err := c.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		bareTotal += time.Since(start)
		c.Stop(context.Background())
	}
	b.ReportMetric(float64(sfpTotal.Milliseconds())/float64(b.N), "sfp-ms/start")
	b.ReportMetric(float64(bareTotal.Milliseconds())/float64(b.N), "bare-pg-ms/start")
	b.ReportMetric(float64(sfpTotal)/float64(bareTotal), "sfp/bare")
}

// BenchmarkTenantMemory reports the memory of a whole tenant (the sfp
// process and every PostgreSQL process): idle after start, and after 20,000
// REST requests from 16 clients through the gateway. PSS counts shared pages
// (PostgreSQL's shared buffers) once; RSS counts them in every process.
func BenchmarkTenantMemory(b *testing.B) {
	sfptest.Binary(b)
	for i := 0; i < b.N; i++ {
		base := sfptest.BaseDir(b)
		r := sfptest.MustRun(b, base, nil, "server", "start", "-t", "mem", "-d", "--json")
		var info runtime.Info
		json.Unmarshal([]byte(r.Stdout), &info)
		anon := anonKeyB(b, base, "mem")
		waitHealthy(b, info.URL, anon)
		time.Sleep(time.Second)
		idlePSS, idleRSS := treeMemory(b, info.PID)

		const total, clients = 20000, 16
		var wg sync.WaitGroup
		per := total / clients
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < per; j++ {
					req, _ := http.NewRequest(http.MethodGet, info.URL+"/rest/v1/accounts?select=id,name&limit=10", nil)
					req.Header.Set("apikey", anon)
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		loadPSS, loadRSS := treeMemory(b, info.PID)
		sfptest.MustRun(b, base, nil, "server", "stop", "-t", "mem")
		b.ReportMetric(idlePSS, "idle-pss-MB")
		b.ReportMetric(idleRSS, "idle-rss-MB")
		b.ReportMetric(loadPSS, "loaded-pss-MB")
		b.ReportMetric(loadRSS, "loaded-rss-MB")
		b.ReportMetric(loadPSS/idlePSS, "loaded/idle-pss")
	}
}

// treeMemory sums Pss and Rss (MB) of pid and all its descendants.
func treeMemory(b *testing.B, pid int) (pss, rss float64) {
	b.Helper()
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pids[i])).Output()
		for _, f := range strings.Fields(string(out)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	for _, p := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(fields[1], 64)
			switch fields[0] {
			case "Pss:":
				pss += kb / 1024
			case "Rss:":
				rss += kb / 1024
			}
		}
		f.Close()
	}
	return pss, rss
}

func anonKeyB(b *testing.B, base, name string) string {
	var keys struct {
		AnonKey string `json:"anon_key"`
	}
	json.Unmarshal([]byte(sfptest.MustRun(b, base, nil, "server", "keys", "-t", name, "--json").Stdout), &keys)
	return keys.AnonKey
}
