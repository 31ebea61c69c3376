package bench

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
)

// Indices into meter.samples; the order matches sampleNames.
const (
	idxAllocBytes = iota
	idxAllocObjects
	idxTinyAllocs
	idxGCCycles
	idxPausesGC
	idxPausesOther
	idxHeapObjects
	idxHeapLive
	numSamples
)

var sampleNames = [numSamples]string{
	idxAllocBytes:   "/gc/heap/allocs:bytes",
	idxAllocObjects: "/gc/heap/allocs:objects",
	idxTinyAllocs:   "/gc/heap/tiny/allocs:objects",
	idxGCCycles:     "/gc/cycles/total:gc-cycles",
	idxPausesGC:     "/sched/pauses/total/gc:seconds",
	idxPausesOther:  "/sched/pauses/total/other:seconds",
	idxHeapObjects:  "/memory/classes/heap/objects:bytes",
	idxHeapLive:     "/gc/heap/live:bytes",
}

// reading is one observation of the cumulative counters a run is measured by.
type reading struct {
	allocBytes, allocObjects, gcCycles uint64
	heapObjects, heapLive              uint64
	// pauseCounts are the bucket counts of the two pause histograms, copied out because
	// metrics.Read reuses the histogram it filled last time.
	pauseCounts [2][]uint64
	resident    int64
	residentOK  bool
}

// meter owns the metric buffer of one benchmark run; it is not shared between runs, so
// parallel sub-benchmarks never race on it.
type meter struct {
	samples []metrics.Sample
	start   reading
	end     reading
	stat    residentReader
}

func newMeter() *meter {
	m := &meter{samples: make([]metrics.Sample, numSamples)}
	for i, name := range sampleNames {
		m.samples[i].Name = name
	}
	return m
}

// read fills r without allocating once r's histogram slices have grown to size.
func (m *meter) read(r *reading) {
	metrics.Read(m.samples)
	r.allocBytes = uint64Value(m.samples[idxAllocBytes])
	r.allocObjects = allocObjects(m.samples)
	r.gcCycles = uint64Value(m.samples[idxGCCycles])
	r.heapObjects = uint64Value(m.samples[idxHeapObjects])
	r.heapLive = uint64Value(m.samples[idxHeapLive])
	for i, idx := range [2]int{idxPausesGC, idxPausesOther} {
		s := m.samples[idx]
		if s.Value.Kind() != metrics.KindFloat64Histogram {
			r.pauseCounts[i] = r.pauseCounts[i][:0]
			continue
		}
		r.pauseCounts[i] = append(r.pauseCounts[i][:0], s.Value.Float64Histogram().Counts...)
	}
	r.resident, r.residentOK = m.stat.resident()
}

// allocObjects adds tiny objects back: allocs:objects counts a tiny block once however many
// tiny objects share it, and the testing package's allocs/op counts each.
func allocObjects(s []metrics.Sample) uint64 {
	return uint64Value(s[idxAllocObjects]) + uint64Value(s[idxTinyAllocs])
}

