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

// runtimeMetricTable is every runtime/metrics key the collector reads, indexed by the constants
// below (the order of the sample slice), with the field of RuntimeMetrics it is decoded into.
var runtimeMetricTable = [numRuntimeMetrics]runtimeMetric{
	mHeapObjects:         {"/memory/classes/heap/objects:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapObjectsBytes })},
	mHeapUnused:          {"/memory/classes/heap/unused:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapUnusedBytes })},
	mHeapFree:            {"/memory/classes/heap/free:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapFreeBytes })},
	mHeapReleased:        {"/memory/classes/heap/released:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapReleasedBytes })},
	mHeapStacks:          {"/memory/classes/heap/stacks:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapStacksBytes })},
	mOSStacks:            {"/memory/classes/os-stacks:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.OSStacksBytes })},
	mMSpanInuse:          {"/memory/classes/metadata/mspan/inuse:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.MSpanInuseBytes })},
	mMSpanFree:           {"/memory/classes/metadata/mspan/free:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.MSpanFreeBytes })},
	mMCacheInuse:         {"/memory/classes/metadata/mcache/inuse:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.MCacheInuseBytes })},
	mMCacheFree:          {"/memory/classes/metadata/mcache/free:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.MCacheFreeBytes })},
	mMetaOther:           {"/memory/classes/metadata/other:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.MetadataOtherBytes })},
	mProfBuckets:         {"/memory/classes/profiling/buckets:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.ProfilingBucketsBytes })},
	mOther:               {"/memory/classes/other:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.OtherBytes })},
	mTotal:               {"/memory/classes/total:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.TotalBytes })},
	mAllocsBytes:         {"/gc/heap/allocs:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapAllocsBytes })},
	mAllocsObjects:       {"/gc/heap/allocs:objects", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapAllocsObjects })},
	mTinyAllocs:          {"/gc/heap/tiny/allocs:objects", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapTinyAllocsObjects })},
	mFreesBytes:          {"/gc/heap/frees:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapFreesBytes })},
	mFreesObjects:        {"/gc/heap/frees:objects", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapFreesObjects })},
	mAllocsBySize:        {"/gc/heap/allocs-by-size:bytes", hist(func(m *RuntimeMetrics) *Histogram { return &m.AllocsBySize })},
	mFreesBySize:         {"/gc/heap/frees-by-size:bytes", hist(func(m *RuntimeMetrics) *Histogram { return &m.FreesBySize })},
	mHeapObjectsCount:    {"/gc/heap/objects:objects", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapObjects })},
	mHeapLive:            {"/gc/heap/live:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapLiveBytes })},
	mHeapGoal:            {"/gc/heap/goal:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.HeapGoalBytes })},
	mScanHeap:            {"/gc/scan/heap:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.ScanHeapBytes })},
	mScanStack:           {"/gc/scan/stack:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.ScanStackBytes })},
	mScanGlobals:         {"/gc/scan/globals:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.ScanGlobalsBytes })},
	mScanTotal:           {"/gc/scan/total:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.ScanTotalBytes })},
	mStackStart:          {"/gc/stack/starting-size:bytes", u64(func(m *RuntimeMetrics) *uint64 { return &m.StackStartingSize })},
	mCyclesTotal:         {"/gc/cycles/total:gc-cycles", u64(func(m *RuntimeMetrics) *uint64 { return &m.GCCyclesTotal })},
	mCyclesForced:        {"/gc/cycles/forced:gc-cycles", u64(func(m *RuntimeMetrics) *uint64 { return &m.GCCyclesForced })},
	mCyclesAuto:          {"/gc/cycles/automatic:gc-cycles", u64(func(m *RuntimeMetrics) *uint64 { return &m.GCCyclesAutomatic })},
	mGOGC:                {"/gc/gogc:percent", i64(func(m *RuntimeMetrics) *int64 { return &m.GOGC })},
	mGOMEMLIMIT:          {"/gc/gomemlimit:bytes", i64(func(m *RuntimeMetrics) *int64 { return &m.GOMEMLIMITBytes })},
	mLimiter:             {"/gc/limiter/last-enabled:gc-cycle", u64(func(m *RuntimeMetrics) *uint64 { return &m.LimiterLastEnabled })},
	mFinQueued:           {"/gc/finalizers/queued:finalizers", u64(func(m *RuntimeMetrics) *uint64 { return &m.FinalizersQueued })},
	mFinExec:             {"/gc/finalizers/executed:finalizers", u64(func(m *RuntimeMetrics) *uint64 { return &m.FinalizersExecuted })},
	mCleanQueued:         {"/gc/cleanups/queued:cleanups", u64(func(m *RuntimeMetrics) *uint64 { return &m.CleanupsQueued })},
	mCleanExec:           {"/gc/cleanups/executed:cleanups", u64(func(m *RuntimeMetrics) *uint64 { return &m.CleanupsExecuted })},
	mCPUAssist:           {"/cpu/classes/gc/mark/assist:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.GCMarkAssist })},
	mCPUDedicated:        {"/cpu/classes/gc/mark/dedicated:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.GCMarkDedicated })},
	mCPUIdleMark:         {"/cpu/classes/gc/mark/idle:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.GCMarkIdle })},
	mCPUPause:            {"/cpu/classes/gc/pause:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.GCPause })},
	mCPUGCTotal:          {"/cpu/classes/gc/total:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.GCTotal })},
	mCPUScavAssist:       {"/cpu/classes/scavenge/assist:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.ScavengeAssist })},
	mCPUScavBg:           {"/cpu/classes/scavenge/background:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.ScavengeBackground })},
	mCPUScavTotal:        {"/cpu/classes/scavenge/total:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.ScavengeTotal })},
	mCPUIdle:             {"/cpu/classes/idle:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.Idle })},
	mCPUUser:             {"/cpu/classes/user:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.User })},
	mCPUTotal:            {"/cpu/classes/total:cpu-seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.CPU.Total })},
	mGoroutines:          {"/sched/goroutines:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.Goroutines })},
	mGRunnable:           {"/sched/goroutines/runnable:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.GoroutinesRunnable })},
	mGRunning:            {"/sched/goroutines/running:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.GoroutinesRunning })},
	mGWaiting:            {"/sched/goroutines/waiting:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.GoroutinesWaiting })},
	mGNotInGo:            {"/sched/goroutines/not-in-go:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.GoroutinesNotInGo })},
	mGCreated:            {"/sched/goroutines-created:goroutines", u64(func(m *RuntimeMetrics) *uint64 { return &m.GoroutinesCreated })},
	mGOMAXPROCS:          {"/sched/gomaxprocs:threads", u64(func(m *RuntimeMetrics) *uint64 { return &m.GOMAXPROCS })},
	mThreads:             {"/sched/threads/total:threads", u64(func(m *RuntimeMetrics) *uint64 { return &m.Threads })},
	mCgoCalls:            {"/cgo/go-to-c-calls:calls", u64(func(m *RuntimeMetrics) *uint64 { return &m.CgoCalls })},
	mMutexWait:           {"/sync/mutex/wait/total:seconds", f64(func(m *RuntimeMetrics) *float64 { return &m.MutexWaitSeconds })},
	mPausesTotalGC:       {"/sched/pauses/total/gc:seconds", hist(func(m *RuntimeMetrics) *Histogram { return &m.PausesTotalGC })},
	mPausesTotalOther:    {"/sched/pauses/total/other:seconds", hist(func(m *RuntimeMetrics) *Histogram { return &m.PausesTotalOther })},
	mPausesStoppingGC:    {"/sched/pauses/stopping/gc:seconds", hist(func(m *RuntimeMetrics) *Histogram { return &m.PausesStoppingGC })},
	mPausesStoppingOther: {"/sched/pauses/stopping/other:seconds", hist(func(m *RuntimeMetrics) *Histogram { return &m.PausesStoppingOther })},
	mSchedLatencies:      {"/sched/latencies:seconds", hist(func(m *RuntimeMetrics) *Histogram { return &m.SchedLatencies })},
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
	for _, row := range runtimeMetricTable {
		if !known[row.name] {
			missing = append(missing, row.name)
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
		s[i].Name = runtimeMetricTable[i].name
	}
	return s
}

// decodeRuntimeMetrics fills m from samples read by metrics.Read. A metric this Go version lacks
// reads as KindBad and leaves its field zero; the collector reports those once, by name.
func decodeRuntimeMetrics(s []metrics.Sample, m *RuntimeMetrics) {
	m.unread = [len(m.unread)]uint64{}
	for i := range s {
		v := s[i].Value
		if v.Kind() == metrics.KindBad {
			m.unread[i/64] |= 1 << (i % 64)
		}
		runtimeMetricTable[i].decode(v, m)
	}
	// An absent memory limit is no limit, not a limit of 0.
	if s[mGOMEMLIMIT].Value.Kind() != metrics.KindUint64 {
		m.GOMEMLIMITBytes = math.MaxInt64
	}
}

// runtimeMetric is one row of runtimeMetricTable: a metric's name and how its value is decoded.
// A value of another kind than the field's (a metric this Go version lacks) leaves the field zero.
type runtimeMetric struct {
	name string
	metricField
}

// metricField decodes a value into one field of RuntimeMetrics.
type metricField struct {
	decode func(v metrics.Value, m *RuntimeMetrics)
	// field returns the field the metric is decoded into, for the test that every metric has one
	// of its own.
	field func(m *RuntimeMetrics) any
}

func u64(field func(*RuntimeMetrics) *uint64) metricField {
	return metricField{func(v metrics.Value, m *RuntimeMetrics) {
		*field(m) = 0
		if v.Kind() == metrics.KindUint64 {
			*field(m) = v.Uint64()
		}
	}, func(m *RuntimeMetrics) any {
		return field(m)
	}}
}

// i64 decodes the runtime's int64 settings (GOGC, the memory limit), which it exports as uint64
// bit patterns.
func i64(field func(*RuntimeMetrics) *int64) metricField {
	return metricField{func(v metrics.Value, m *RuntimeMetrics) {
		*field(m) = 0
		if v.Kind() == metrics.KindUint64 {
			*field(m) = int64(v.Uint64())
		}
	}, func(m *RuntimeMetrics) any {
		return field(m)
	}}
}

func f64(field func(*RuntimeMetrics) *float64) metricField {
	return metricField{func(v metrics.Value, m *RuntimeMetrics) {
		*field(m) = 0
		if v.Kind() == metrics.KindFloat64 {
			*field(m) = v.Float64()
		}
	}, func(m *RuntimeMetrics) any {
		return field(m)
	}}
}

func hist(field func(*RuntimeMetrics) *Histogram) metricField {
	return metricField{func(v metrics.Value, m *RuntimeMetrics) {
		if v.Kind() != metrics.KindFloat64Histogram {
			*field(m) = Histogram{}
			return
		}
		field(m).fromRuntime(v.Float64Histogram())
	}, func(m *RuntimeMetrics) any {
		return field(m)
	}}
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
