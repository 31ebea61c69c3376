package reporttext

import (
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

func TestWhatIfSection(t *testing.T) {
	peak, res := uint64(470<<20), uint64(600<<20)
	head := int64(180 << 20)
	rep := &runtimediag.Report{WhatIf: &runtimediag.WhatIf{
		Assumptions: "steady",
		Current:     runtimediag.WhatIfRow{Setting: "GOGC=100", GOGC: 100, GCCyclesPerSecond: 4, GCCPUFraction: 0.118},
		Predictions: []runtimediag.WhatIfRow{
			{Setting: "GOGC=200", GOGC: 200, GCCyclesPerSecond: 2, GCCPUFraction: 0.061, PeakHeapBytes: &peak, PeakResidentBytes: &res, ContainerHeadroomBytes: &head},
			{Setting: "GOGC=off", GOGC: -1, HeapUnbounded: true},
		},
	}}
	var b strings.Builder
	if err := Write(&b, rep, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"WHAT IF", "GOGC=100 (now, measured)", "11.8%", "GOGC=200", "6.1%", "470 MiB", "600 MiB", "180 MiB", "unbounded", "assuming steady"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}

	rep.WhatIf.Predictions = nil
	rep.WhatIf.Refused = []runtimediag.WhatIfRefusal{{Reason: "too_few_cycles", Detail: "1 GC cycle"}}
	b.Reset()
	if err := Write(&b, rep, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "no prediction: too_few_cycles: 1 GC cycle") {
		t.Errorf("refusal not shown:\n%s", b.String())
	}
}
