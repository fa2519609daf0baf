// Command benchplot draws benchmark curves for the docs: it reads a JSON
// array of charts (see internal/benchplot.Chart) on stdin and writes one
// SVG image on stdout.
//
//	go run ./internal/benchplot/cmd/benchplot < curve.json > docs/img/realtime-curve.svg
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/sfp-dev/sfp/internal/benchplot"
)

func main() {
	var charts []benchplot.Chart
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&charts); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot: read charts:", err)
		os.Exit(1)
	}
	if err := benchplot.Render(os.Stdout, charts...); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}
