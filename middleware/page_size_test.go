package middleware

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// pageBudgetBytes bounds the page with an hour of 1 s history: it carries at most
// maxChartPoints rows and maxPagePauses pauses, whatever the ring holds.
const pageBudgetBytes = 1 << 20

// TestPageSizeWithAnHourOfHistory renders the page and history.json for an hour of 1 s ticks,
// each a copy of a real tick's point (with its GC pauses), and logs their sizes
// (docs/performance.md quotes them).
func TestPageSizeWithAnHourOfHistory(t *testing.T) {
	if alonetest.Run(t) {
		return
	}
	mon := newTestMonitor(t, runtimediag.WithTickInterval(time.Second))
	if err := mon.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var p runtimediag.Point
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		p, _ = mon.Latest()
		if len(mon.History()) >= 2 {
			break
		}
	}
	if len(mon.History()) < 2 {
		t.Fatal("no second tick in 10 s")
	}
	// A pause in every point, as a service collecting about once a second has.
	b, _ := json.Marshal(p)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	hist := make([]runtimediag.Point, 3600)
	for i := range hist {
		at := base.Add(time.Duration(i) * time.Second)
		m["time"] = at
		m["gc_pauses"] = []map[string]any{{"end": at.Add(-time.Millisecond), "duration_seconds": 0.00025}}
		m["gc_pauses_since_previous_count"] = 1
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &hist[i]); err != nil {
			t.Fatal(err)
		}
	}
	hj, err := json.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	// The same history with only the keys a Point had before the plots' figures.
	old := 0
	for _, pt := range hist {
		b, _ := json.Marshal(pt)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		for k := range m {
			switch k {
			case "time", "resident_bytes", "go_total_bytes", "heap_objects_bytes", "heap_live_bytes", "heap_goal_bytes", "heap_released_bytes",
				"limit_bytes", "cgroup_usage_bytes", "alloc_bytes_total", "gc_cycles_total", "gc_cpu_seconds_total",
				"cpu_available_seconds_total", "pause_gc_max_seconds", "goroutines", "threads":
			default:
				delete(m, k)
			}
		}
		b, _ = json.Marshal(m)
		old += len(b) + 1
	}
	page := renderString(t, &pageInput{Point: hist[len(hist)-1], History: hist, Nonce: testNonce})
	t.Logf("an hour of 1 s points: history.json %d bytes (%d with the keys a Point had before the plots' figures); page %d bytes",
		len(hj), old+1, len(page))
	if len(page) > pageBudgetBytes {
		t.Errorf("the page with an hour of history is %d bytes, budget %d", len(page), pageBudgetBytes)
	}
}
