package compare

import (
	"context"
	"testing"
	"time"
)

// TestEverySystemRoundTrips runs every workload at a tiny size on every system and
// checks that what was appended reads back in order: the harness must not compare
// systems that lose or reorder messages.
func TestEverySystemRoundTrips(t *testing.T) {
	cfg := Config{
		Messages: 3000, SmallMessages: 3000, Batch: 500,
		SyncProducers: 8, SyncMessages: 200, SyncDuration: 200 * time.Millisecond,
		Runs: 1, Dir: t.TempDir(),
	}
	rows, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[string(r.Workload)+"/"+r.System] = true
		switch r.Status {
		case "ok":
			if r.Messages <= 0 || r.MsgsPerSec <= 0 {
				t.Errorf("%s %s: %d messages at %.0f msgs/s", r.Workload, r.System, r.Messages, r.MsgsPerSec)
			}
		case "n/a":
			if r.Note == "" {
				t.Errorf("%s %s: n/a without a reason", r.Workload, r.System)
			}
		default:
			t.Errorf("%s %s: %s: %s", r.Workload, r.System, r.Status, r.Note)
		}
	}
	for _, s := range Defaults().Systems {
		for _, w := range AllWorkloads {
			if !seen[string(w)+"/"+s.Name] {
				t.Errorf("no row for %s %s", w, s.Name)
			}
		}
	}
	if testing.Verbose() {
		WriteTable(t.Output(), rows)
	}
}

func TestBodiesCheck(t *testing.T) {
	b := NewBodies(100)
	if err := b.Check(7, b.At(7)); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(7, b.At(8)); err == nil {
		t.Fatal("message 8's body passed as message 7's")
	}
	if err := b.Check(7, b.At(7)[:99]); err == nil {
		t.Fatal("a short body passed")
	}
}
