package runtimediag

import (
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
)

// RuntimeMetrics is what the Go runtime says about its own memory, GC and scheduler, read with
// runtime/metrics (which never stops the world). Cumulative counters count since the process
// started; rates come from the difference between two snapshots.
type RuntimeMetrics struct {
	// Memory classes: together they are all memory the runtime has mapped (TotalBytes), and every
	// byte is in exactly one of them.

	HeapObjectsBytes      uint64 // live and not-yet-swept objects (/memory/classes/heap/objects)
	HeapUnusedBytes       uint64 // reserved for objects in in-use spans but holding none: fragmentation
	HeapFreeBytes         uint64 // free spans, still backed by memory, not returned to the OS
	HeapReleasedBytes     uint64 // free spans returned to the OS (mapped, not resident)
	HeapStacksBytes       uint64 // goroutine stacks, allocated from the heap
	OSStacksBytes         uint64 // stacks of OS threads the runtime allocates (g0, signal stacks; not pthread stacks under cgo)
	MSpanInuseBytes       uint64 // span metadata in use
	MSpanFreeBytes        uint64 // span metadata reserved but unused
	MCacheInuseBytes      uint64 // per-P cache metadata in use
	MCacheFreeBytes       uint64 // per-P cache metadata reserved but unused
	MetadataOtherBytes    uint64 // other runtime metadata (GC bitmaps, arena index, …)
	ProfilingBucketsBytes uint64 // stack-trace hash map of the profilers
	OtherBytes            uint64 // trace buffers, debugging, finalizer and cleanup tables, …
	TotalBytes            uint64 // all memory mapped by the runtime: the sum of the classes above

	// Heap allocation counters, cumulative.

	HeapAllocsBytes       uint64 // bytes allocated on the heap (tiny allocations included)
	HeapAllocsObjects     uint64 // objects allocated on the heap (tiny allocations counted in blocks, not objects)
	HeapTinyAllocsObjects uint64 // objects packed by the tiny allocator (< 16 B, pointer-free), not in HeapAllocsObjects
	HeapFreesBytes        uint64 // bytes freed by the GC
	HeapFreesObjects      uint64 // objects freed by the GC
	AllocsBySize          Histogram
	FreesBySize           Histogram

	// Heap state.

	HeapObjects       uint64 // live and unswept objects
	HeapLiveBytes     uint64 // heap marked live by the last GC cycle
	HeapGoalBytes     uint64 // heap size at which the next GC cycle ends
	ScanHeapBytes     uint64 // scannable (pointer-bearing) heap at the last GC
	ScanStackBytes    uint64 // stack bytes scanned at the last GC
	ScanGlobalsBytes  uint64 // globals scanned at the last GC
	ScanTotalBytes    uint64 // all of the above
	StackStartingSize uint64 // bytes of stack a new goroutine starts with

	// GC configuration and activity.

	GCCyclesTotal     uint64 // completed GC cycles
	GCCyclesForced    uint64 // cycles forced by runtime.GC or debug.FreeOSMemory
	GCCyclesAutomatic uint64 // cycles the runtime started itself
	GOGC              int64  // GOGC percent; -1 when the GC is off
	GOMEMLIMITBytes   int64  // the soft memory limit; math.MaxInt64 means none
	// LimiterLastEnabled is the GC cycle in which the GC CPU limiter (which caps GC at 50% of CPU
	// when the memory limit is reached) was last engaged; 0 if never.
	LimiterLastEnabled uint64

	FinalizersQueued   uint64 // finalizers queued, cumulative
	FinalizersExecuted uint64 // finalizers run, cumulative
	CleanupsQueued     uint64 // runtime.AddCleanup functions queued, cumulative
	CleanupsExecuted   uint64 // cleanups run, cumulative

	// CPU time estimates in seconds, cumulative, from the runtime's own accounting (not the OS's).
	CPU CPUClasses

	// Scheduler.

	Goroutines          uint64 // live goroutines
	GoroutinesRunnable  uint64
	GoroutinesRunning   uint64
	GoroutinesWaiting   uint64
	GoroutinesNotInGo   uint64 // in a system call or cgo call
	GoroutinesCreated   uint64 // cumulative
	GOMAXPROCS          uint64
	Threads             uint64 // OS threads the runtime knows of
	CgoCalls            uint64 // cumulative calls from Go to C
	MutexWaitSeconds    float64
	PausesTotalGC       Histogram // stop-the-world pauses for the GC, stop to restart, seconds
	PausesTotalOther    Histogram // other stop-the-world pauses (ReadMemStats, goroutine profiles, …)
	PausesStoppingGC    Histogram // time to stop the world for the GC (reaching preemption points)
	PausesStoppingOther Histogram // time to stop the world for everything else
	SchedLatencies      Histogram // time goroutines spent runnable before running

	// unread marks, one bit per metric index, the metrics the last read did not provide (this Go
	// version lacks them): their fields are zero, and a figure built on one must be absent, not
	// 0. The zero value means every metric was read, as for a snapshot recorded before the bits
	// existed.
	unread [(numRuntimeMetrics + 63) / 64]uint64
}

