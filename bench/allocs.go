package bench

import (
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// allocRuns is how many calls one measurement of AssertAllocs averages over, as
// testing.AllocsPerRun is usually called with; allocRepeats is how many measurements it takes,
// keeping the smallest.
const (
	allocRuns    = 100
	allocRepeats = 5
)

// AssertAllocs fails t when f allocates more than want heap objects per call.
//
// It measures the way testing.AllocsPerRun does, so that only f's allocations count: f is
// called once outside the window (to warm up whatever it initialises on first use), GOMAXPROCS
// is 1 while it measures (other goroutines run only when f blocks or is preempted), and the
// counts come from runtime.ReadMemStats, which flushes every P's allocation cache and so is
// exact. Unlike testing.AllocsPerRun it measures 5 times over 100 calls and keeps the smallest
// average, not truncated to an integer: a goroutine that slipped into one measurement does not
// fail the test, and an allocation every tenth call still shows as 0.1. ReadMemStats stops the
// world twice per measurement; this is a test helper, never a periodic path. Do not call it from
// a parallel test.
//
// It skips under the race detector and when the package is built with optimisation off
// (-gcflags=-N), where escape analysis differs and allocation counts are not the ones the
// budget is about.
func AssertAllocs(t testing.TB, want float64, f func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	if optimizationOff() {
		t.Skip("allocation counts differ with optimisation off")
	}
	got := AllocsPerCall(allocRuns, f)
	if got > want {
		t.Errorf("allocates %.4g objects per call, budget %g", got, want)
		return
	}
	if got < want {
		t.Logf("allocates %.4g objects per call, under the budget of %g: the budget can be lowered", got, want)
	}
}

// AllocsPerCall returns the heap objects allocated per call of f, as AssertAllocs measures them:
// after one warm-up call, with GOMAXPROCS 1, the smallest of 5 averages over runs calls each.
func AllocsPerCall(runs int, f func()) float64 {
	if runs < 1 {
		runs = 1
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var ms runtime.MemStats
	// Warm up outside the window: f's first-use work and ReadMemStats's own.
	f()
	runtime.ReadMemStats(&ms)
	best := math.Inf(1)
	for range allocRepeats {
		// Mallocs counts tiny allocations one by one, as the testing package does.
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		for range runs {
			f()
		}
		runtime.ReadMemStats(&ms)
		best = min(best, float64(ms.Mallocs-before)/float64(runs))
	}
	return best
}

// optimizationOff reports whether the binary was built with -gcflags containing -N.
func optimizationOff() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-gcflags" {
			for _, f := range strings.Fields(s.Value) {
				if f == "-N" || strings.HasSuffix(f, "=-N") {
					return true
				}
			}
		}
	}
	return false
}
