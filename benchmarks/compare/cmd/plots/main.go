// Command plots draws the PNG charts of benchmarks/README.md from the figures in
// benchmarks/data/figures.json: Nexmark throughput per query against the published
// anchors (nexmark.png), the log against its peers (log-peers.png), and any other
// chart the data file lists (one PNG per entry of "charts").
//
//	cd benchmarks/compare && go run ./cmd/plots [--data ../data/figures.json] [--out ../plots]
//
// The figures are copied by hand from the README's tables into the data file, in
// the README's notation ("2.09 M", "155 K", "1.0–1.1 M"); the charts are drawn with
// the Go fonts of golang.org/x/image, so no system font or plotting tool is needed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

func main() {
	data := flag.String("data", "../data/figures.json", "figures file (JSON)")
	out := flag.String("out", "../plots", "directory the PNGs are written to")
	flag.Parse()
	files, err := run(*data, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plots:", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}

// run draws every chart of the data file into dir and returns the paths written.
func run(data, dir string) ([]string, error) {
	figs, err := LoadFigures(data)
	if err != nil {
		return nil, err
	}
	fs, err := newFaces()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for i := range figs.Charts {
		c := &figs.Charts[i]
		img, err := Render(c, fs)
		if err != nil {
			return written, err
		}
		path := filepath.Join(dir, c.File)
		if err := writePNG(path, img); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(w, img); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
