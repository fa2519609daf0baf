package benchplot

import (
	"strings"
	"testing"
)

func TestFanoutChartsKeepTheBestSustainableStep(t *testing.T) {
	in := `{"steps":[
 {"clients":500,"mode":"rls","changes_per_second":80,"msgs_per_second":39900,"p95_ms":40,"sustainable":true},
 {"clients":500,"mode":"rls","changes_per_second":160,"msgs_per_second":79000,"p95_ms":900,"sustainable":false},
 {"clients":500,"mode":"rls","changes_per_second":120,"msgs_per_second":59900,"p95_ms":90,"sustainable":true},
 {"clients":100,"mode":"rls","changes_per_second":120,"msgs_per_second":11900,"p95_ms":8,"sustainable":true},
 {"clients":2000,"mode":"norls","changes_per_second":20,"msgs_per_second":39000,"p95_ms":120,"sustainable":true},
 {"clients":2000,"mode":"rls","changes_per_second":20,"msgs_per_second":39000,"p95_ms":800,"sustainable":false}
]}
{"steps":[{"clients":100,"mode":"rls","changes_per_second":130,"msgs_per_second":12900,"p95_ms":9,"sustainable":true}]}`
	charts, err := FanoutCharts(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || len(charts[0].Series) != 2 {
		t.Fatalf("charts = %+v", charts)
	}
	rls, norls := charts[0].Series[0], charts[0].Series[1]
	if rls.Name != modeNames["rls"] || norls.Name != modeNames["norls"] {
		t.Errorf("series order %q, %q", rls.Name, norls.Name)
	}
	// 100: the second run's better step; 500: 120/s, not the unsustainable 160/s; 2,000: none.
	want := [][2]float64{{100, 12900}, {500, 59900}}
	if len(rls.Points) != 2 || rls.Points[0] != want[0] || rls.Points[1] != want[1] {
		t.Errorf("rls throughput = %v, want %v", rls.Points, want)
	}
	if p := charts[1].Series[0].Points; p[1] != [2]float64{500, 90} {
		t.Errorf("rls p95 = %v, want the p95 of the 120/s step at 500", p)
	}
	if _, err := FanoutCharts(strings.NewReader(`{"steps":[{"clients":1,"mode":"rls","sustainable":false}]}`)); err == nil {
		t.Error("no sustainable step: no error")
	}
}
