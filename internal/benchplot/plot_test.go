package benchplot

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestRenderIsWellFormedSVGWithEverySeries(t *testing.T) {
	c := Chart{
		Title: "fan-out", XLabel: "subscribers", YLabel: "msgs/s",
		Series: []Series{
			{Name: "with RLS", Points: [][2]float64{{100, 20000}, {500, 61000}, {2000, 42000}}},
			{Name: "without <RLS>", Points: [][2]float64{{100, 21000}, {500, 70000}}, Dashed: true},
		},
		Lines: []Line{{Y: 60000, Label: "goal"}},
	}
	var buf bytes.Buffer
	if err := Render(&buf, c, c); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	dec := xml.NewDecoder(&buf)
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			counts[tok.Name.Local]++
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	// Two charts: two polylines each, one marker per point (5 per chart).
	if counts["polyline"] != 4 || counts["circle"] != 10 || counts["svg"] != 1 {
		t.Errorf("elements: %v", counts)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"with RLS", "without <RLS>", "goal", "60k", "subscribers"} {
		if !strings.Contains(all, want) {
			t.Errorf("text %q missing from %q", want, all)
		}
	}
}

func TestRenderRefusesEmptyAndNonFiniteData(t *testing.T) {
	for name, c := range map[string]Chart{
		"no series": {Title: "t"},
		"no points": {Title: "t", Series: []Series{{Name: "a"}}},
		"NaN":       {Title: "t", Series: []Series{{Name: "a", Points: [][2]float64{{1, 0}, {2, nan()}}}}},
	} {
		if err := Render(io.Discard, c); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
	if err := Render(io.Discard); err == nil {
		t.Error("no charts: rendered without error")
	}
}

func nan() float64 { var z float64; return z / z }

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ span, want float64 }{{1900, 500}, {70000, 20000}, {250, 50}, {1, 0.2}} {
		if got := niceStep(tc.span); got != tc.want {
			t.Errorf("niceStep(%g) = %g, want %g", tc.span, got, tc.want)
		}
	}
}