// metricRead reports whether the metric of index i was provided by the last read.
func (m *RuntimeMetrics) metricRead(i int) bool { return m.unread[i/64]&(1<<(i%64)) == 0 }

// CPUClasses is the runtime's estimate of CPU seconds by activity, cumulative. Total is
// GOMAXPROCS × wall time; User + GCTotal + ScavengeTotal + Idle = Total.
type CPUClasses struct {
	GCMarkAssist       float64 // goroutines helping the GC because they allocate fast
	GCMarkDedicated    float64 // dedicated GC workers
	GCMarkIdle         float64 // GC work done on otherwise idle Ps
	GCPause            float64 // stop-the-world pauses × GOMAXPROCS
	GCTotal            float64
	ScavengeAssist     float64 // returning memory to the OS on the allocation path
	ScavengeBackground float64
	ScavengeTotal      float64
	Idle               float64
	User               float64
	Total              float64
}

// metric names, indexed by the constants below. The order is the order of the sample slice.
var runtimeMetricNames = [...]string{
	mHeapObjects: "/memory/classes/heap/objects:bytes", mHeapUnused: "/memory/classes/heap/unused:bytes",
	mHeapFree: "/memory/classes/heap/free:bytes", mHeapReleased: "/memory/classes/heap/released:bytes",
	mHeapStacks: "/memory/classes/heap/stacks:bytes", mOSStacks: "/memory/classes/os-stacks:bytes",
	mMSpanInuse: "/memory/classes/metadata/mspan/inuse:bytes", mMSpanFree: "/memory/classes/metadata/mspan/free:bytes",
	mMCacheInuse: "/memory/classes/metadata/mcache/inuse:bytes", mMCacheFree: "/memory/classes/metadata/mcache/free:bytes",
	mMetaOther: "/memory/classes/metadata/other:bytes", mProfBuckets: "/memory/classes/profiling/buckets:bytes",
	mOther: "/memory/classes/other:bytes", mTotal: "/memory/classes/total:bytes",
	mAllocsBytes: "/gc/heap/allocs:bytes", mAllocsObjects: "/gc/heap/allocs:objects",
	mTinyAllocs: "/gc/heap/tiny/allocs:objects", mFreesBytes: "/gc/heap/frees:bytes",
	mFreesObjects: "/gc/heap/frees:objects", mAllocsBySize: "/gc/heap/allocs-by-size:bytes",
	mFreesBySize: "/gc/heap/frees-by-size:bytes", mHeapObjectsCount: "/gc/heap/objects:objects",
	mHeapLive: "/gc/heap/live:bytes", mHeapGoal: "/gc/heap/goal:bytes", mScanHeap: "/gc/scan/heap:bytes",
	mScanStack: "/gc/scan/stack:bytes", mScanGlobals: "/gc/scan/globals:bytes", mScanTotal: "/gc/scan/total:bytes",
	mStackStart: "/gc/stack/starting-size:bytes", mCyclesTotal: "/gc/cycles/total:gc-cycles",
	mCyclesForced: "/gc/cycles/forced:gc-cycles", mCyclesAuto: "/gc/cycles/automatic:gc-cycles",
	mGOGC: "/gc/gogc:percent", mGOMEMLIMIT: "/gc/gomemlimit:bytes", mLimiter: "/gc/limiter/last-enabled:gc-cycle",
	mFinQueued: "/gc/finalizers/queued:finalizers", mFinExec: "/gc/finalizers/executed:finalizers",
	mCleanQueued: "/gc/cleanups/queued:cleanups", mCleanExec: "/gc/cleanups/executed:cleanups",
	mCPUAssist: "/cpu/classes/gc/mark/assist:cpu-seconds", mCPUDedicated: "/cpu/classes/gc/mark/dedicated:cpu-seconds",
	mCPUIdleMark: "/cpu/classes/gc/mark/idle:cpu-seconds", mCPUPause: "/cpu/classes/gc/pause:cpu-seconds",
	mCPUGCTotal: "/cpu/classes/gc/total:cpu-seconds", mCPUScavAssist: "/cpu/classes/scavenge/assist:cpu-seconds",
	mCPUScavBg: "/cpu/classes/scavenge/background:cpu-seconds", mCPUScavTotal: "/cpu/classes/scavenge/total:cpu-seconds",
	mCPUIdle: "/cpu/classes/idle:cpu-seconds", mCPUUser: "/cpu/classes/user:cpu-seconds", mCPUTotal: "/cpu/classes/total:cpu-seconds",
	mGoroutines: "/sched/goroutines:goroutines", mGRunnable: "/sched/goroutines/runnable:goroutines",
	mGRunning: "/sched/goroutines/running:goroutines", mGWaiting: "/sched/goroutines/waiting:goroutines",
	mGNotInGo: "/sched/goroutines/not-in-go:goroutines", mGCreated: "/sched/goroutines-created:goroutines",
	mGOMAXPROCS: "/sched/gomaxprocs:threads", mThreads: "/sched/threads/total:threads", mCgoCalls: "/cgo/go-to-c-calls:calls",
	mMutexWait: "/sync/mutex/wait/total:seconds", mPausesTotalGC: "/sched/pauses/total/gc:seconds",
	mPausesTotalOther: "/sched/pauses/total/other:seconds", mPausesStoppingGC: "/sched/pauses/stopping/gc:seconds",
	mPausesStoppingOther: "/sched/pauses/stopping/other:seconds", mSchedLatencies: "/sched/latencies:seconds",
}

