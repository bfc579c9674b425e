package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDemoRunsAndStops checks the demo's shape, not its timing: it creates its data
// directory, reports progress, stops after --duration and says what to try next.
func TestDemoRunsAndStops(t *testing.T) {
	dir := t.TempDir()
	r := ok(t, "", "demo", "--data", dir, "--duration", "2500ms", "--rate", "5000")
	assert.Contains(t, r.stdout, "data directory: "+dir)
	assert.Contains(t, r.stdout, "in ")
	assert.Contains(t, r.stdout, "events produced")
	assert.Contains(t, r.stdout, "What to try next")
	o := ok(t, "", "log", "topics", "list", "--data", dir)
	assert.Contains(t, o.stdout, "events")
	f := riffle(t, "", "demo", "--rate", "0")
	assert.Equal(t, 2, f.code)
}
