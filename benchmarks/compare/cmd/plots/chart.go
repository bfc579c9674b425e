package main

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
)

const pad = 18 // outer margin, px

// bar is one row of a chart: a series' value in a group.
type bar struct {
	series Series
	col    color.RGBA
	v      Value
	label  string // printed beside the bar
	extra  string // printed after label, in grey (the ratio)
	goal   Value  // a tick across the bar, if IsNumber
	y0, y1 int    // the bar's row
}

// band is a group's rows.
type band struct {
	group  Group
	bars   []*bar
	y0, y1 int
}

// logScale maps a value to an x position.
type logScale struct {
	lo, hi float64 // domain
	x0, x1 int     // range
}

func (s logScale) x(v float64) int {
	f := (math.Log10(v) - math.Log10(s.lo)) / (math.Log10(s.hi) - math.Log10(s.lo))
	return s.x0 + int(math.Round(f*float64(s.x1-s.x0)))
}

// Render draws c.
func Render(c *Chart, fs *faces) (*image.RGBA, error) {
	W, H := c.Width, c.Height
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), white)

	// Bands and bars, in the order of the groups and of the series.
	var bands []*band
	nbars := 0
	lo, hi := math.Inf(1), 0.0
	see := func(v Value) {
		if v.IsNumber() {
			lo, hi = math.Min(lo, v.Lo), math.Max(hi, v.Hi)
		}
	}
	for _, g := range c.Groups {
		b := &band{group: g}
		for _, s := range c.Series {
			v, ok := g.Values[s.Key]
			if !ok {
				continue
			}
			col, _ := parseColor(s.Color)
			br := &bar{series: s, col: col, v: v, label: v.Text, goal: g.Goals[s.Key]}
			if s.Ratio && v.IsNumber() {
				if base, ok := g.Values[c.RatioBase]; ok && base.IsNumber() && !base.IsRange() && !v.IsRange() {
					br.extra = "   " + fmt.Sprintf(c.RatioText, formatRatio(base.Lo/v.Lo))
				}
			}
			see(v)
			see(br.goal)
			b.bars = append(b.bars, br)
		}
		nbars += len(b.bars)
		bands = append(bands, b)
	}
	for _, a := range c.Anchors {
		for _, v := range a.Values {
			see(v)
		}
	}
	if hi == 0 {
		return nil, fmt.Errorf("%s: no figures", c.File)
	}

	// Header: title, subtitle, legend.
	y := pad + ascent(fs.title)
	drawText(img, fs.title, pad, y, ink, c.Title)
	y += lineHeight(fs.title) - ascent(fs.title)
	for _, l := range wrap(fs.subtitle, c.Subtitle, W-2*pad) {
		y += ascent(fs.subtitle)
		drawText(img, fs.subtitle, pad, y, grey, l)
		y += lineHeight(fs.subtitle) - ascent(fs.subtitle)
	}
	y += 8
	y = drawLegend(img, c, bands, fs, y) + 6

	// Footer, from the bottom up: notes, axis title, tick labels.
	var notes []string
	for _, n := range c.Notes {
		notes = append(notes, wrap(fs.small, n, W-2*pad)...)
	}
	yb := H - pad + 4
	for i := len(notes) - 1; i >= 0; i-- {
		drawText(img, fs.small, pad, yb, grey, notes[i])
		yb -= lineHeight(fs.small)
	}
	yb -= 6
	axisTitleY := yb
	yb -= lineHeight(fs.label)
	tickY := yb
	plotY1 := yb - ascent(fs.small) - 6

	// Left: group labels, wrapped to at most 30% of the width.
	labelW := 0
	for _, b := range bands {
		labelW = max(labelW, textWidth(fs.label, b.group.Label))
	}
	labelW = min(labelW, W*30/100)
	plotX0 := pad + labelW + 14
	plotX1 := W - pad
	plotY0 := y

	// Rows: a band per group, a slot per bar.
	const inner, gap = 5, 8
	avail := plotY1 - plotY0 - len(bands)*2*inner - (len(bands)-1)*gap
	if nbars == 0 || avail < nbars*8 {
		return nil, fmt.Errorf("%s: %d bars do not fit in %d px of height: make the chart taller", c.File, nbars, plotY1-plotY0)
	}
	slot := min(avail/nbars, 30)
	thick := slot - max(2, slot/6)
	// Spread what a capped slot leaves over the gaps, to fill the plot.
	spare := 0
	if len(bands) > 1 {
		spare = (avail - slot*nbars) / (len(bands) - 1)
	}
	yy := plotY0
	for i, b := range bands {
		b.y0 = yy
		yy += inner
		for _, br := range b.bars {
			br.y0 = yy + (slot-thick)/2
			br.y1 = br.y0 + thick
			yy += slot
		}
		yy += inner
		b.y1 = yy
		if i%2 == 0 {
			fill(img, image.Rect(pad, b.y0, plotX1, b.y1), bandTint)
		}
		yy += gap + spare
	}

	// Domain: from a 1-2-5 step below the smallest figure to past the largest,
	// far enough right that every bar's label fits beside it.
	sc := logScale{lo: step125Below(lo / 1.6), hi: hi * 1.05, x0: plotX0, x1: plotX1}
	for i := 0; i < 60; i++ {
		fits := true
		for _, b := range bands {
			for _, br := range b.bars {
				if br.v.IsNumber() && labelX(br, sc)+textWidth(fs.value, br.label+br.extra) > plotX1-4 {
					fits = false
				}
			}
		}
		if fits {
			break
		}
		sc.hi *= 1.08
	}

	// Grid and ticks.
	axisY := plotY1 + 2
	for e := math.Floor(math.Log10(sc.lo)); math.Pow(10, e) <= sc.hi; e++ {
		dec := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * dec
			if v < sc.lo*0.999 || v > sc.hi {
				continue
			}
			x := sc.x(v)
			if m == 1 {
				vline(img, x, plotY0, axisY, 1, 0, gridMajor)
			} else {
				vline(img, x, plotY0, axisY, 1, 0, gridMinor)
			}
			label := ""
			switch {
			case m == 1:
				label = tickLabel(v)
			case (m == 2 || m == 5) && sc.x(10*dec)-sc.x(dec) >= 160:
				label = tickLabel(v)
			case v <= sc.lo*1.001: // the left end
				label = tickLabel(v)
			}
			if label != "" {
				f, col := fs.small, grey
				if m == 1 {
					f, col = fs.label, ink
				}
				vline(img, x, axisY, axisY+4, 1, 0, ink)
				tw := textWidth(f, label)
				drawText(img, f, min(max(x-tw/2, plotX0-tw/2), plotX1-tw), tickY, col, label)
			}
		}
	}
	hline(img, plotX0, plotX1, axisY, 1, ink)
	vline(img, plotX0, plotY0, axisY, 1, 0, ink)
	tw := textWidth(fs.label, c.Axis)
	drawText(img, fs.label, plotX0+(plotX1-plotX0-tw)/2, axisTitleY, ink, c.Axis)

	// Group labels, centred on their bands.
	for _, b := range bands {
		lines := wrap(fs.label, b.group.Label, labelW)
		lh := lineHeight(fs.label)
		top := (b.y0+b.y1)/2 - len(lines)*lh/2
		for i, l := range lines {
			drawText(img, fs.label, plotX0-10-textWidth(fs.label, l), top+i*lh+ascent(fs.label), ink, l)
		}
	}

	// Bars first, then the anchors over them, then goal ticks, then the labels
	// on a white ground so that no mark runs through them.
	for _, b := range bands {
		for _, br := range b.bars {
			if !br.v.IsNumber() {
				continue
			}
			xl := sc.x(br.v.Lo)
			fill(img, image.Rect(plotX0+1, br.y0, xl, br.y1), br.col)
			if br.v.IsRange() {
				fill(img, image.Rect(xl, br.y0, sc.x(br.v.Hi), br.y1), lighten(br.col, 0.5))
			}
		}
	}
	for _, a := range c.Anchors {
		col, _ := parseColor(a.Color)
		for _, b := range bands {
			if v, ok := a.Values[b.group.Key]; ok {
				drawAnchor(img, sc, v, b.y0, b.y1, col)
			}
		}
	}
	for _, b := range bands {
		for _, br := range b.bars {
			if br.goal.IsNumber() {
				xg := sc.x(br.goal.Lo)
				vline(img, xg, br.y0-4, br.y1+4, 4, 0, white)
				vline(img, xg, br.y0-3, br.y1+3, 2, 0, ink)
			}
		}
	}
	for _, b := range bands {
		for _, br := range b.bars {
			mid := (br.y0 + br.y1) / 2
			base := mid + (ascent(fs.value)-2)/2
			if !br.v.IsNumber() {
				fill(img, image.Rect(plotX0+1, br.y0, plotX0+5, br.y1), br.col)
				drawText(img, fs.italic, plotX0+10, base, grey, br.series.Label+": "+br.v.Text)
				continue
			}
			x := labelX(br, sc)
			tw := textWidth(fs.value, br.label+br.extra)
			fill(img, image.Rect(x-3, br.y0, x+tw+3, br.y1), withAlpha(white, 235))
			drawText(img, fs.value, x, base, ink, br.label)
			drawText(img, fs.value, x+textWidth(fs.value, br.label), base, grey, br.extra)
		}
	}
	return img, nil
}

