// Command benchplot draws benchmark curves for the docs: it reads a JSON
// array of charts (see internal/benchplot.Chart) on stdin and writes one
// SVG image on stdout. With -fanout it reads instead the steps
// BenchmarkFanout writes (RT_BENCH_OUT; several runs may follow each
// other) and draws the realtime fan-out curve:
//
//	cat run1.json run2.json | go run ./internal/benchplot/cmd/benchplot -fanout > docs/img/realtime-fanout.svg
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/sfp-dev/sfp/internal/benchplot"
)

func main() {
	fanout := flag.Bool("fanout", false, "read BenchmarkFanout steps (RT_BENCH_OUT) instead of charts")
	flag.Parse()
	var charts []benchplot.Chart
	var err error
	if *fanout {
		charts, err = benchplot.FanoutCharts(os.Stdin)
	} else {
		dec := json.NewDecoder(os.Stdin)
		dec.DisallowUnknownFields()
		if err = dec.Decode(&charts); err != nil {
			err = fmt.Errorf("read charts: %w", err)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
	if err := benchplot.Render(os.Stdout, charts...); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}
