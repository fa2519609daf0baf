// Package qrdraw draws QR codes for TOTP enrolment: as an SVG document (the
// qr_code GoTrue returns from POST /factors) and as text for a terminal
// (sfp mfa enroll). The encoding is boombuler/barcode's, which GoTrue uses
// too, at the error-correction level GoTrue chooses (H).
package qrdraw

import (
	"fmt"
	"image/color"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// moduleSize is the side of one QR module in SVG user units; GoTrue draws
// its modules 3 units wide.
const moduleSize = 3

// quietZone is the light border around the code, in modules, that readers
// need to find it.
const quietZone = 4

// matrix encodes content and returns its modules, true for dark.
func matrix(content string) ([][]bool, error) {
	code, err := qr.Encode(content, qr.H, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("encode qr code: %w", err)
	}
	return modules(code), nil
}

func modules(code barcode.Barcode) [][]bool {
	b := code.Bounds()
	out := make([][]bool, b.Dy())
	for y := range out {
		out[y] = make([]bool, b.Dx())
		for x := range out[y] {
			r, g, bl, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out[y][x] = color.Gray16Model.Convert(color.RGBA64{uint16(r), uint16(g), uint16(bl), 0xffff}).(color.Gray16).Y < 0x8000
		}
	}
	return out
}

// SVG returns an SVG document of the QR code of content: one black square
// per dark module on a white background, with a quiet zone.
func SVG(content string) (string, error) {
	m, err := matrix(content)
	if err != nil {
		return "", err
	}
	side := (len(m) + 2*quietZone) * moduleSize
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>`+"\n"+`<svg width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`+"\n", side, side, side, side)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" style="fill:#ffffff"/>`+"\n", side, side)
	b.WriteString(`<path style="fill:#000000" d="`)
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh%dv%dh-%dz", (x+quietZone)*moduleSize, (y+quietZone)*moduleSize, moduleSize, moduleSize, moduleSize)
			}
		}
	}
	b.WriteString("\"/>\n</svg>\n")
	return b.String(), nil
}

// Terminal returns the QR code of content drawn with Unicode half blocks,
// two modules per character cell vertically, dark modules as spaces on a
// light background so it scans on dark and light terminals alike.
func Terminal(content string) (string, error) {
	m, err := matrix(content)
	if err != nil {
		return "", err
	}
	n := len(m) + 2*quietZone
	dark := func(x, y int) bool {
		x, y = x-quietZone, y-quietZone
		return y >= 0 && y < len(m) && x >= 0 && x < len(m[y]) && m[y][x]
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top, bottom := dark(x, y), y+1 < n && dark(x, y+1)
			switch {
			case !top && !bottom:
				b.WriteRune('█')
			case top && !bottom:
				b.WriteRune('▄')
			case !top && bottom:
				b.WriteRune('▀')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// Modules returns the dark/light modules of content's QR code (without the
// quiet zone), for tests that decode what was drawn.
func Modules(content string) ([][]bool, error) { return matrix(content) }
