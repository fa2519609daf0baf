// Package benchplot draws benchmark curves as small, dependency-free SVG
// line charts for the docs: people read a curve faster than a table.
//
// A chart is a set of named series of (x, y) points sharing two linear
// axes. The renderer picks round tick steps, draws each series as a
// polyline with point markers and a legend, and writes nothing but SVG
// 1.1 elements, so the file renders on GitHub and in any browser.
package benchplot

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart is one plot.
type Chart struct {
	Title  string   `json:"title"`
	XLabel string   `json:"x_label"`
	YLabel string   `json:"y_label"`
	Series []Series `json:"series"`
	// YMin and YMax fix the y range; both zero: from 0 to the data.
	YMin float64 `json:"y_min,omitempty"`
	YMax float64 `json:"y_max,omitempty"`
	// Lines are horizontal reference lines (a goal, a limit).
	Lines []Line `json:"lines,omitempty"`
}

// Series is one curve.
type Series struct {
	Name   string       `json:"name"`
	Points [][2]float64 `json:"points"`
	// Dashed draws the line dashed (e.g. a baseline).
	Dashed bool `json:"dashed,omitempty"`
}

// Line is a horizontal reference line at Y, labelled.
type Line struct {
	Y     float64 `json:"y"`
	Label string  `json:"label"`
}

// Geometry of one chart, in SVG user units.
const (
	width, height             = 780.0, 360.0
	left, right, top, bottom  = 72.0, 240.0, 36.0, 48.0
	plotW, plotH              = width - left - right, height - top - bottom
	legendX, legendY, legendH = width - right + 16, top + 8, 20.0
)

// palette is colour-blind safe (Okabe–Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"}

// Render writes the charts one above the other as one SVG document.
func Render(w io.Writer, charts ...Chart) error {
	if len(charts) == 0 {
		return errors.New("render chart: no charts")
	}
	for i, c := range charts {
		if err := c.validate(); err != nil {
			return fmt.Errorf("render chart %d (%q): %w", i+1, c.Title, err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		width, height*float64(len(charts)), width, height*float64(len(charts)))
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	for i, c := range charts {
		fmt.Fprintf(&b, `<g transform="translate(0 %g)">`+"\n", height*float64(i))
		c.draw(&b)
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (c Chart) validate() error {
	if len(c.Series) == 0 {
		return errors.New("no series")
	}
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			return fmt.Errorf("series %q has no points", s.Name)
		}
		for _, p := range s.Points {
			if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
				return fmt.Errorf("series %q has a point that is not a finite number", s.Name)
			}
		}
	}
	return nil
}

// bounds returns the data range, widened to round ticks.
func (c Chart) bounds() (x0, x1, y0, y1, xstep, ystep float64) {
	x0, x1 = math.Inf(1), math.Inf(-1)
	y0, y1 = c.YMin, c.YMax
	fixed := c.YMin != 0 || c.YMax != 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			x0, x1 = math.Min(x0, p[0]), math.Max(x1, p[0])
			if !fixed {
				y1 = math.Max(y1, p[1])
			}
		}
	}
	if !fixed {
		for _, l := range c.Lines {
			y1 = math.Max(y1, l.Y)
		}
	}
	if x0 == x1 {
		x0, x1 = x0-1, x1+1
	}
	if y0 == y1 {
		y1 = y0 + 1
	}
	xstep, ystep = niceStep(x1-x0), niceStep(y1-y0)
	x0, x1 = math.Floor(x0/xstep)*xstep, math.Ceil(x1/xstep)*xstep
	if !fixed {
		y1 = math.Ceil(y1*1.05/ystep) * ystep
	}
	return x0, x1, y0, y1, xstep, ystep
}

// niceStep is a tick step of 1, 2 or 5 × 10ⁿ giving about five ticks.
func niceStep(span float64) float64 {
	raw := span / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func (c Chart) draw(b *strings.Builder) {
	x0, x1, y0, y1, xstep, ystep := c.bounds()
	px := func(x float64) float64 { return left + (x-x0)/(x1-x0)*plotW }
	py := func(y float64) float64 { return top + plotH - (y-y0)/(y1-y0)*plotH }
	fmt.Fprintf(b, `<text x="%g" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", left, esc(c.Title))
	for y := y0; y <= y1+ystep/2; y += ystep {
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), left+plotW, py(y))
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, py(y), num(y))
	}
	for x := x0; x <= x1+xstep/2; x += xstep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/>`+"\n", px(x), top+plotH, px(x), top+plotH+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", px(x), top+plotH+17, num(x))
	}
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`+"\n", left, top, plotW, plotH)
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+plotW/2, height-10, esc(c.XLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+plotH/2, esc(c.YLabel))
	for _, l := range c.Lines {
		if l.Y < y0 || l.Y > y1 {
			continue
		}
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#555" stroke-dasharray="2 3"/>`+"\n", left, py(l.Y), left+plotW, py(l.Y))
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", left+plotW-4, py(l.Y)-4, esc(l.Label))
	}
	for i, s := range c.Series {
		colour := palette[i%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		pts := make([]string, len(s.Points))
		for j, p := range s.Points {
			pts[j] = fmt.Sprintf("%.1f,%.1f", px(p[0]), py(math.Min(math.Max(p[1], y0), y1)))
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), colour, dash)
		for _, p := range pts {
			xy := strings.SplitN(p, ",", 2)
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], colour)
		}
		ly := legendY + float64(i)*legendH
		fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/>`+"\n", legendX, ly, legendX+20, ly, colour, dash)
		fmt.Fprintf(b, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`+"\n", legendX+26, ly, esc(s.Name))
	}
}

// num prints a tick value compactly: 40000 → 40k.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 && math.Mod(v, 1e5) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3 && math.Mod(v, 100) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
