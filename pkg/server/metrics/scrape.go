package metrics

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series of a scrape: what `sfp server status --json`
// reports, read from /metrics with Prometheus' own parser so the CLI
// and Prometheus see the same figures.
type Sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// Scrape is a parsed /metrics answer, by metric name.
type Scrape map[string]*dto.MetricFamily

// Fetch reads and parses url (an admin listener's /metrics).
func Fetch(ctx context.Context, client *http.Client, url string) (Scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	// The text format: expfmt's parser reads it, and it is what the
	// handler sends without an Accept asking for more.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("scrape %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return Parse(resp.Body)
}

// Parse reads Prometheus' text format.
func Parse(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Scrape(fams), nil
}

// Value is the value of the series of name whose labels include want
// (name/value pairs), summed over the series that match: a counter or
// gauge's value, a histogram's count. ok is false when none matches.
func (s Scrape) Value(name string, want ...string) (v float64, ok bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Samples lists sfp's own series (not the Go runtime's or the process's),
// sorted by name then labels; a histogram gives its count and sum as
// <name>_count and <name>_sum.
func (s Scrape) Samples() []Sample {
	var out []Sample
	for name, f := range s {
		if !strings.HasPrefix(name, Namespace+"_") {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if len(labels) == 0 {
				labels = nil
			}
			switch {
			case m.Histogram != nil:
				out = append(out, Sample{Name: name + "_count", Labels: labels, Value: float64(m.Histogram.GetSampleCount())},
					Sample{Name: name + "_sum", Labels: labels, Value: m.Histogram.GetSampleSum()})
			default:
				v, _ := Scrape{name: &dto.MetricFamily{Metric: []*dto.Metric{m}}}.Value(name)
				out = append(out, Sample{Name: name, Labels: labels, Value: v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return labelKey(out[i].Labels) < labelKey(out[j].Labels)
	})
	return out
}

// labelKey orders label sets: their pairs in the order of their names.
func labelKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		b.WriteString(k + "=" + l[k] + ",")
	}
	return b.String()
}
