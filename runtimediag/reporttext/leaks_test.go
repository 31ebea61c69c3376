package reporttext

import (
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestWhatGrows: every kind of suspect is rendered with its certainty, rate, culprit and advice,
// in the report's text and alone.
func TestWhatGrows(t *testing.T) {
	p := 0.0004
	since := time.Date(2026, 12, 5, 6, 31, 2, 0, time.UTC)
	l := &runtimediag.Leaks{
		Suspects: []runtimediag.LeakSuspect{
			{Kind: runtimediag.LeakHeapSite, Certainty: runtimediag.LeakSignificant, PValue: &p, Unit: "bytes",
				GrowthPerSecond: 1 << 20 / 60.0, Current: 48 << 20, Since: since,
				Culprit:  runtimediag.LeakCulprit{Function: "main.(*cache).put", File: "/src/cache.go", Line: 42, Stack: []string{"main.(*cache).put /src/cache.go:42", "main.serve /src/main.go:10"}},
				Headline: "heap retained at main.(*cache).put grows", Advice: "evict", Finding: runtimediag.FindingHeapGrowingAtSite},
			{Kind: runtimediag.LeakGoroutineGroup, Certainty: runtimediag.LeakWeak, Unit: "goroutines", GrowthPerSecond: 2, Current: 1500, Since: since,
				Culprit:  runtimediag.LeakCulprit{Function: "main.worker", File: "/src/w.go", Line: 7, CreatedBy: "main.serve"},
				Headline: "goroutines in main.worker grow", Finding: runtimediag.FindingGoroutineGroupGrowing},
		},
		Notes: []string{"few readings"},
	}
	var b strings.Builder
	if err := Write(&b, &runtimediag.Report{Leaks: l}, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"WHAT GROWS (2 suspects", "[significant p=0.0004] heap_site  +1.0 MiB/min  now 48.0 MiB  since 2026-12-05 06:31:02Z",
		"culprit main.(*cache).put /src/cache.go:42", "evict", "main.serve /src/main.go:10",
		"[weak] goroutine_group  +120 goroutines/min  now 1500 goroutines", "created by main.serve", "(few readings)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteLeaks(&b, l); err != nil || !strings.HasPrefix(b.String(), "WHAT GROWS") {
		t.Errorf("alone: %v %q", err, b.String())
	}
	b.Reset()
	if err := Write(&b, &runtimediag.Report{}, ""); err != nil || strings.Contains(b.String(), "WHAT GROWS") {
		t.Errorf("no leaks section expected when tracking is off: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := WriteLeaks(&b, nil); err != nil || !strings.Contains(b.String(), "off") {
		t.Errorf("off: %v %q", err, b.String())
	}
}
