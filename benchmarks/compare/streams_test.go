package compare

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStreamSystemsAgree runs every stream system on every workload it implements, at a
// tiny size, in this process, and checks that each run's outputs match the model and
// that the systems' outputs agree with each other line for line (totals per key for
// the systems whose windows are processing-time ones). Correctness only: no timing is
// checked.
func TestStreamSystemsAgree(t *testing.T) {
	sizes := map[StreamWorkload][2]int{ // records, keys
		KeyedCount:    {20000, 1000},
		Transform:     {5000, 0},
		WindowedCount: {5000, 7},
	}
	for _, w := range AllStreamWorkloads {
		t.Run(string(w), func(t *testing.T) {
			var ref []string // riffle's (or the first event-time system's) lines
			var refSys string
			var refTotals map[string]int64
			ran := 0
			for _, sys := range StreamSystems() {
				if sys.Runs[w] == nil {
					continue
				}
				ran++
				spec := StreamSpec{Workload: w, System: sys.Name, Records: sizes[w][0], Keys: sizes[w][1],
					Dir: t.TempDir(), Collect: true, CheckpointInterval: 5 * time.Millisecond}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				oc, err := RunStream(ctx, spec)
				cancel()
				if err != nil {
					t.Errorf("%s: %v", sys.Name, err)
					continue
				}
				if oc.CheckErr != "" {
					t.Errorf("%s: output differs from the model (%s): %s", sys.Name, oc.Check, oc.CheckErr)
				}
				t.Logf("%s: %d outputs, checked %s; %s", sys.Name, oc.Outputs, oc.Check, strings.Join(oc.Details, "; "))
				if int(oc.Outputs) != len(oc.Lines) {
					t.Errorf("%s: %d outputs counted, %d collected", sys.Name, oc.Outputs, len(oc.Lines))
				}
				if w == KeyedCount && sys.Name == "riffle" && oc.Checkpoints < 2 {
					// Exactly-once with checkpoints taken while records flow, not only the
					// final commit: the run must have committed several epochs.
					t.Errorf("riffle: %d checkpoint epochs committed, want at least 2", oc.Checkpoints)
				}
				if w == WindowedCount && sys.ProcessingTimeWindows {
					totals, err := windowTotals(oc.Lines)
					if err != nil {
						t.Fatalf("%s: %v", sys.Name, err)
					}
					if refTotals == nil {
						t.Fatalf("%s runs before any event-time system", sys.Name)
					}
					if !mapsEqual(totals, refTotals) {
						t.Errorf("%s: totals per key %v, %s's %v", sys.Name, totals, refSys, refTotals)
					}
					continue
				}
				if ref == nil {
					ref, refSys = oc.Lines, sys.Name
					if len(ref) == 0 {
						t.Fatalf("%s: no output", sys.Name)
					}
					if w == WindowedCount {
						if refTotals, err = windowTotals(ref); err != nil {
							t.Fatal(err)
						}
					}
					continue
				}
				if !slices.Equal(oc.Lines, ref) {
					t.Errorf("%s: %d outputs differ from %s's %d: %s", sys.Name, len(oc.Lines), refSys, len(ref), firstDiff(oc.Lines, ref))
				}
			}
			if ran < 2 {
				t.Errorf("%d systems implement %s: nothing is compared", ran, w)
			}
		})
	}
}

// TestStreamCheckCatchesWrongOutputs makes sure the model check rejects a lost, a
// duplicated and a wrong output.
func TestStreamCheckCatchesWrongOutputs(t *testing.T) {
	spec := StreamSpec{Workload: KeyedCount, Records: 100, Keys: 10}
	in := NewStreamInput(spec)
	emit := func(skip, dup, wrong int) *Outputs {
		o := newOutputs(KeyedCount, false, func() {}, func() {})
		seen := make([]int64, spec.Keys)
		for i := range spec.Records {
			k := i % spec.Keys
			seen[k]++
			n := seen[k]
			if i == wrong {
				n++
			}
			if i != skip {
				o.Count([]byte(CountKey(i, spec.Keys)), n)
			}
			if i == dup {
				o.Count([]byte(CountKey(i, spec.Keys)), n)
			}
		}
		return o
	}
	if _, err := emit(-1, -1, -1).check(in, true); err != nil {
		t.Fatalf("the right outputs fail the check: %v", err)
	}
	for name, o := range map[string]*Outputs{"lost": emit(42, -1, -1), "duplicated": emit(-1, 42, -1), "wrong": emit(-1, -1, 42)} {
		if _, err := o.check(in, true); err == nil {
			t.Errorf("a %s output passed the check", name)
		}
	}
}

// windowTotals sums the counts per key of window lines KEY<TAB>START<TAB>N.
func windowTotals(lines []string) (map[string]int64, error) {
	totals := map[string]int64{}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("window output %q is not KEY<TAB>START<TAB>N", l)
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, err
		}
		totals[f[0]] += n
	}
	return totals, nil
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("line %d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d vs %d lines)", len(a), len(b))
}
