package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Figures is the content of benchmarks/data/figures.json: one entry per PNG.
type Figures struct {
	About  string  `json:"about"`
	Charts []Chart `json:"charts"`
}

// Chart is one grouped horizontal bar chart on a log scale: one band per group
// (a Nexmark query, a workload), one bar per series that has a value in it.
type Chart struct {
	File     string `json:"file"` // name of the PNG, written in the --out directory
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Title    string `json:"title"`
	Subtitle string `json:"subtitle"`
	Axis     string `json:"axis"` // the value axis' title

	// RatioBase names the series that the bars of series with Ratio set are
	// divided by, shown in RatioText (a format with one %s) beside their values.
	RatioBase string `json:"ratio_base"`
	RatioText string `json:"ratio_text"`

	Series    []Series `json:"series"`
	Groups    []Group  `json:"groups"`
	Anchors   []Anchor `json:"anchors"`
	GoalLabel string   `json:"goal_label"`
	Notes     []string `json:"notes"`
}

// Series is one kind of bar (a system, a mode).
type Series struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Color string `json:"color"`
	Ratio bool   `json:"ratio"`
}

// Group is one band of bars.
type Group struct {
	Key    string           `json:"key"`
	Label  string           `json:"label"`
	Values map[string]Value `json:"values"` // by series key
	Goals  map[string]Value `json:"goals"`  // by series key: a tick across that bar
}

// Anchor is a published reference figure marked across the bands of some
// groups: a dashed line for a single value, a shaded span for a range.
type Anchor struct {
	Label  string           `json:"label"`
	Color  string           `json:"color"`
	Values map[string]Value `json:"values"` // by group key
}

// Value is a figure as the README prints it: "2.09 M", "155 K", "1.0–1.1 M",
// or text without a number ("n/a (never fsyncs)"), kept in Text.
type Value struct {
	Lo, Hi float64 // equal for a single figure; 0 for text
	Text   string  // the string as written
}

// IsNumber reports whether v holds a figure (not just text).
func (v Value) IsNumber() bool { return v.Hi > 0 }

// IsRange reports whether v is a span lo–hi.
func (v Value) IsRange() bool { return v.Hi > v.Lo }

// UnmarshalJSON accepts a string in the README's notation or a plain number.
func (v *Value) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*v = Value{Lo: f, Hi: f, Text: formatSI(f)}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("value %s: want a string or a number", b)
	}
	pv, err := ParseValue(s)
	if err != nil {
		return err
	}
	*v = pv
	return nil
}

// ParseValue parses "2.09 M", "155 K", "9.0 K", "1.0–1.1 M", "470–570 K",
// "1,234". A string that does not start with a digit is text (no bar).
func ParseValue(s string) (Value, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Value{}, fmt.Errorf("empty value")
	}
	if t[0] < '0' || t[0] > '9' {
		return Value{Text: t}, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "G"):
		mult = 1e9
	case strings.HasSuffix(t, "M"):
		mult = 1e6
	case strings.HasSuffix(t, "K"):
		mult = 1e3
	}
	if mult != 1 {
		t = strings.TrimSpace(t[:len(t)-1])
	}
	parts := strings.Split(strings.ReplaceAll(t, "–", "-"), "-")
	if len(parts) > 2 {
		return Value{}, fmt.Errorf("value %q: more than one range dash", s)
	}
	var nums []float64
	for _, p := range parts {
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(p), ",", ""), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return Value{}, fmt.Errorf("value %q: not a positive figure", s)
		}
		nums = append(nums, f*mult)
	}
	v := Value{Lo: nums[0], Hi: nums[len(nums)-1], Text: strings.TrimSpace(s)}
	if v.Hi < v.Lo {
		return Value{}, fmt.Errorf("value %q: range goes down", s)
	}
	return v, nil
}

