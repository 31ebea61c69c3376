package middleware

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestTimeTicks: a time can be read off any span, from seconds to a day: at least three labels
// (two for the shortest spans), at most maxTimeTicks, at round instants inside the span.
func TestTimeTicks(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 6, 0, 0, 123e6, time.UTC).UnixMilli()
	for _, span := range []time.Duration{3 * time.Second, 40 * time.Second, 5 * time.Minute, 17 * time.Minute, time.Hour, 6 * time.Hour, 26 * time.Hour} {
		ticks := timeTicks(t0, t0+span.Milliseconds())
		if len(ticks) < 3 || len(ticks) > maxTimeTicks {
			t.Errorf("%s: %d labels %v, want 3 to %d", span, len(ticks), ticks, maxTimeTicks)
		}
		for _, tk := range ticks {
			if tk.at < t0 || tk.at > t0+span.Milliseconds() || tk.at%1000 != 0 {
				t.Errorf("%s: label %v outside the span or not on a whole second", span, tk)
			}
			if got := time.UnixMilli(tk.at).UTC().Format("15:04:05"); !strings.HasPrefix(got, tk.label) {
				t.Errorf("%s: label %q at %s", span, tk.label, got)
			}
		}
	}
}

// TestUnreadIsAGap: an unmeasured value breaks a line and a stacked band; it is never drawn as 0.
func TestUnreadIsAGap(t *testing.T) {
	times := []int64{0, 1000, 2000, 3000}
	x := func(ms int64) float64 { return float64(ms) / 10 }
	y := func(v float64) float64 { return 100 - v }
	nan := math.NaN()
	if got, want := linePath(times, []float64{1, nan, 3, 4}, x, y), "M0,99 M200,97 L300,96"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	own := []float64{1, nan, 3, 4}
	if got, want := areaPath(times, []float64{1, 0, 3, 4}, []float64{0, 0, 0, 0}, own, x, y), "M0,99 L0,100ZM200,97 L300,96 L300,100 L200,100Z"; got != want {
		t.Errorf("area %q, want %q", got, want)
	}
	// A point without the non-Go categories has them as NaN columns, and null in the page's rows.
	cols := pointColumns(0)
	p := runtimediag.Point{RSSEstimated: true}
	for _, c := range cols {
		v := c.get(&p)
		switch {
		case c.key == "rss_go_heap_objects_bytes" && v != 0:
			t.Errorf("%s = %v, want the 0 that was read", c.key, v)
		case (c.key == "rss_c_heap_bytes" || c.key == "sched_latency_p99_seconds" || c.key == "resident_bytes" ||
			strings.HasPrefix(c.key, "live_objects")) && !math.IsNaN(v):
			t.Errorf("%s = %v for a point that did not read it, want NaN", c.key, v)
		}
	}
	if b, _ := jsonNum(nan).MarshalJSON(); string(b) != "null" {
		t.Errorf("NaN is %s in JSON, want null", b)
	}
}
