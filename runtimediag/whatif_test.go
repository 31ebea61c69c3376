package runtimediag

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/gcmodel"
)

// TestWhatIfOnFixtures runs the GC model on every recorded window: each report has a what-if
// section that either predicts (a row per candidate, the current setting's row matching what was
// measured) or says why not; and the findings that recommend a setting quote its prediction.
func TestWhatIfOnFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "analyze", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	predicted := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			r := analyzeFixtureFile(t, name)
			if r.WindowSeconds == 0 {
				if r.WhatIf != nil {
					t.Errorf("what_if without a window: %+v", r.WhatIf)
				}
				return
			}
			wi := r.WhatIf
			if wi == nil {
				t.Fatal("what_if absent from a report with a window")
			}
			if len(wi.Refused) > 0 {
				if len(wi.Predictions) > 0 {
					t.Error("refused and predicted")
				}
				for _, x := range wi.Refused {
					if x.Reason == "" || x.Detail == "" {
						t.Errorf("refusal without reason or detail: %+v", x)
					}
				}
				return
			}
			predicted++
			if len(wi.Predictions) < 5 {
				t.Fatalf("%d predictions, want the 5 GOGC values at least", len(wi.Predictions))
			}
			for _, p := range wi.Predictions {
				if p.Setting != wi.Current.Setting {
					continue
				}
				if d := p.GCCyclesPerSecond - wi.Current.GCCyclesPerSecond; d*d > 1e-12 {
					t.Errorf("current setting predicted at %v cycles/s, measured %v", p.GCCyclesPerSecond, wi.Current.GCCyclesPerSecond)
				}
			}
			for _, fd := range r.Findings {
				switch fd.Code {
				case "gc_cpu_high", "gc_too_frequent", "gomemlimit_unset_in_container", "heap_near_gomemlimit":
					t.Logf("%s advice: %s", fd.Code, fd.Advice)
				}
			}
		})
	}
	_ = predicted // the recorded windows start before their workload built its heap: most are refused
}

// steadyFixture is a recorded fixture whose window start has the live heap of its end: the
// recordings start before the workload built its heap, which the model rightly refuses; this
// keeps everything else as recorded to test the plumbing from window to quoted advice.
func steadyFixture(t *testing.T, name string) *Report {
	t.Helper()
	in, err := loadAnalyzeFixture(t, name).input()
	if err != nil {
		t.Fatal(err)
	}
	prev := *in.Prev
	prev.Runtime.HeapLiveBytes = in.Cur.Runtime.HeapLiveBytes
	in.Prev = &prev
	return Analyze(in)
}

// TestFindingQuotesPrediction: gc_too_frequent on the small-object churn fixture recommends a
// higher GOGC and quotes what the model predicts for it.
func TestFindingQuotesPrediction(t *testing.T) {
	r := steadyFixture(t, "small_object_churn")
	if r.WhatIf == nil || len(r.WhatIf.Refused) > 0 {
		t.Fatalf("the window is refused: %+v", r.WhatIf)
	}
	if n := len(r.WhatIf.Predictions); n < 5 {
		t.Fatalf("%d predictions", n)
	}
	for _, f := range r.Findings {
		if f.Code == "gc_too_frequent" {
			if !strings.Contains(f.Advice, "Predicted (docs/whatif.md): GOGC=200 would take GC CPU from") {
				t.Errorf("advice does not quote the prediction: %s", f.Advice)
			}
			t.Logf("advice: %s", f.Advice)
			return
		}
	}
	t.Fatalf("gc_too_frequent did not fire: %v", findingCodes(r))
}

// TestQuoteAdaptiveLimit: in a container, the advice for an unset GOMEMLIMIT quotes the prediction
// for the adaptive limit, and the higher-GOGC advice skips settings that would not fit.
func TestQuoteAdaptiveLimit(t *testing.T) {
	const mib = 1 << 20
	w := gcmodel.Window{
		Seconds: 10, GOMAXPROCS: 2, GOGC: 100, MemoryLimitBytes: gcmodel.NoLimit,
		MarkedStartBytes: 100 * mib, MarkedBytes: 100 * mib, AllocBytes: 2000 * mib, Cycles: 25,
		CPU:              gcmodel.CPU{MarkDedicated: 0.7, MarkIdle: 0.2, MarkAssist: 0.1, Pause: 0.025, User: 10},
		HeapObjectsBytes: 150 * mib, HeapUnusedBytes: 15 * mib, GoOtherBytes: 20 * mib,
		NonGoKnown: true, NonGoResidentBytes: 200 * mib, ContainerLimitBytes: 512 * mib,
	}
	m := &whatIfModel{win: w, obs: gcmodel.Observe(&w), cands: gcmodel.Candidates(&w)}
	m.preds, m.err = gcmodel.Predict(&w, m.cands)
	if m.err != nil {
		t.Fatal(m.err)
	}
	q := m.quote(adviseAdaptiveLimit)
	for _, want := range []string{"GOGC=100 GOMEMLIMIT=286MiB would take GC CPU", "512 MiB minus 200 MiB of measured non-Go memory", "under the container limit"} {
		if !strings.Contains(q, want) {
			t.Errorf("quote %q lacks %q", q, want)
		}
	}
	// GOGC=200 peaks near 280 MiB of heap: with 200 MiB of C memory it does not fit 512 MiB, so no
	// higher GOGC is recommended.
	if q := m.quote(adviseHigherGOGC); q != "" {
		t.Errorf("recommends a GOGC that does not fit the container: %s", q)
	}
	w.NonGoResidentBytes = 10 * mib
	m = &whatIfModel{win: w, obs: gcmodel.Observe(&w), cands: gcmodel.Candidates(&w)}
	m.preds, m.err = gcmodel.Predict(&w, m.cands)
	if q := m.quote(adviseHigherGOGC); !strings.Contains(q, "GOGC=200 would take") {
		t.Errorf("with room in the container, GOGC=200 is not quoted: %q", q)
	}
}
