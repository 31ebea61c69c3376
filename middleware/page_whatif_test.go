package middleware

import (
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestPageWhatIf renders the recorded report with a what-if table, and with a refusal.
func TestPageWhatIf(t *testing.T) {
	rec := loadRecorded(t)
	last := rec.History[len(rec.History)-1]
	peak, res, goal := uint64(470<<20), uint64(600<<20), uint64(480<<20)
	head, over := int64(180<<20), int64(-40<<20)
	lim := int64(286 << 20)
	rep := *rec.Report
	rep.WhatIf = &runtimediag.WhatIf{
		Assumptions: "steady allocation rate and live heap over the window",
		Current:     runtimediag.WhatIfRow{Setting: "GOGC=100", GOGC: 100, GCCyclesPerSecond: 4, GCCPUFraction: 0.118, GCAssistCPUFraction: 0.01},
		Predictions: []runtimediag.WhatIfRow{
			{Setting: "GOGC=200", GOGC: 200, GCCyclesPerSecond: 2, GCCPUFraction: 0.061, HeapGoalBytes: &goal, PeakHeapBytes: &peak, PeakResidentBytes: &res, ContainerHeadroomBytes: &head},
			{Setting: "GOGC=400", GOGC: 400, GCCyclesPerSecond: 1, GCCPUFraction: 0.03, PeakHeapBytes: &peak, PeakResidentBytes: &res, ContainerHeadroomBytes: &over},
			{Setting: "GOGC=off GOMEMLIMIT=286MiB", GOGC: -1, GOMEMLIMITBytes: &lim, GCCyclesPerSecond: 3, GCCPUFraction: 0.09, PeakHeapBytes: &peak, LimitBinds: true},
			{Setting: "GOGC=off", GOGC: -1, HeapUnbounded: true},
		},
	}
	page := renderString(t, &pageInput{Point: last, Report: &rep, History: rec.History, Nonce: testNonce})
	for _, want := range []string{`<section id="whatif">`, `<tr class="current"><td>GOGC=100 (now, measured)</td>`, "11.8%", "<td>GOGC=200</td>", "6.1%",
		"470 MiB", "600 MiB", "180 MiB", `<td class="num over">-40.0 MiB</td>`, "limit binds", "unbounded"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	rep.WhatIf = &runtimediag.WhatIf{Assumptions: "steady", Refused: []runtimediag.WhatIfRefusal{{Reason: "too_few_cycles", Detail: "1 GC cycles in 10 s, need at least 3"}}}
	page = renderString(t, &pageInput{Point: last, Report: &rep, History: rec.History, Nonce: testNonce})
	if !strings.Contains(page, "no prediction for this window: too_few_cycles: 1 GC cycles in 10 s, need at least 3.") {
		t.Error("refusal not shown")
	}
}
