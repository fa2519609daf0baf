package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

// BenchmarkProjectListJSON runs the real binary, `sfp project list --json`,
// end to end (process start, configuration and session load, query through
// the gateway, JSON out) on an account with 1,000 projects: once as one
// page of 1,000 (--limit 1000) and once as ten keyset pages of 100 (--all).
// Each iteration runs the three commands back to back; reported are the
// median wall times over the iterations, and `sfp version` (process start
// only) as the baseline they are measured against.
func BenchmarkProjectListJSON(b *testing.B) {
	s := stacktest.Shared()
	ctx := context.Background()
	bin := sfptest.Binary(b)
	dir := b.TempDir()
	svc, err := client.New(s.URL, s.ServiceKey)
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	email := fmt.Sprintf("bench-%d@example.test", time.Now().UnixNano())
	u, err := svc.Auth.AdminCreateUser(ctx, email, "bench-password", true)
	if err != nil {
		b.Fatal(err)
	}
	slug := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1_000_000)
	var accountID string
	s.Do(b, http.MethodPost, "/rest/v1/rpc/create_account", s.ServiceKey,
		map[string]any{"name": "Bench", "slug": slug, "owner_id": u.ID}, http.StatusOK, &accountID)
	rows := make([]map[string]any, 1000)
	for i := range rows {
		rows[i] = map[string]any{"account_id": accountID, "identifier": fmt.Sprintf("bench/repo-%04d", i),
			"remote_url": fmt.Sprintf("https://github.com/bench/repo-%04d.git", i), "settings": map[string]any{"n": i}}
	}
	s.Do(b, http.MethodPost, "/rest/v1/projects", s.ServiceKey, rows, http.StatusCreated, nil)

	env := append(os.Environ(), "SFP_CONFIG_DIR="+dir)
	run := func(stdin string, args ...string) (string, time.Duration) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("sfp %v: %v\n%s", args, err, errOut.String())
		}
		return out.String(), time.Since(start)
	}
	run("bench-password\n", "login", "--server", s.URL, "--api-key", s.AnonKey, "--email", email, "--password-stdin")
	out, _ := run("", "project", "list", "--json", "--limit", "1000")
	var got []client.Project
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1000 {
		b.Fatalf("listed %d projects: %v", len(got), err)
	}

	var one, paged, base []time.Duration
	b.ResetTimer()
	for range b.N {
		_, d := run("", "project", "list", "--json", "--limit", "1000")
		one = append(one, d)
		_, d = run("", "project", "list", "--json", "--all")
		paged = append(paged, d)
		_, d = run("", "version")
		base = append(base, d)
	}
	b.StopTimer()
	med := func(ds []time.Duration) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	m1, mp, mb := med(one), med(paged), med(base)
	b.ReportMetric(m1, "ms-median/list-1000")
	b.ReportMetric(mp, "ms-median/list-10x100")
	b.ReportMetric(mb, "ms-median/version")
	b.ReportMetric(m1/mb, "list-1000/version")
	b.ReportMetric(0, "ns/op")
}
