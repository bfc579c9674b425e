package log

import (
	"io/fs"
	"os"
	"path/filepath"
)

// snapshotDir copies a data directory as it is now: what a process killed at this moment
// leaves behind (the page cache survives a process crash).
func snapshotDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}
