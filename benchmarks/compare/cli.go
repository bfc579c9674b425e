package compare

import (
	"io"
	"os"
	"strings"
)

// SplitList splits a comma-separated flag value, dropping blanks (the commands' lists
// of systems and workloads).
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// WriteFile creates path and has write fill it (the commands' --out files).
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