// formatSI prints a figure the README's way, for values given as JSON numbers.
func formatSI(f float64) string {
	switch {
	case f >= 1e9:
		return strconv.FormatFloat(f/1e9, 'f', 2, 64) + " G"
	case f >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 2, 64) + " M"
	case f >= 1e3:
		return strconv.FormatFloat(f/1e3, 'f', 0, 64) + " K"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formatRatio prints riffle ÷ another figure: two decimals below 2, one above.
func formatRatio(r float64) string {
	if r < 2 {
		return strconv.FormatFloat(r, 'f', 2, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// LoadFigures reads and checks a figures file.
func LoadFigures(path string) (*Figures, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Figures
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

func (f *Figures) check() error {
	if len(f.Charts) == 0 {
		return fmt.Errorf("no charts")
	}
	files := map[string]bool{}
	for i := range f.Charts {
		c := &f.Charts[i]
		if c.File == "" || filepath.Base(c.File) != c.File || !strings.HasSuffix(c.File, ".png") {
			return fmt.Errorf("chart %d: file %q: want a bare name ending in .png", i, c.File)
		}
		if files[c.File] {
			return fmt.Errorf("chart %s: file named twice", c.File)
		}
		files[c.File] = true
		if c.Width == 0 {
			c.Width = 960
		}
		if c.Height == 0 {
			c.Height = 540
		}
		if c.Width < 400 || c.Height < 250 || c.Width > 4000 || c.Height > 4000 {
			return fmt.Errorf("chart %s: size %dx%d out of range", c.File, c.Width, c.Height)
		}
		series := map[string]bool{}
		for _, s := range c.Series {
			if s.Key == "" || series[s.Key] {
				return fmt.Errorf("chart %s: series key %q empty or repeated", c.File, s.Key)
			}
			series[s.Key] = true
			if _, err := parseColor(s.Color); err != nil {
				return fmt.Errorf("chart %s: series %s: %w", c.File, s.Key, err)
			}
			if s.Ratio && c.RatioBase == "" {
				return fmt.Errorf("chart %s: series %s wants a ratio but ratio_base is empty", c.File, s.Key)
			}
		}
		if c.RatioBase != "" && !series[c.RatioBase] {
			return fmt.Errorf("chart %s: ratio_base %q is no series", c.File, c.RatioBase)
		}
		if c.RatioBase != "" && strings.Count(c.RatioText, "%s") != 1 {
			return fmt.Errorf("chart %s: ratio_text %q: want exactly one %%s", c.File, c.RatioText)
		}
		groups := map[string]bool{}
		bars := 0
		for _, g := range c.Groups {
			if g.Key == "" || groups[g.Key] {
				return fmt.Errorf("chart %s: group key %q empty or repeated", c.File, g.Key)
			}
			groups[g.Key] = true
			for k := range g.Values {
				if !series[k] {
					return fmt.Errorf("chart %s: group %s: value of unknown series %q", c.File, g.Key, k)
				}
			}
			for k, v := range g.Goals {
				if _, ok := g.Values[k]; !ok || !v.IsNumber() {
					return fmt.Errorf("chart %s: group %s: goal for %q needs a figure and a bar", c.File, g.Key, k)
				}
			}
			bars += len(g.Values)
		}
		if bars == 0 {
			return fmt.Errorf("chart %s: no values", c.File)
		}
		for _, a := range c.Anchors {
			if _, err := parseColor(a.Color); err != nil {
				return fmt.Errorf("chart %s: anchor %q: %w", c.File, a.Label, err)
			}
			for k, v := range a.Values {
				if !groups[k] || !v.IsNumber() {
					return fmt.Errorf("chart %s: anchor %q: %q is no group, or its value no figure", c.File, a.Label, k)
				}
			}
		}
	}
	return nil
}

// parseColor parses "#rrggbb".
func parseColor(s string) (color.RGBA, error) {
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{}, fmt.Errorf("color %q: want #rrggbb", s)
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.RGBA{}, fmt.Errorf("color %q: want #rrggbb", s)
	}
	return color.RGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), 0xff}, nil
}