const (
	mHeapObjects = iota
	mHeapUnused
	mHeapFree
	mHeapReleased
	mHeapStacks
	mOSStacks
	mMSpanInuse
	mMSpanFree
	mMCacheInuse
	mMCacheFree
	mMetaOther
	mProfBuckets
	mOther
	mTotal
	mAllocsBytes
	mAllocsObjects
	mTinyAllocs
	mFreesBytes
	mFreesObjects
	mAllocsBySize
	mFreesBySize
	mHeapObjectsCount
	mHeapLive
	mHeapGoal
	mScanHeap
	mScanStack
	mScanGlobals
	mScanTotal
	mStackStart
	mCyclesTotal
	mCyclesForced
	mCyclesAuto
	mGOGC
	mGOMEMLIMIT
	mLimiter
	mFinQueued
	mFinExec
	mCleanQueued
	mCleanExec
	mCPUAssist
	mCPUDedicated
	mCPUIdleMark
	mCPUPause
	mCPUGCTotal
	mCPUScavAssist
	mCPUScavBg
	mCPUScavTotal
	mCPUIdle
	mCPUUser
	mCPUTotal
	mGoroutines
	mGRunnable
	mGRunning
	mGWaiting
	mGNotInGo
	mGCreated
	mGOMAXPROCS
	mThreads
	mCgoCalls
	mMutexWait
	mPausesTotalGC
	mPausesTotalOther
	mPausesStoppingGC
	mPausesStoppingOther
	mSchedLatencies
	numRuntimeMetrics
)

