package realtimeserver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// reportFanout reports, for each mode, the highest sustainable step: for
// one subscriber count as rls-msgs/s and friends, for a curve (several
// counts) suffixed with the count (rls-msgs/s@500).
func reportFanout(b *testing.B, all []fanoutResult, curve bool) {
	type key struct {
		clients int
		mode    string
	}
	best := map[key]*fanoutResult{}
	var counts []int
	seen := map[int]bool{}
	for i := range all {
		r := &all[i]
		if !seen[r.Clients] {
			seen[r.Clients] = true
			counts = append(counts, r.Clients)
		}
		k := key{r.Clients, r.Mode}
		if r.Sustainable && (best[k] == nil || r.MsgsPerSec > best[k].MsgsPerSec) {
			best[k] = r
		}
	}
	for _, n := range counts {
		suffix := ""
		if curve {
			suffix = fmt.Sprintf("@%d", n)
		}
		for _, mode := range []string{"rls", "rls-old", "norls"} {
			r := best[key{n, mode}]
			if r == nil && !modeRan(all, n, mode) {
				continue
			}
			if r == nil {
				b.ReportMetric(0, mode+"-msgs/s"+suffix)
				continue
			}
			b.ReportMetric(r.MsgsPerSec, mode+"-msgs/s"+suffix)
			if !curve {
				b.ReportMetric(float64(r.Rate), mode+"-changes/s")
				b.ReportMetric(r.P50, mode+"-p50-ms")
				b.ReportMetric(r.P99, mode+"-p99-ms")
			}
			b.ReportMetric(r.P95, mode+"-p95-ms"+suffix)
		}
		if r, nr := best[key{n, "rls"}], best[key{n, "norls"}]; r != nil && nr != nil {
			b.ReportMetric(r.MsgsPerSec/nr.MsgsPerSec, "rls/norls"+suffix)
		}
		if r, old := best[key{n, "rls"}], best[key{n, "rls-old"}]; r != nil && old != nil {
			b.ReportMetric(r.MsgsPerSec/old.MsgsPerSec, "rls/rls-old"+suffix)
		}
	}
	if !curve && len(counts) == 1 {
		b.ReportMetric(float64(counts[0]), "clients")
	}
	if len(all) > 0 {
		b.ReportMetric(all[len(all)-1].HeapPerSub, "heap-B/sub")
	}
}

func modeRan(all []fanoutResult, clients int, mode string) bool {
	for _, r := range all {
		if r.Clients == clients && r.Mode == mode {
			return true
		}
	}
	return false
}

// writeFanoutJSON writes every step to path (RT_BENCH_OUT), atomically,
// for plotting the curve.
func writeFanoutJSON(b *testing.B, path string, all []fanoutResult) {
	data, err := json.MarshalIndent(map[string]any{"steps": all}, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fanout-*.json")
	if err != nil {
		b.Fatalf("write %s: %v", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		b.Fatalf("write %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		b.Fatalf("write %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		b.Fatalf("write %s: %v", path, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %d steps to %s\n", len(all), path)
}
