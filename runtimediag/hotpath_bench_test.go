package runtimediag

import (
	"testing"

	"github.com/memdiag/memdiag/bench"
)

// BenchmarkHotPathCheapSnapshot is the periodic read as memdiag's own allocation gate sees it
// (.ci/gate-hotpaths, budgets in .ci/alloc-budgets.txt): a warm ReadCheap into a reused
// Snapshot. bench.Measure adds the untruncated frac-allocs/op and frac-B/op, so that an
// allocation on one call in ten, which allocs/op truncates to 0, still shows; gc-cycles/op; and
// stw-ns/op, which must stay at the testing package's own pauses because ReadCheap never stops
// the world.
//
// It skips when a cheap source cannot be read on this machine (no cgroup memory controller,
// no /proc): the read would then measure an error path, not the hot path, and the gate reports
// the missing benchmark as inconclusive rather than passing it.
func BenchmarkHotPathCheapSnapshot(b *testing.B) {
	c, err := NewCollector()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var s Snapshot
	// Two warm-up reads: the first sizes the buffers and opens the files, the second proves
	// the sources are readable here.
	c.ReadCheap(&s)
	c.ReadCheap(&s)
	if p := s.Problems(); len(p) > 0 {
		b.Skipf("the cheap tier is not fully readable here: %v", p)
	}
	b.ReportAllocs()
	bench.Measure(b)
	for b.Loop() {
		c.ReadCheap(&s)
	}
}
