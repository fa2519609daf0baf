package qrdraw

import (
	"strings"
	"testing"
)

const uri = "otpauth://totp/example.com:ada@example.com?algorithm=SHA1&digits=6&issuer=example.com&period=30&secret=JBSWY3DPEHPK3PXP"

// modulesAnd returns the modules of uri's code and draw's drawing of it.
func modulesAnd(t *testing.T, draw func(string) (string, error)) ([][]bool, string) {
	t.Helper()
	m, err := Modules(uri)
	if err != nil {
		t.Fatal(err)
	}
	out, err := draw(uri)
	if err != nil {
		t.Fatal(err)
	}
	return m, out
}

// TestTerminalMatchesModules reads the drawing back, half block by half
// block, and checks it shows exactly the code's modules inside a light
// quiet zone.
func TestTerminalMatchesModules(t *testing.T) {
	m, text := modulesAnd(t, Terminal)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	n := len(m) + 2*quietZone
	if len(lines) != (n+1)/2 {
		t.Fatalf("%d lines for %d module rows", len(lines), n)
	}
	for cy, line := range lines {
		cells := []rune(line)
		if len(cells) != n {
			t.Fatalf("line %d has %d cells, want %d", cy, len(cells), n)
		}
		for x, c := range cells {
			top, bottom := c == ' ' || c == '▄', c == ' ' || c == '▀'
			for dy, got := range []bool{top, bottom} {
				y := 2*cy + dy
				want := false
				if mx, my := x-quietZone, y-quietZone; my >= 0 && my < len(m) && mx >= 0 && mx < len(m) {
					want = m[my][mx]
				}
				if y < n && got != want {
					t.Fatalf("module (%d,%d) drawn dark=%v, want %v", x, y, got, want)
				}
			}
		}
	}
}

func TestSVG(t *testing.T) {
	m, svg := modulesAnd(t, SVG)
	dark := 0
	for _, row := range m {
		for _, d := range row {
			if d {
				dark++
			}
		}
	}
	if got := strings.Count(svg, "M"); got != dark {
		t.Fatalf("svg draws %d squares, the code has %d dark modules", got, dark)
	}
	if !strings.HasPrefix(svg, "<?xml") || !strings.Contains(svg, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Fatalf("not an SVG document: %.100s", svg)
	}
}
