package runtimediag

import (
	"math"
	"time"

	"github.com/memdiag/memdiag/procself"
)

// maxLastPauses bounds the exact pauses a report lists: enough to match a latency spike to a pause,
// few enough that a report stays small whatever the GC frequency.
const maxLastPauses = 16

// largeObjectBytes is the size above which the runtime gives each object a span of its own
// (_MaxSmallSize): allocations-by-size puts them all in its last bucket.
const largeObjectBytes = 32 << 10

func efficiency(w *window, rss *RSS) Efficiency {
	cur := &w.cur.Runtime
	var e Efficiency

	allocBytes := float64(w.du(func(m *RuntimeMetrics) uint64 { return m.HeapAllocsBytes }))
	allocObjects := float64(w.du(func(m *RuntimeMetrics) uint64 { return m.HeapAllocsObjects }))
	tiny := float64(w.du(func(m *RuntimeMetrics) uint64 { return m.HeapTinyAllocsObjects }))
	e.AllocBytesPerSecond = w.rate(allocBytes)
	e.AllocObjectsPerSecond = w.rate(allocObjects)
	e.MeanObjectBytes = ratio(allocBytes, allocObjects)
	// Tiny allocations are not in the objects counter (the runtime counts their 16-byte blocks).
	e.TinyAllocShare = ratio(tiny, tiny+allocObjects)
	e.AllocBytesBySize, e.LargeAllocShare = allocsBySize(w, allocBytes)

	cycles := float64(w.du(func(m *RuntimeMetrics) uint64 { return m.GCCyclesTotal }))
	e.GCCyclesPerSecond = w.rate(cycles)
	e.ForcedGCCyclesPerSecond = w.rate(float64(w.du(func(m *RuntimeMetrics) uint64 { return m.GCCyclesForced })))

	total := w.df(func(c *CPUClasses) float64 { return c.Total })
	assist := w.df(func(c *CPUClasses) float64 { return c.GCMarkAssist })
	dedicated := w.df(func(c *CPUClasses) float64 { return c.GCMarkDedicated })
	idleMark := w.df(func(c *CPUClasses) float64 { return c.GCMarkIdle })
	pause := w.df(func(c *CPUClasses) float64 { return c.GCPause })
	gcTotal := w.df(func(c *CPUClasses) float64 { return c.GCTotal })
	idle := w.df(func(c *CPUClasses) float64 { return c.Idle })
	e.GCCPUFraction = clamp01(ratio(gcTotal, total))
	e.GCAssistCPUFraction = clamp01(ratio(assist, total))
	e.GCDedicatedCPUFraction = clamp01(ratio(dedicated, total))
	e.GCIdleCPUFraction = clamp01(ratio(idleMark, total))
	e.GCPauseCPUFraction = clamp01(ratio(pause, total))
	e.UserCPUFraction = clamp01(ratio(w.df(func(c *CPUClasses) float64 { return c.User }), total))
	busy := max(total-idle-idleMark, 0)
	e.BusyCores = w.rate(busy)
	e.GCBusyCPUShare = clamp01(ratio(assist+dedicated+pause, busy))
	e.GCAssistBusyCPUShare = clamp01(ratio(assist, busy))

	e.HeapLiveBytes = cur.HeapLiveBytes
	e.HeapGoalBytes = cur.HeapGoalBytes
	if cycles > 0 {
		e.Churn = ratio(allocBytes/cycles, float64(cur.HeapLiveBytes))
	}
	e.HeapUnusedRatio = ratio(float64(cur.HeapUnusedBytes), float64(cur.HeapObjectsBytes))
	e.HeapFreeRatio = clamp01(ratio(float64(cur.HeapFreeBytes), float64(cur.GoHeapMappedBytes())))
	e.ScanHeapShare = ratio(float64(cur.ScanHeapBytes), float64(cur.HeapLiveBytes))

	if w.cur.Has(SourceRuntimeMetrics) || w.cur.Requested.Has(SourceRuntimeMetrics) {
		e.GOGC = cur.GOGC
		if cur.MemoryLimitSet() {
			lim := cur.GOMEMLIMITBytes
			e.GOMEMLIMITBytes = &lim
			head := lim - int64(min(governedBytes(cur), math.MaxInt64))
			e.GOMEMLIMITHeadroomBytes = &head
		}
	}
	if w.cur.Has(SourceCgroupMemory) {
		cg := &w.cur.CgroupMemory
		if cg.Present.Has(procself.CgroupHasUsage) {
			e.CgroupUsageBytes = cg.UsageBytes
		}
		if lim, ok := cgroupLimit(cg); ok {
			e.CgroupLimitBytes = &lim
			if cg.Present.Has(procself.CgroupHasUsage) {
				head := int64(min(lim, math.MaxInt64)) - int64(min(cg.UsageBytes, math.MaxInt64))
				e.CgroupHeadroomBytes = &head
			}
		}
		if ws, ok := cg.WorkingSetBytes(); ok {
			e.CgroupWorkingSetBytes = &ws
		}
	}
	e.ResidentBytes = residentBytes(w.cur, rss)

	e.Goroutines = cur.Goroutines
	e.Threads = cur.Threads
	e.GOMAXPROCS = cur.GOMAXPROCS
	e.StackBytes = cur.HeapStacksBytes + cur.OSStacksBytes
	e.FinalizerBacklog = sat(cur.FinalizersQueued, cur.FinalizersExecuted)
	e.CleanupBacklog = sat(cur.CleanupsQueued, cur.CleanupsExecuted)
	if w.cur.Has(SourceFDs) {
		e.OpenFDs = uint64(max(w.cur.FDs.Count, 0))
	}
	if w.cur.Has(SourceLimits) && !w.cur.Limits.OpenFiles.SoftUnlimited {
		e.OpenFDsLimit = w.cur.Limits.OpenFiles.Soft
	}

	e.PauseGC = summarize(w.hist(func(m *RuntimeMetrics) Histogram { return m.PausesTotalGC }))
	e.StoppingGC = summarize(w.hist(func(m *RuntimeMetrics) Histogram { return m.PausesStoppingGC }))
	e.PauseOther = summarize(w.hist(func(m *RuntimeMetrics) Histogram { return m.PausesTotalOther }))
	e.LastPauses = lastPauses(w)
	e.LimiterEngaged = limiterEngaged(w)
	return e
}

