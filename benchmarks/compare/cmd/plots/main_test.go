package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const figuresFile = "../../../data/figures.json"

// TestRender draws every chart of the committed data file into a temporary
// directory and checks that each PNG decodes at the size the data file asks for.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	written, err := run(figuresFile, dir)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := LoadFigures(figuresFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(figs.Charts) || len(written) < 2 {
		t.Fatalf("wrote %v for %d charts", written, len(figs.Charts))
	}
	for i, c := range figs.Charts {
		if written[i] != filepath.Join(dir, c.File) {
			t.Errorf("chart %d written to %s, want %s", i, written[i], c.File)
		}
		f, err := os.Open(written[i])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		if b := img.Bounds(); b.Dx() != c.Width || b.Dy() != c.Height {
			t.Errorf("%s: %dx%d, want %dx%d", c.File, b.Dx(), b.Dy(), c.Width, c.Height)
		}
	}
	for _, want := range []string{"nexmark.png", "log-peers.png"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Error(err)
		}
	}
}

// TestFiguresMatchREADME checks that every figure of the data file is printed in
// benchmarks/README.md as written: a README whose tables changed needs the data
// file (and the plots) brought up to date.
func TestFiguresMatchREADME(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Skip(err)
	}
	figs, err := LoadFigures(figuresFile)
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, v Value) {
		if !strings.Contains(string(readme), v.Text) {
			t.Errorf("%s: %q is not in benchmarks/README.md: update benchmarks/data/figures.json and regenerate the plots (cd benchmarks/compare && go run ./cmd/plots)", where, v.Text)
		}
	}
	for _, c := range figs.Charts {
		for _, g := range c.Groups {
			for k, v := range g.Values {
				check(c.File+" "+g.Key+" "+k, v)
			}
			for k, v := range g.Goals {
				check(c.File+" "+g.Key+" goal "+k, v)
			}
		}
		for _, a := range c.Anchors {
			for k, v := range a.Values {
				check(c.File+" anchor "+k, v)
			}
		}
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi float64
		text   bool
	}{
		{"2.09 M", 2.09e6, 2.09e6, false},
		{"155 K", 155e3, 155e3, false},
		{"9.0 K", 9e3, 9e3, false},
		{"1.0–1.1 M", 1.0e6, 1.1e6, false},
		{"470-570 K", 470e3, 570e3, false},
		{"1,234", 1234, 1234, false},
		{"n/a (never fsyncs)", 0, 0, true},
	} {
		v, err := ParseValue(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if !near(v.Lo, tc.lo) || !near(v.Hi, tc.hi) || v.IsNumber() == tc.text || v.Text != tc.in {
			t.Errorf("%q: got %+v", tc.in, v)
		}
	}
	for _, bad := range []string{"", "2.x M", "3–1 M", "1–2–3 K", "0 K"} {
		if _, err := ParseValue(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func near(a, b float64) bool { return a == b || (a-b)/b < 1e-9 && (b-a)/b < 1e-9 }