// labelX is where a bar's label starts: past the bar's end and its goal tick.
func labelX(br *bar, sc logScale) int {
	x := sc.x(br.v.Hi)
	if br.goal.IsNumber() {
		x = max(x, sc.x(br.goal.Lo)+2)
	}
	return x + 6
}

// drawAnchor marks a published figure across rows y0–y1: a dashed line, or a
// shaded span between two dashed lines for a range.
func drawAnchor(img *image.RGBA, sc logScale, v Value, y0, y1 int, col color.RGBA) {
	if v.IsRange() {
		fill(img, image.Rect(sc.x(v.Lo), y0, sc.x(v.Hi), y1), withAlpha(col, 70))
		vline(img, sc.x(v.Lo), y0, y1, 2, 5, col)
		vline(img, sc.x(v.Hi), y0, y1, 2, 5, col)
		return
	}
	vline(img, sc.x(v.Lo), y0, y1, 3, 6, col)
}

// drawLegend lays out the legend from y down and returns the y below it.
func drawLegend(img *image.RGBA, c *Chart, bands []*band, fs *faces, y int) int {
	type entry struct {
		label string
		draw  func(x, y int) // a 14×14 swatch at x, y (top left)
	}
	used := map[string]bool{}
	goals := false
	for _, b := range bands {
		for _, br := range b.bars {
			used[br.series.Key] = true
			goals = goals || br.goal.IsNumber()
		}
	}
	var entries []entry
	for _, s := range c.Series {
		if !used[s.Key] {
			continue
		}
		col, _ := parseColor(s.Color)
		entries = append(entries, entry{s.Label, func(x, y int) { fill(img, image.Rect(x, y+1, x+14, y+13), col) }})
	}
	for _, a := range c.Anchors {
		col, _ := parseColor(a.Color)
		ranged := false
		for _, v := range a.Values {
			ranged = ranged || v.IsRange()
		}
		entries = append(entries, entry{a.Label, func(x, y int) {
			if ranged {
				fill(img, image.Rect(x, y, x+14, y+14), withAlpha(col, 70))
				vline(img, x+1, y, y+14, 2, 5, col)
				vline(img, x+13, y, y+14, 2, 5, col)
			} else {
				vline(img, x+7, y-1, y+15, 3, 6, col)
			}
		}})
	}
	if goals {
		label := c.GoalLabel
		if label == "" {
			label = "goal"
		}
		entries = append(entries, entry{label, func(x, y int) {
			fill(img, image.Rect(x, y+4, x+14, y+10), lighten(ink, 0.75))
			vline(img, x+7, y-1, y+15, 2, 0, ink)
		}})
	}
	x, lh := pad, lineHeight(fs.label)+4
	maxX := c.Width - pad
	for _, e := range entries {
		w := 14 + 6 + textWidth(fs.label, e.label)
		if x > pad && x+w > maxX {
			x, y = pad, y+lh
		}
		e.draw(x, y)
		drawText(img, fs.label, x+20, y+12, ink, e.label)
		x += w + 22
	}
	return y + lh
}

// step125Below is the largest 1, 2 or 5 × 10^k not above v.
func step125Below(v float64) float64 {
	dec := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*dec <= v*1.000001 {
			return m * dec
		}
	}
	return dec
}

// tickLabel prints an axis value: 10 K, 1 M, 200 K.
func tickLabel(v float64) string {
	s := formatSI(v)
	s = strings.Replace(s, ".00 ", " ", 1)
	return s
}