// governedBytes is the memory GOMEMLIMIT applies to: everything the runtime has mapped except heap
// returned to the OS.
func governedBytes(m *RuntimeMetrics) uint64 { return sat(m.TotalBytes, m.HeapReleasedBytes) }

// cgroupLimit is the strictest visible hard limit of the cgroup, if it has one.
func cgroupLimit(cg *procself.CgroupMemory) (uint64, bool) {
	switch {
	case cg.Present.Has(procself.CgroupHasEffectiveLimit) && !cg.EffectiveLimit.Unlimited && cg.EffectiveLimit.Bytes > 0:
		return cg.EffectiveLimit.Bytes, true
	case cg.Present.Has(procself.CgroupHasLimit) && !cg.Limit.Unlimited && cg.Limit.Bytes > 0:
		return cg.Limit.Bytes, true
	}
	return 0, false
}

// residentBytes is statm's resident set, or the attribution's when statm was not read.
func residentBytes(s *Snapshot, rss *RSS) uint64 {
	if s.Has(SourceStatm) && s.Statm.ResidentBytes > 0 {
		return s.Statm.ResidentBytes
	}
	return rss.ResidentBytes
}

// allocsBySize turns the window's allocations-by-size counts into bytes per second per size class.
func allocsBySize(w *window, allocBytes float64) ([]SizeBucket, float64) {
	h := w.hist(func(m *RuntimeMetrics) Histogram { return m.AllocsBySize })
	if !w.ok() || len(h.Counts) == 0 || allocBytes <= 0 {
		return []SizeBucket{}, 0
	}
	out := []SizeBucket{}
	var small float64
	for i, c := range h.Counts {
		hi := h.Buckets[i+1]
		if c == 0 || math.IsInf(hi, 1) || hi > largeObjectBytes+1 || math.IsNaN(hi) {
			continue
		}
		// Bucket [class_{i-1}+1, class_i+1) holds objects of size class class_i, and every object
		// takes its whole class.
		b := float64(c) * max(hi-1, 0)
		small += b
		class := max(hi-1, 0)
		out = append(out, SizeBucket{UpToBytes: &class, BytesPerSecond: w.rate(b), Share: clamp01(ratio(b, allocBytes))})
	}
	large := max(allocBytes-small, 0)
	if large > 0 {
		out = append(out, SizeBucket{BytesPerSecond: w.rate(large), Share: clamp01(ratio(large, allocBytes))})
	}
	return out, clamp01(ratio(large, allocBytes))
}

func summarize(h Histogram) PauseSummary {
	n := h.Total()
	if n == 0 {
		return PauseSummary{}
	}
	s := PauseSummary{Count: n}
	s.P50Lower, s.P50 = pauseBounds(h.QuantileRange(0.5))
	s.P99Lower, s.P99 = pauseBounds(h.QuantileRange(0.99))
	s.MaxLower, s.Max = pauseBounds(h.MaxRange())
	return s
}

// pauseBounds are a bucket [lo, hi)'s bounds as PauseSummary keeps them: finite, the lower at
// least 0, the upper the lower when the bucket has none.
func pauseBounds(lo, hi float64) (lower, upper float64) {
	return max(finite(lo), 0), finite(bucketValue(lo, hi))
}

// lastPauses lists the exact pauses that ended inside the window, newest first.
func lastPauses(w *window) []GCPause {
	out := []GCPause{}
	if !w.cur.Has(SourceGCPauses) {
		return out
	}
	for _, p := range w.cur.GCPauses.Recent {
		if len(out) == maxLastPauses {
			break
		}
		if w.ok() && p.End.After(w.end.Time) {
			continue // after the window's end: the report's snapshot is newer than the window
		}
		if w.ok() && !p.End.After(w.prev.Time) {
			break // newest first: the rest are older still
		}
		out = append(out, GCPause{End: p.End, Duration: max(p.Duration, time.Duration(0))})
	}
	return out
}

// limiterEngaged reports whether the GC CPU limiter was engaged in a cycle of the window: the
// runtime records the last cycle it was enabled in.
func limiterEngaged(w *window) bool {
	if w.ok() {
		last := w.end.Runtime.LimiterLastEnabled
		return last != 0 && last > w.prev.Runtime.LimiterLastEnabled
	}
	last := w.cur.Runtime.LimiterLastEnabled
	if last == 0 {
		return false
	}
	// No window: engaged in the current or the last completed cycle.
	return last+1 >= w.cur.Runtime.GCCyclesTotal
}

func clamp01(v float64) float64 { return min(max(finite(v), 0), 1) }

// sat is a - b, or 0 when b > a.
func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
