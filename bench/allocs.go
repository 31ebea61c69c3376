package bench

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
)

// allocRuns is how many calls AssertAllocs averages over, as testing.AllocsPerRun is usually
// called with.
const allocRuns = 100

// AssertAllocs fails t when f allocates more than want heap objects per call, averaged over
// 100 calls after one warm-up call. Unlike testing.AllocsPerRun the average is not truncated
// to an integer, and it is read from runtime/metrics rather than runtime.ReadMemStats; like
// it, every goroutine's allocations count, so do not call it from a parallel test.
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

// AllocsPerCall returns the heap objects allocated per call of f, averaged over runs calls
// after one warm-up call.
func AllocsPerCall(runs int, f func()) float64 {
	if runs < 1 {
		runs = 1
	}
	// Tiny objects share a block that allocs:objects counts once; count each, as the testing
	// package does.
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}
	f()
	// The runtime publishes allocation counts when a span leaves a P's cache; a GC flushes
	// the caches, so each read is exact.
	runtime.GC()
	metrics.Read(s)
	before := s[0].Value.Uint64() + s[1].Value.Uint64()
	for range runs {
		f()
	}
	runtime.GC()
	metrics.Read(s)
	return float64(s[0].Value.Uint64()+s[1].Value.Uint64()-before) / float64(runs)
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
