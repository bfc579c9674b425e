package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// faces are the fonts of a chart (the Go fonts, vendored in golang.org/x/image,
// so that no system font is needed).
type faces struct {
	title, subtitle, label, value, small, italic font.Face
}

func newFaces() (*faces, error) {
	mk := func(ttf []byte, size float64) (font.Face, error) {
		f, err := opentype.Parse(ttf)
		if err != nil {
			return nil, err
		}
		return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	}
	var fs faces
	var err error
	for _, x := range []struct {
		dst  *font.Face
		ttf  []byte
		size float64
	}{
		{&fs.title, gobold.TTF, 19},
		{&fs.subtitle, goregular.TTF, 12.5},
		{&fs.label, goregular.TTF, 13.5},
		{&fs.value, goregular.TTF, 12},
		{&fs.small, goregular.TTF, 11.5},
		{&fs.italic, goitalic.TTF, 12},
	} {
		if *x.dst, err = mk(x.ttf, x.size); err != nil {
			return nil, fmt.Errorf("font: %w", err)
		}
	}
	return &fs, nil
}

var (
	white     = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink       = color.RGBA{0x22, 0x22, 0x22, 0xff}
	grey      = color.RGBA{0x66, 0x66, 0x66, 0xff}
	gridMajor = color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
	gridMinor = color.RGBA{0xe6, 0xe6, 0xe6, 0xff}
	bandTint  = color.RGBA{0xf3, 0xf5, 0xf8, 0xff}
)

// lineHeight is the distance between baselines of successive lines of f.
func lineHeight(f font.Face) int {
	m := f.Metrics()
	return (m.Ascent + m.Descent).Ceil() + 2
}

// ascent is how far above its baseline a line of f reaches.
func ascent(f font.Face) int { return f.Metrics().Ascent.Ceil() }

func textWidth(f font.Face, s string) int { return font.MeasureString(f, s).Ceil() }

// drawText draws s with its baseline at y, starting at x.
func drawText(dst draw.Image, f font.Face, x, y int, c color.Color, s string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// wrap breaks s into lines no wider than maxW (a word longer than that stays whole).
func wrap(f font.Face, s string, maxW int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		next := w
		if line != "" {
			next = line + " " + w
		}
		if line != "" && textWidth(f, next) > maxW {
			lines = append(lines, line)
			line = w
			continue
		}
		line = next
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// fill paints r with c, blending when c is translucent.
func fill(dst draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Over)
}

// vline draws a vertical line of width w at x from y0 to y1; dash > 0 makes it dashed.
func vline(dst draw.Image, x, y0, y1, w, dash int, c color.Color) {
	for y := y0; y < y1; {
		end := y1
		if dash > 0 {
			end = min(y+dash, y1)
		}
		fill(dst, image.Rect(x-w/2, y, x-w/2+w, end), c)
		if dash == 0 {
			return
		}
		y = end + dash*2/3
	}
}

func hline(dst draw.Image, x0, x1, y, w int, c color.Color) {
	fill(dst, image.Rect(x0, y-w/2, x1, y-w/2+w), c)
}

// withAlpha is c at opacity a (premultiplied, as image/color wants).
func withAlpha(c color.RGBA, a uint8) color.RGBA {
	f := func(v uint8) uint8 { return uint8(uint16(v) * uint16(a) / 255) }
	return color.RGBA{f(c.R), f(c.G), f(c.B), a}
}

// lighten mixes c with white: t = 0 keeps c, 1 gives white.
func lighten(c color.RGBA, t float64) color.RGBA {
	f := func(v uint8) uint8 { return uint8(float64(v) + (255-float64(v))*t) }
	return color.RGBA{f(c.R), f(c.G), f(c.B), 0xff}
}

// isDark reports whether white text reads better than dark text on c.
func isDark(c color.RGBA) bool {
	return 0.299*float64(c.R)+0.587*float64(c.G)+0.114*float64(c.B) < 150
}
