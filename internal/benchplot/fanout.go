package benchplot

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// FanoutStep is one step of the realtime fan-out benchmark as
// BenchmarkFanout writes it (RT_BENCH_OUT): one subscriber count, one
// mode, one change rate.
type FanoutStep struct {
	Clients     int     `json:"clients"`
	Mode        string  `json:"mode"`
	Rate        int     `json:"changes_per_second"`
	MsgsPerSec  float64 `json:"msgs_per_second"`
	P95         float64 `json:"p95_ms"`
	Sustainable bool    `json:"sustainable"`
	HeapPerSub  float64 `json:"heap_bytes_per_subscriber"`
}

// modeNames are the legend names of the benchmark's modes.
var modeNames = map[string]string{
	"rls":       "postgres_changes, RLS",
	"rls-old":   "RLS, statement per group (before)",
	"norls":     "postgres_changes, no RLS",
	"broadcast": "Broadcast from Database",
}

// FanoutCharts reads the steps of one or more fan-out runs (objects
// {"steps": [...]}, one after the other) and makes the curve: per mode,
// the highest sustainable throughput against the subscriber count, and
// the p95 latency of that step. A count with no sustainable step is left
// out of its mode's curve.
func FanoutCharts(r io.Reader) ([]Chart, error) {
	best := map[string]map[int]FanoutStep{}
	dec := json.NewDecoder(r)
	for {
		var run struct {
			Steps []FanoutStep `json:"steps"`
		}
		if err := dec.Decode(&run); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read fan-out steps: %w", err)
		}
		for _, s := range run.Steps {
			if !s.Sustainable {
				continue
			}
			if best[s.Mode] == nil {
				best[s.Mode] = map[int]FanoutStep{}
			}
			if cur, ok := best[s.Mode][s.Clients]; !ok || s.MsgsPerSec > cur.MsgsPerSec {
				best[s.Mode][s.Clients] = s
			}
		}
	}
	if len(best) == 0 {
		return nil, fmt.Errorf("read fan-out steps: no sustainable step")
	}
	tput := Chart{Title: "Realtime fan-out: highest sustainable rate (all delivered, p95 < 250 ms)",
		XLabel: "subscribers (distinct users)", YLabel: "messages/s delivered"}
	lat := Chart{Title: "p95 commit-to-client latency at that step", XLabel: "subscribers (distinct users)", YLabel: "p95 (ms)",
		Lines: []Line{{Y: 250, Label: "250 ms"}}}
	modes := make([]string, 0, len(best))
	for m := range best {
		modes = append(modes, m)
	}
	slices.SortFunc(modes, func(a, b string) int { return modeOrder(a) - modeOrder(b) })
	for _, m := range modes {
		counts := make([]int, 0, len(best[m]))
		for c := range best[m] {
			counts = append(counts, c)
		}
		slices.Sort(counts)
		name := modeNames[m]
		if name == "" {
			name = m
		}
		t, l := Series{Name: name, Dashed: m == "norls"}, Series{Name: name, Dashed: m == "norls"}
		for _, c := range counts {
			s := best[m][c]
			t.Points = append(t.Points, [2]float64{float64(c), s.MsgsPerSec})
			l.Points = append(l.Points, [2]float64{float64(c), s.P95})
		}
		tput.Series = append(tput.Series, t)
		lat.Series = append(lat.Series, l)
	}
	return []Chart{tput, lat}, nil
}

func modeOrder(m string) int {
	switch m {
	case "rls":
		return 0
	case "norls":
		return 1
	case "broadcast":
		return 2
	}
	return 3
}