func uint64Value(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// pauses counts the stop-the-world pauses between two readings and estimates their total
// time from the histogram bucket counts: each pause counts as the midpoint of its bucket (the
// lower bound for the open top bucket). The runtime's pause buckets are narrow (a few percent of
// their value), which bounds the error of the estimate; the count is exact.
func (m *meter) pauses(start, end *reading) (count uint64, nanos float64) {
	var total float64
	for i, idx := range [2]int{idxPausesGC, idxPausesOther} {
		s := m.samples[idx]
		if s.Value.Kind() != metrics.KindFloat64Histogram {
			continue
		}
		buckets := s.Value.Float64Histogram().Buckets
		a, b := start.pauseCounts[i], end.pauseCounts[i]
		for j := 0; j < len(b) && j < len(a) && j+1 < len(buckets); j++ {
			n := b[j] - a[j]
			if n == 0 {
				continue
			}
			count += n
			lo, hi := buckets[j], buckets[j+1]
			mid := lo
			switch {
			case math.IsInf(lo, -1):
				mid = hi
			case !math.IsInf(hi, 1):
				mid = (lo + hi) / 2
			}
			total += float64(n) * mid * 1e9
		}
	}
	return count, total
}

// Result is what [Measure] reports for one run, also returned by [Measurement.Stop] so that
// callers outside testing.B can use the same figures.
type Result struct {
	// N is the number of iterations the figures are divided by.
	N int
	// AllocsPerOp and BytesPerOp are heap objects and bytes allocated per iteration.
	AllocsPerOp, BytesPerOp float64
	// GCCyclesPerOp is completed GC cycles per iteration.
	GCCyclesPerOp float64
	// STWNanosPerOp is stop-the-world time per iteration, estimated from the pause histograms.
	STWNanosPerOp float64
	// STWPausesPerOp is stop-the-world pauses per iteration, counted exactly: unlike their
	// duration, their number does not depend on how busy the machine is.
	STWPausesPerOp float64
	// PeakHeapBytes is the largest /memory/classes/heap/objects:bytes seen at the start or the
	// end of the run; peaks between the two are not observed.
	PeakHeapBytes uint64
	// RetainedHeapBytes is /gc/heap/live:bytes after a GC at the end minus at the start
	// (negative when the run freed memory that was live before it).
	RetainedHeapBytes int64
	// ResidentGrowthBytes is resident memory at the end minus at the start; valid only when
	// ResidentOK.
	ResidentGrowthBytes int64
	ResidentOK          bool
}

// Measurement is a window opened by [Start]. It is owned by one goroutine.
type Measurement struct {
	m *meter
}

// Start opens a measurement window. It runs one GC and allocates before it reads, so the
// window's own figures include neither; [Measurement.Stop] allocates nothing once the pause
// histograms have been read once.
func Start() *Measurement {
	w := &Measurement{m: newMeter()}
	m := w.m
	// The first reads size both readings' histogram copies and open statm; only the last
	// read, which allocates nothing, opens the window. The GC between them flushes the
	// per-P allocation caches, whose counts the runtime publishes only when a span leaves a
	// cache, so that the window starts from exact counters.
	m.read(&m.end)
	m.read(&m.start)
	runtime.GC()
	m.read(&m.start)
	return w
}

// Stop closes the window and divides by n iterations (n < 1 is taken as 1). It forces one GC
// after reading the GC and pause counters, to make the allocation counters exact and to
// measure what the window left live; that GC is outside the window.
func (w *Measurement) Stop(n int) Result {
	m := w.m
	m.read(&m.end)
	if n < 1 {
		n = 1
	}
	s, e := &m.start, &m.end
	fn := float64(n)
	pauses, pauseNanos := m.pauses(s, e)
	r := Result{
		N:              n,
		GCCyclesPerOp:  float64(e.gcCycles-s.gcCycles) / fn,
		STWNanosPerOp:  pauseNanos / fn,
		STWPausesPerOp: float64(pauses) / fn,
		PeakHeapBytes:  max(s.heapObjects, e.heapObjects),
	}
	if e.residentOK && s.residentOK {
		r.ResidentGrowthBytes = e.resident - s.resident
		r.ResidentOK = true
	}
	// The runtime counts small allocations when a span leaves a P's cache, so the counters
	// lag by whatever the cached spans hold. A GC flushes every cache: read the allocation
	// counters after one, and the window's end is as exact as its start. The GC's cycle and
	// pause were read above, outside the window.
	runtime.GC()
	metrics.Read(m.samples)
	r.AllocsPerOp = float64(allocObjects(m.samples)-s.allocObjects) / fn
	r.BytesPerOp = float64(uint64Value(m.samples[idxAllocBytes])-s.allocBytes) / fn
	r.RetainedHeapBytes = int64(uint64Value(m.samples[idxHeapLive])) - int64(s.heapLive)
	m.stat.close()
	return r
}

// Measure opens a measurement window now and reports its figures with b.ReportMetric when
// the benchmark function returns, divided by the final b.N. Call it once per benchmark
// function, right before the loop; each of the testing package's runs of the function gets its
// own window, and the last one is what is printed.
func Measure(b *testing.B) {
	b.Helper()
	// Register first: the closure and the cleanup list entry are allocations the window
	// must not see.
	var w *Measurement
	b.Cleanup(func() {
		r := w.Stop(b.N)
		r.report(b)
	})
	w = Start()
}

func (r Result) report(b *testing.B) {
	b.ReportMetric(r.AllocsPerOp, UnitFracAllocs)
	b.ReportMetric(r.BytesPerOp, UnitFracBytes)
	b.ReportMetric(r.GCCyclesPerOp, UnitGCCycles)
	b.ReportMetric(r.STWNanosPerOp, UnitSTW)
	b.ReportMetric(r.STWPausesPerOp, UnitSTWPauses)
	b.ReportMetric(float64(r.PeakHeapBytes), UnitPeakHeap)
	b.ReportMetric(float64(r.RetainedHeapBytes), UnitRetainedHeap)
	if r.ResidentOK {
		b.ReportMetric(float64(r.ResidentGrowthBytes), UnitResidentGrowth)
	}
}
