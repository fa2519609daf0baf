package authserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Benchmarks report throughput against a baseline measured in the same run,
// with the same parallelism (GOMAXPROCS workers), so the figures survive a
// noisy machine:
//
//	x-baseline   how many times longer one operation takes than the baseline
//	ops/s        operations per second of the server
//	base-ops/s   operations per second of the baseline

// parallel runs n calls of f spread over GOMAXPROCS goroutines and returns
// the wall time. worker is the goroutine's index, for per-worker state.
func parallel(b *testing.B, n int, f func(worker int) error) time.Duration {
	b.Helper()
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := f(w); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// interleaved measures n baseline calls and n server calls in alternating
// rounds, so that load from other processes, which comes and goes, falls on
// both about equally. It returns the total time of each.
func interleaved(b *testing.B, n int, baseline, server func(worker int) error) (base, op time.Duration) {
	b.Helper()
	rounds := min(10, n)
	for i := range rounds {
		k := n/rounds + btoi(i < n%rounds)
		base += parallel(b, k, baseline)
		op += parallel(b, k, server)
	}
	return base, op
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func report(b *testing.B, n int, op, base time.Duration) {
	b.ReportMetric(float64(op)/float64(base), "x-baseline")
	b.ReportMetric(float64(n)/op.Seconds(), "ops/s")
	b.ReportMetric(float64(n)/base.Seconds(), "base-ops/s")
}

// post sends a JSON POST and decodes a JSON object answer.
func post(client *http.Client, url string, body any) (map[string]any, error) {
	raw, _ := json.Marshal(body)
	resp, err := client.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, data)
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}

// BenchmarkPasswordSignIn: POST /token?grant_type=password with the default
// bcrypt cost (10), against the bare bcrypt comparison it must make.
func BenchmarkPasswordSignIn(b *testing.B) {
	e := newEnv(b, func(c *Config) {
		c.PasswordHashCost = DefaultPasswordHashCost
		c.RateLimitTokenPerIP = RateLimit{Disabled: true}
		c.Now = time.Now
	})
	if _, err := e.srv.CreateUser(b.Context(), UserParams{Email: "bench@example.com", Password: "bench-password", EmailConfirm: true}); err != nil {
		b.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("bench-password"), DefaultPasswordHashCost)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := e.base + "/token?grant_type=password"
	creds := map[string]any{"email": "bench@example.com", "password": "bench-password"}

	b.ResetTimer()
	base, op := interleaved(b, b.N,
		func(int) error { return bcrypt.CompareHashAndPassword(hash, []byte("bench-password")) },
		func(int) error { _, err := post(client, url, creds); return err })
	b.StopTimer()
	report(b, b.N, op, base)
}

// BenchmarkRefresh: POST /token?grant_type=refresh_token, each worker
// following its own session's token chain, against a bare insert of a
// refresh token row (the one write every rotation needs).
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b, func(c *Config) {
		c.RateLimitTokenPerIP = RateLimit{Disabled: true}
		c.Now = time.Now
	})
	s := e.signUp("bench@example.com", "bench-password")
	userID := s["user"].(map[string]any)["id"].(string)
	sessionID := parseClaims(b, s["access_token"].(string))["session_id"].(string)
	workers := runtime.GOMAXPROCS(0)
	chains := make([]string, workers)
	for i := range chains {
		chains[i] = e.signIn("bench@example.com", "bench-password")["refresh_token"].(string)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := e.base + "/token?grant_type=refresh_token"
	pool := e.srv.pool

	b.ResetTimer()
	base, op := interleaved(b, b.N,
		func(int) error {
			_, err := pool.Exec(b.Context(), sqlInsertRefreshToken, newRefreshToken(), userID, time.Now(), "", sessionID)
			return err
		},
		func(w int) error {
			m, err := post(client, url, map[string]any{"refresh_token": chains[w]})
			if err != nil {
				return err
			}
			chains[w] = m["refresh_token"].(string)
			return nil
		})
	b.StopTimer()
	report(b, b.N, op, base)
}