// unsupportedRuntimeMetrics names the metrics this Go version does not provide; computed once
// because the set is fixed for the life of the binary. Copying metrics.All first: it returns the
// runtime's own slice.
func unsupportedRuntimeMetrics() error {
	all := slices.Clone(metrics.All())
	known := make(map[string]bool, len(all))
	for _, d := range all {
		known[d.Name] = true
	}
	var missing []string
	for _, n := range runtimeMetricNames {
		if !known[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("runtime/metrics: not provided by this Go version: %s", strings.Join(missing, ", "))
}

// newRuntimeSamples is the sample slice a snapshot reads into; each snapshot owns one so that its
// histograms stay valid while a newer snapshot is read into another.
func newRuntimeSamples() []metrics.Sample {
	s := make([]metrics.Sample, numRuntimeMetrics)
	for i := range s {
		s[i].Name = runtimeMetricNames[i]
	}
	return s
}

// decodeRuntimeMetrics fills m from samples read by metrics.Read. A metric this Go version lacks
// reads as KindBad and leaves its field zero; the collector reports those once, by name.
func decodeRuntimeMetrics(s []metrics.Sample, m *RuntimeMetrics) {
	m.unread = [len(m.unread)]uint64{}
	for i := range s {
		if s[i].Value.Kind() == metrics.KindBad {
			m.unread[i/64] |= 1 << (i % 64)
		}
	}
	u := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	f := func(i int) float64 {
		if s[i].Value.Kind() != metrics.KindFloat64 {
			return 0
		}
		return s[i].Value.Float64()
	}
	h := func(i int, dst *Histogram) {
		if s[i].Value.Kind() != metrics.KindFloat64Histogram {
			*dst = Histogram{}
			return
		}
		dst.fromRuntime(s[i].Value.Float64Histogram())
	}
	m.HeapObjectsBytes = u(mHeapObjects)
	m.HeapUnusedBytes = u(mHeapUnused)
	m.HeapFreeBytes = u(mHeapFree)
	m.HeapReleasedBytes = u(mHeapReleased)
	m.HeapStacksBytes = u(mHeapStacks)
	m.OSStacksBytes = u(mOSStacks)
	m.MSpanInuseBytes = u(mMSpanInuse)
	m.MSpanFreeBytes = u(mMSpanFree)
	m.MCacheInuseBytes = u(mMCacheInuse)
	m.MCacheFreeBytes = u(mMCacheFree)
	m.MetadataOtherBytes = u(mMetaOther)
	m.ProfilingBucketsBytes = u(mProfBuckets)
	m.OtherBytes = u(mOther)
	m.TotalBytes = u(mTotal)
	m.HeapAllocsBytes = u(mAllocsBytes)
	m.HeapAllocsObjects = u(mAllocsObjects)
	m.HeapTinyAllocsObjects = u(mTinyAllocs)
	m.HeapFreesBytes = u(mFreesBytes)
	m.HeapFreesObjects = u(mFreesObjects)
	h(mAllocsBySize, &m.AllocsBySize)
	h(mFreesBySize, &m.FreesBySize)
	m.HeapObjects = u(mHeapObjectsCount)
	m.HeapLiveBytes = u(mHeapLive)
	m.HeapGoalBytes = u(mHeapGoal)
	m.ScanHeapBytes = u(mScanHeap)
	m.ScanStackBytes = u(mScanStack)
	m.ScanGlobalsBytes = u(mScanGlobals)
	m.ScanTotalBytes = u(mScanTotal)
	m.StackStartingSize = u(mStackStart)
	m.GCCyclesTotal = u(mCyclesTotal)
	m.GCCyclesForced = u(mCyclesForced)
	m.GCCyclesAutomatic = u(mCyclesAuto)
	// The runtime stores GOGC and the memory limit as int64 and exports them as uint64 bit patterns.
	m.GOGC = int64(u(mGOGC))
	m.GOMEMLIMITBytes = int64(u(mGOMEMLIMIT))
	if s[mGOMEMLIMIT].Value.Kind() != metrics.KindUint64 {
		m.GOMEMLIMITBytes = math.MaxInt64
	}
	m.LimiterLastEnabled = u(mLimiter)
	m.FinalizersQueued = u(mFinQueued)
	m.FinalizersExecuted = u(mFinExec)
	m.CleanupsQueued = u(mCleanQueued)
	m.CleanupsExecuted = u(mCleanExec)
	m.CPU = CPUClasses{
		GCMarkAssist: f(mCPUAssist), GCMarkDedicated: f(mCPUDedicated), GCMarkIdle: f(mCPUIdleMark),
		GCPause: f(mCPUPause), GCTotal: f(mCPUGCTotal), ScavengeAssist: f(mCPUScavAssist),
		ScavengeBackground: f(mCPUScavBg), ScavengeTotal: f(mCPUScavTotal), Idle: f(mCPUIdle),
		User: f(mCPUUser), Total: f(mCPUTotal),
	}
	m.Goroutines = u(mGoroutines)
	m.GoroutinesRunnable = u(mGRunnable)
	m.GoroutinesRunning = u(mGRunning)
	m.GoroutinesWaiting = u(mGWaiting)
	m.GoroutinesNotInGo = u(mGNotInGo)
	m.GoroutinesCreated = u(mGCreated)
	m.GOMAXPROCS = u(mGOMAXPROCS)
	m.Threads = u(mThreads)
	m.CgoCalls = u(mCgoCalls)
	m.MutexWaitSeconds = f(mMutexWait)
	h(mPausesTotalGC, &m.PausesTotalGC)
	h(mPausesTotalOther, &m.PausesTotalOther)
	h(mPausesStoppingGC, &m.PausesStoppingGC)
	h(mPausesStoppingOther, &m.PausesStoppingOther)
	h(mSchedLatencies, &m.SchedLatencies)
}

// GoHeapMappedBytes is the heap the runtime has address space for and has not released:
// objects + unused + free + goroutine stacks. It is an upper bound on the Go heap's resident bytes.
func (m *RuntimeMetrics) GoHeapMappedBytes() uint64 {
	return m.HeapObjectsBytes + m.HeapUnusedBytes + m.HeapFreeBytes + m.HeapStacksBytes
}

// GoRuntimeBytes is the runtime's off-heap memory: metadata, OS stacks, profiling buckets, other.
func (m *RuntimeMetrics) GoRuntimeBytes() uint64 {
	return m.MSpanInuseBytes + m.MSpanFreeBytes + m.MCacheInuseBytes + m.MCacheFreeBytes +
		m.MetadataOtherBytes + m.OSStacksBytes + m.ProfilingBucketsBytes + m.OtherBytes
}

// MemoryLimitSet reports whether a GOMEMLIMIT (or debug.SetMemoryLimit) is in effect.
func (m *RuntimeMetrics) MemoryLimitSet() bool { return m.GOMEMLIMITBytes != math.MaxInt64 }
